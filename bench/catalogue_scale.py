"""Catalogue scale: what an index of feature-length titles costs at 1, 10, 100 and 1,000
catalogue hours, projected to 10,000 and 100,000; and what `fp index` adds per hour of real long
titles.

    python -m bench.catalogue_scale [--hours 1 10 100 1000] [--workdir DIR] [--skip-real-titles]
    (or `make bench-catalogue`)

**Synthetic stores.** Titles of 45-120 minutes (uniform, seeded; the first is 60 minutes) are
written one by one through the real write path (`IndexStore.put_title`, then `close`, which saves
the k-NN files as `fp index` does at the end of a run), growing one store through each size.
Every modality and dimension comes from fingerprints made with the current `Config()`: the
modalities are those of the planted clip's fingerprint, and each is modelled on the tracks of
the real clips of ../shared/media/video that are neither planted, nor suspects, nor the second
file of a natural copy pair (`TrackModel`): a Gaussian with their per-sample mean and covariance,
drawn in its principal components. A synthetic title is a run of shots of
`SYNTHETIC_SHOT_SECONDS` (as many per hour as in real footage); each shot is one draw, and its
samples scatter around it by `TrackModel.jitter`, set so that their median similarity is that of
consecutive real samples; vectors are L2-normalised, and shots and shot vectors come from fp's own
`segment_shots`/`build_shots`. The run prints a held-out check: a model fitted on half of those
clips against the real samples of the other half, beside real against real (measured with
efficientnet_lite0: alike at the median and 90th percentile, lighter in the far tail, so false
matches among synthetic titles are, if anything, rarer than among real ones).

**Planted copy.** Into the first title, from minute `PLANT_MINUTE`, goes the real fingerprint of
`PLANTED_CLIPS` spliced (picture and sound); the copy suspect is one minute of that splice,
edited (`COPY_EDITS`); the clean suspect is one minute of real footage found nowhere in the
catalogue (`CLEAN_CLIPS`). A copy is found when the only `match` is the planted title at the
planted offset (within `OFFSET_TOLERANCE`); a clean suspect when nothing is decided.

**Measured per size:** bytes per catalogue hour of every file of the index folder by part
(tracks, DuckDB, k-NN files, other), `put_title` seconds per hour of title (over the titles
written since the previous size), and, in a fresh process (models loaded and the code warmed on
a one-title index first, the index's files dropped from the page cache): the index's open time,
disk reads and RSS growth; per suspect the match time (not counting fingerprinting the suspect),
disk reads and peak RSS of the process during the match (models included).

**Compressed twins:** past `Config.exact_index_max_vectors` shot vectors per modality (about
1,000 catalogue hours) `fp index` turns the k-NN files compressed (`Config.compressed_index`).
At the two largest sizes the bench therefore also measures a copy of the store whose k-NN files
were rebuilt compressed by the real write path (`IndexStore.save_vectors` with that limit at 0):
the same figures, the same suspects.

**Projection:** each figure continues along the slope between the two largest sizes (one that
did not grow stays flat), measured with the structure the projected size would have: the
compressed twins past the switch, the stores themselves below it.

**Real titles:** `REAL_TITLES` titles of about 27 minutes, each every clip of
../shared/media/video `REAL_TITLE_PASSES` times in seeded orders (picture and sound), go through
the real `fp index` (a subprocess) into an empty index one at a time. The marginal size per
catalogue hour is the growth of every file of the index folder from the second title on:
DuckDB's file grows by whole 256 KB blocks and settles once a second run has written to it.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from fp.config import Config
from fp.data import probe
from fp.data.edits import Clip, pirate, splice
from fp.data.probe import MediaInfo
from fp.fingerprint.extract import Fingerprinter
from fp.fingerprint.shots import build_shots, segment_shots
from fp.fingerprint.types import FeatureTrack, VideoFingerprint
from fp.index.store import IndexStore

MEDIA = Path(__file__).resolve().parents[1].parent / "shared" / "media" / "video"
PLANTED_CLIPS = ("mejs_echo-hereweare.webm", "videollava_demo22_drums.mp4", "psd_tv_documentary.mp4")
"""Real footage with picture and sound (106 s), spliced into the clip planted in the catalogue."""
COPY_CLIP = (20.0, 60.0)
"""(start, duration) of the copy suspect inside the planted splice: one minute across its cuts."""
COPY_EDITS = ["crop10", "logo"]
CLEAN_CLIPS = ("videollama_skateboarding_dog.mp4", "decord_flipping_a_pancake.mkv", "moviepy_chaplin.mp4",
               "facerec_hamilton_clip.mp4", "videollama_applausing.mp4", "videollama_ironman.mp4")
"""Real footage with picture and sound throughout, found nowhere in the catalogue: the clean
suspect is its first `SUSPECT_SECONDS`."""
SUSPECT_SECONDS = 60.0
NATURAL_COPIES = ("moviepy_big_buck_bunny_0_30.webm", "psd_goldeneye_vfr_drop3.mp4", "dvrscan_traffic_camera_vfr.mp4")
"""The second file of each natural copy pair of ../shared/media (its README): not modelled."""
PLANT_MINUTE = 40.0
PLANTED_TITLE_MINUTES = 60.0
TITLE_MINUTES = (45.0, 120.0)
SIZE_SLACK_SECONDS = 1.0
"""A store has reached a size when it holds all but this many seconds of it."""
SYNTHETIC_SHOT_SECONDS = (1.5, 6.0)
"""Uniform shot lengths of synthetic titles: mean 3.75 s, about 950 shots per hour, as fp finds in
real footage (940 in the modelled clips, 973 in the real titles below)."""
EIGEN_FLOOR = 1e-9
"""Principal components with less variance than this share of the largest are dropped."""
OFFSET_TOLERANCE = 1.0
"""Seconds a found copy's reference offset may be off (two samples)."""
REALISM_QUANTILES = (0.5, 0.9, 0.99, 0.999)
REALISM_SAMPLES = 4000
"""Synthetic samples drawn for the held-out check."""
REAL_TITLES = 3
REAL_TITLE_PASSES = 2
"""A real title plays every clip of MEDIA this many times, each pass in its own seeded order."""
PROJECT_TO = (10_000, 100_000)
DONE_WHEN = {"MB per catalogue hour": 3.0, "one-minute suspect reads MB": 50.0, "match s": 5.0,
             "peak RSS MB": 4096.0, "open s": 5.0, "write s per hour growth": 1.5}
"""Issue 16's limits: at every size measured from `DONE_WHEN_FROM_HOURS` on and at 10,000 hours
projected (the write line across all sizes)."""
DONE_WHEN_FROM_HOURS = 100.0
MB = 2**20


class TrackModel:
    """A Gaussian with the mean and covariance of real per-sample vectors of one modality, drawn in
    its principal components; a shot's samples scatter around its draw by `jitter`."""

    def __init__(self, tracks: list[FeatureTrack]):
        vectors = np.concatenate([t.vectors[t.valid] for t in tracks])
        self.mean = vectors.mean(0).astype(np.float32)
        variances, axes = np.linalg.eigh(np.cov(vectors, rowvar=False, bias=True))
        keep = variances > EIGEN_FLOOR * variances.max()
        self.factor = (axes[:, keep] * np.sqrt(variances[keep])).T.astype(np.float32)
        # Unit vectors: |mean|^2 + total variance = 1, and two samples of one shot have similarity
        # about 1 / (1 + jitter^2 * total variance); set it to real consecutive samples' median.
        alike = np.median(np.concatenate([consecutive_similarity(t) for t in tracks]))
        self.jitter = float(np.sqrt((1 / alike - 1) / variances[keep].sum()))

    @property
    def dim(self) -> int:
        return len(self.mean)

    def sample(self, rng: np.random.Generator, shots: np.ndarray) -> np.ndarray:
        """Unit vectors for samples of shots numbered `shots` (n,): one draw per shot, jittered."""
        k = len(self.factor)
        z = rng.standard_normal((shots.max() + 1, k), dtype=np.float32)[shots]
        z += self.jitter * rng.standard_normal((len(shots), k), dtype=np.float32)
        out = self.mean + z @ self.factor
        return out / np.linalg.norm(out, axis=1, keepdims=True)


def consecutive_similarity(track: FeatureTrack) -> np.ndarray:
    """Cosine similarity of each pair of consecutive samples with content."""
    v, ok = track.vectors, track.valid[1:] & track.valid[:-1]
    return (v[1:] * v[:-1]).sum(1)[ok]


def track_models(fingerprints: list[VideoFingerprint], modalities) -> dict[str, TrackModel]:
    return {m: TrackModel([f.tracks[m] for f in fingerprints if m in f.tracks]) for m in modalities}


def title_info(name: str, seconds: float) -> MediaInfo:
    return MediaInfo(path=f"/catalogue/{name}.mp4", size_bytes=int(seconds * 250_000), duration=seconds,
                     video_duration=seconds, format_name="mp4", video_stream=0, width=1920, height=1080,
                     fps=25.0, rotation=0, sample_aspect_ratio="1:1", video_codec="h264",
                     variable_frame_rate=False, audio_stream=1, audio_codec="aac", subtitle_streams=())


def synthetic_title(name: str, seconds: float, models: dict[str, TrackModel], config: Config,
                    rng: np.random.Generator, plant: VideoFingerprint | None = None) -> VideoFingerprint:
    """A title of `models`' modalities; `plant`'s tracks replace its samples from `PLANT_MINUTE`."""
    step = 1.0 / config.frame_rate
    n = int(seconds / step)
    lengths = np.maximum(1, np.rint(rng.uniform(*SYNTHETIC_SHOT_SECONDS, size=n) / step).astype(int))
    shots = np.repeat(np.arange(n), lengths)[:n]
    tracks = {m: FeatureTrack(m, step, model.sample(rng, shots), np.ones(n, bool)) for m, model in models.items()}
    if plant is not None:
        at = int(PLANT_MINUTE * 60 / step)
        for m, track in plant.tracks.items():
            k = min(len(track), n - at)
            tracks[m].vectors[at:at + k] = track.vectors[:k]
            tracks[m].valid[at:at + k] = track.valid[:k]
    spans = segment_shots(tracks["visual"], cut_distance=config.shot_cut_distance,
                          min_seconds=config.min_shot_seconds, max_seconds=config.max_shot_seconds)
    return VideoFingerprint(title_info(name, seconds), tracks, build_shots(tracks, spans, step, seconds))


def made(work: Path, stem: str, recipe, make) -> Path:
    """`work/STEM-HASH.mp4`, HASH naming `recipe`, made by `make(path)` unless already there
    (into a temporary file renamed into place)."""
    digest = hashlib.sha256(json.dumps(recipe).encode()).hexdigest()[:12]
    dst = work / f"{stem}-{digest}.mp4"
    if not dst.exists():
        os.replace(make(dst.with_name(".tmp-" + dst.name)), dst)
    return dst


def spliced(work: Path, stem: str, names, seconds: float | None = None) -> Path:
    """Whole clips of MEDIA `names`, with their sound, one after another, cut to `seconds`."""

    def make(dst: Path) -> Path:
        clips, left = [], seconds or float("inf")
        for name in names:
            if left <= 0:
                break
            clips.append(Clip(str(MEDIA / name), 0.0, min(probe(MEDIA / name).duration, left)))
            left -= clips[-1].duration
        return splice(clips, dst, audio=True)

    return made(work, stem, [list(names), seconds], make)


def copy_suspect(work: Path, planted: Path) -> Path:
    """`COPY_CLIP` of the planted splice through `COPY_EDITS`."""
    return made(work, "copy", [planted.name, COPY_CLIP, COPY_EDITS],
                lambda dst: pirate(Clip(str(planted), *COPY_CLIP), dst, edits=COPY_EDITS))


def shape_sources() -> list[Path]:
    """Real clips the synthetic vectors are modelled on: all but the planted and clean footage
    and the second file of each natural copy pair."""
    left_out = {*PLANTED_CLIPS, *CLEAN_CLIPS, *NATURAL_COPIES}
    return sorted(p for p in MEDIA.iterdir() if p.name not in left_out)


def realism(shape: list[VideoFingerprint], modalities, rng: np.random.Generator) -> None:
    """Print similarity quantiles: synthetic samples of a model fitted on every other clip against
    the real samples of the rest, beside those real samples against each other."""
    print(f"\n== synthetic vectors, held-out check (quantiles {', '.join(f'{q:g}' for q in REALISM_QUANTILES)})")
    for m in modalities:
        tracks = [f.tracks[m] for f in shape if m in f.tracks]
        fit, held_out = tracks[0::2], np.concatenate([t.vectors[t.valid] for t in tracks[1::2]])
        real = np.concatenate([t.vectors[t.valid] for t in fit]) @ held_out.T
        synthetic = TrackModel(fit).sample(rng, np.arange(REALISM_SAMPLES)) @ held_out.T
        print(f"  {m} ({fit[0].dim}-d): real vs held-out real "
              f"{np.quantile(real, REALISM_QUANTILES).round(3).tolist()}, synthetic vs held-out real "
              f"{np.quantile(synthetic, REALISM_QUANTILES).round(3).tolist()}")


# ---------------------------------------------------------------- measuring in a fresh process
def drop_cache(root: Path) -> None:
    """Evict the index's files from the page cache, so that reads are real disk reads."""
    for path in root.rglob("*"):
        if path.is_file():
            fd = os.open(path, os.O_RDONLY)
            try:
                os.fsync(fd)
                os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
            finally:
                os.close(fd)


def read_bytes() -> int:
    """Bytes this process has had read from storage."""
    with open("/proc/self/io") as handle:
        return int(next(line for line in handle if line.startswith("read_bytes")).split()[1])


def memory_mb(field: str) -> float:
    """`VmRSS` or `VmHWM` (peak RSS since the last `reset_peak`) of this process, in MB."""
    with open("/proc/self/status") as handle:
        return int(next(line for line in handle if line.startswith(field + ":")).split()[1]) / 1024


def reset_peak() -> None:
    with open("/proc/self/clear_refs", "w") as handle:
        handle.write("5")


def probe_index(index: Path, warmup: Path, suspects: dict[str, str], config: Config) -> dict:
    """Open `index` and match each suspect's fingerprint, after warming the code on `warmup`."""
    from fp.matcher import Matcher

    fingerprinter = Fingerprinter(config)
    queries = {name: fingerprinter.query_fingerprint(probe(path)) for name, path in suspects.items()}
    with Matcher(warmup, fingerprinter=fingerprinter) as matcher:
        for query in queries.values():
            matcher.match_fingerprint(query)
    rss, before, start = memory_mb("VmRSS"), read_bytes(), time.perf_counter()
    matcher = Matcher(index, fingerprinter=fingerprinter)
    out = {"open_s": time.perf_counter() - start, "open_read_mb": (read_bytes() - before) / MB,
           "open_rss_mb": memory_mb("VmRSS") - rss}
    for name, query in queries.items():
        reset_peak()
        before, start = read_bytes(), time.perf_counter()
        report = matcher.match_fingerprint(query)
        out[name] = {"match_s": time.perf_counter() - start, "read_mb": (read_bytes() - before) / MB,
                     "peak_rss_mb": memory_mb("VmHWM"),
                     "found": [(m.title_id, m.query_start, m.ref_start, m.score) for m in report.matches]}
    matcher.close()
    return out


def measure_queries(index: Path, warmup: Path, suspects: dict[str, str], config: Config) -> dict:
    """`probe_index` in a fresh process, the index's files dropped from the page cache first."""
    drop_cache(index)
    proc = subprocess.run([sys.executable, "-m", "bench.catalogue_scale", "--probe", str(index), "--warmup",
                           str(warmup), "--suspects", json.dumps(suspects), "--config", config.to_json()],
                          capture_output=True, text=True)
    if proc.returncode:
        raise SystemExit(f"probe failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def copy_found(found: list, title_id: str) -> bool:
    """The planted title alone, at the planted offset."""
    expected = PLANT_MINUTE * 60 + COPY_CLIP[0]
    return len(found) == 1 and found[0][0] == title_id and \
        abs(found[0][2] - found[0][1] - expected) <= OFFSET_TOLERANCE


# ---------------------------------------------------------------- synthetic stores
def title_seconds(rng: np.random.Generator, remaining: float) -> float:
    """A title's length: uniform over TITLE_MINUTES, or what is left to reach a size."""
    low, high = (60 * m for m in TITLE_MINUTES)
    return max(low, remaining) if remaining <= high else rng.uniform(low, high)


def synthetic_stores(work: Path, sizes: list[float], seed: int, config: Config) -> list[dict]:
    fingerprinter = Fingerprinter(config)
    planted_path = spliced(work, "planted", PLANTED_CLIPS)
    suspects = {"copy": str(copy_suspect(work, planted_path)),
                "clean": str(spliced(work, "clean", CLEAN_CLIPS, SUSPECT_SECONDS))}
    planted = fingerprinter.fingerprint(planted_path)
    shape = [fingerprinter.fingerprint(path) for path in shape_sources()]
    rng = np.random.default_rng(seed)
    models = track_models(shape, planted.tracks)
    print("synthetic tracks: " + ", ".join(f"{m} {model.dim}-d, jitter {model.jitter:.2f}"
                                            for m, model in models.items())
          + f"; modelled on {len(shape)} real clips; real shots per hour "
          f"{3600 * sum(len(f.shots) for f in shape) / sum(f.info.duration for f in shape):.0f}")
    realism(shape, planted.tracks, rng)
    warmup, index = work / "warmup-index", work / "index"
    for folder in (warmup, index):
        if folder.exists():
            shutil.rmtree(folder)
    with IndexStore.open_for_writing(warmup, config) as store:
        store.put_title("planted", planted, "planted", 0)
    hours, written, rows = 0.0, 0, []
    for target in sorted(sizes):
        write_s = title_s = 0.0
        store = IndexStore.open_for_writing(index, config)
        while 3600 * (target - hours) > SIZE_SLACK_SECONDS:
            seconds = 60 * PLANTED_TITLE_MINUTES if written == 0 else title_seconds(rng, 3600 * (target - hours))
            name = f"title{written:05d}"
            fingerprint = synthetic_title(name, seconds, models, config, rng, planted if written == 0 else None)
            start = time.perf_counter()
            store.put_title(name, fingerprint, f"hash{written}", 0)
            write_s += time.perf_counter() - start
            title_s += seconds
            hours += seconds / 3600
            written += 1
        start = time.perf_counter()
        store.close()  # saves the k-NN files, as `fp index` does at the end of a run
        save_s = time.perf_counter() - start
        with IndexStore.open(index) as reader:
            parts, shots = reader.disk_usage(), reader.counts()["shots"]
        row = {"hours": hours, "titles": written, "bytes": parts, "shots": shots,
               "write_s_per_hour": write_s / (title_s / 3600) if title_s else float("nan"),
               "save_s_per_hour": save_s / (title_s / 3600) if title_s else float("nan"),
               **measure_queries(index, warmup, suspects, config)}
        judge(row)
        if target in sorted(sizes)[-2:]:
            row["compressed"] = compressed_twin(index, work / "index-compressed", warmup, suspects, config)
        rows.append(row)
        print(f"  {hours:.1f} h measured ({written} titles)", flush=True)
    return rows


def judge(row: dict) -> None:
    """Mark whether the copy was found alone at its offset and the clean suspect left alone."""
    row["copy"]["ok"] = copy_found(row["copy"]["found"], "title00000")
    row["clean"]["ok"] = not row["clean"]["found"]


def compressed_twin(index: Path, twin: Path, warmup: Path, suspects: dict[str, str], config: Config) -> dict:
    """The store at `index` copied to `twin`, its k-NN files rebuilt compressed through
    `IndexStore.save_vectors`, then measured like the store: the figures of a catalogue past
    `Config.exact_index_max_vectors`, at this size."""
    if twin.exists():
        shutil.rmtree(twin)
    shutil.copytree(index, twin)
    with IndexStore.open_for_writing(twin, dataclasses.replace(config, exact_index_max_vectors=0)):
        pass  # closing brings the k-NN files in line: compressed, as the limit says
    with IndexStore.open(twin) as reader:
        parts = reader.disk_usage()
    out = {"bytes": parts, **measure_queries(twin, warmup, suspects, config)}
    judge(out)
    return out


def twin_row(row: dict) -> dict:
    """A size's row with the figures of its compressed twin in place of its own."""
    return {**row, **row["compressed"], "label": f"{row['hours']:.1f} h compr."}


# ---------------------------------------------------------------- real titles through `fp index`
def real_titles(work: Path, seed: int) -> None:
    """Long titles spliced from every clip of MEDIA, indexed one at a time by `fp index`; the
    marginal size is the growth from the second title on (DuckDB's file grows by whole blocks and
    settles on the second run)."""
    names = sorted(p.name for p in MEDIA.iterdir())
    rng = np.random.default_rng(seed)
    titles = [spliced(work, f"real-title-{i + 1}",
                      [name for _ in range(REAL_TITLE_PASSES) for name in rng.permutation(names)])
              for i in range(REAL_TITLES)]
    catalogue, index = work / "real-catalogue", work / "real-index"
    for folder in (catalogue, index):
        if folder.exists():
            shutil.rmtree(folder)
    catalogue.mkdir()
    fp = Path(sys.executable).with_name("fp")
    steps = []
    for i, title in enumerate(titles):
        os.link(title, catalogue / f"title-{i + 1}.mp4")
        start = time.perf_counter()
        proc = subprocess.run([str(fp), "-q", "index", str(catalogue), "--index", str(index)],
                              capture_output=True, text=True)
        if proc.returncode:
            raise SystemExit(f"fp index failed:\n{proc.stderr[-3000:]}")
        with IndexStore.open(index) as reader:
            counts = reader.counts()
            steps.append({"hours": counts["hours"], "shots": counts["shots"], "bytes": reader.disk_usage(),
                          "wall_s": time.perf_counter() - start})
    minutes = np.diff([0.0] + [60 * step["hours"] for step in steps])
    print(f"\n== `fp index` on {REAL_TITLES} real titles of {', '.join(f'{m:.1f}' for m in minutes)} min "
          f"(every clip of ../shared/media/video {REAL_TITLE_PASSES} times), every file of the index folder")
    print(f"  {'MB per catalogue hour':<24}" + "".join(f"{f'after title {i + 1}':>16}" for i in range(len(steps)))
          + f"{'marginal':>16}")
    first, last = steps[1], steps[-1]
    marginal = {k: (last["bytes"][k] - first["bytes"][k]) / (last["hours"] - first["hours"]) for k in last["bytes"]}
    for part in [*last["bytes"], "total"]:
        cells = [(sum(s["bytes"].values()) if part == "total" else s["bytes"][part]) / s["hours"] for s in steps]
        cells.append(sum(marginal.values()) if part == "total" else marginal[part])
        print(f"  {part:<24}" + "".join(f"{c / MB:>16.3f}" for c in cells))
    print(f"  shots per hour {last['shots'] / last['hours']:.0f}; `fp index` wall time per title: "
          + ", ".join(f"{s['wall_s']:.0f} s" for s in steps))
    total = sum(marginal.values()) / MB
    limit = DONE_WHEN["MB per catalogue hour"]
    print(f"  done-when size, marginal <= {limit:g} MB per catalogue hour: {'ok' if total <= limit else 'FAILS'} "
          f"({total:.2f})")


# ---------------------------------------------------------------- printing
def figures(row: dict) -> dict[str, float | str]:
    """One size's printed figures (bytes as MB per catalogue hour)."""
    hours = row["hours"]
    out: dict[str, float | str] = {"catalogue hours": hours, "titles": row["titles"],
                                   "shots per hour": row["shots"] / hours}
    for part, size in row["bytes"].items():
        out[f"MB/h {part}"] = size / MB / hours
    out["MB/h total"] = sum(row["bytes"].values()) / MB / hours
    out.update({"write s per hour of title": row["write_s_per_hour"],
                "k-NN save s per hour (end of run)": row["save_s_per_hour"],
                "open s": row["open_s"], "open read MB": row["open_read_mb"], "open RSS growth MB": row["open_rss_mb"]})
    for name in ("copy", "clean"):
        q = row[name]
        out.update({f"{name}: match s": q["match_s"], f"{name}: read MB": q["read_mb"],
                    f"{name}: peak RSS MB": q["peak_rss_mb"]})
        out[f"{name}: " + ("found alone at its offset" if name == "copy" else "nothing decided")] = \
            "yes" if q["ok"] else "NO " + "; ".join(f"{t} {qs:.1f}->{rs:.1f} ({s:.2f})" for t, qs, rs, s in q["found"])
    return out


def projected(rows: list[dict], hours: float) -> dict[str, float | str]:
    """Figures at `hours`, each continued along its slope between the two largest sizes (sizes
    as totals, then per hour again); one that did not grow stays flat."""
    a, b = figures(rows[-2]), figures(rows[-1])
    ha, hb = a["catalogue hours"], b["catalogue hours"]
    out: dict[str, float | str] = {}
    for key, vb in b.items():
        va = a[key]
        if isinstance(vb, str) or key == "titles":
            out[key] = ""
        elif key.startswith("MB/h") or key == "shots per hour":
            out[key] = (vb * hb + max(0.0, vb * hb - va * ha) / (hb - ha) * (hours - hb)) / hours
        else:
            out[key] = vb + max(0.0, vb - va) / (hb - ha) * (hours - hb)
    out["catalogue hours"] = hours
    return out


def cell_text(key: str, cell: float | str) -> str:
    if isinstance(cell, str):
        return f"{cell:>15}"
    if key in ("titles", "shots per hour"):
        return f"{cell:>15,.0f}"
    return f"{cell:>15.3f}" if key.startswith("MB/h") else f"{cell:>15,.2f}"


def table(rows: list[dict]) -> tuple[list[dict], dict[int, dict]]:
    """Print the measured sizes, the compressed twins and the projections; (measured columns,
    projections by hours)."""
    columns = [figures(r) for r in rows]
    twins = [twin_row(r) for r in rows if "compressed" in r]
    switch = Config().exact_index_max_vectors / columns[-1]["shots per hour"]
    projections = {}
    if len(rows) >= 2:
        for hours in PROJECT_TO:
            basis = twins if hours > switch and len(twins) == 2 else rows[-2:]
            projections[hours] = projected(basis, hours)
    print("\n== synthetic stores" + (f" (projected from {rows[-2]['hours']:.0f} and {rows[-1]['hours']:.0f} h)"
                                     if projections else ""))
    cells = columns + [figures(t) for t in twins] + list(projections.values())
    heads = [f"{c['catalogue hours']:.1f} h" for c in columns] + [t["label"] for t in twins] + \
        [f"{h:,} h proj." for h in projections]
    print(f"  {'':<36}" + "".join(f"{h:>15}" for h in heads))
    for key in columns[-1]:
        print(f"  {key:<36}" + "".join(cell_text(key, c[key]) for c in cells))
    if projections:
        exact = Config().exact_index_max_vectors
        print(f"  the k-NN files turn compressed ({Config().compressed_index}) past {switch:,.0f} catalogue hours "
              f"({exact:,} shot vectors per modality): projections beyond follow the compressed twins")
    return columns, projections


def done_when(rows: list[dict], columns: list[dict], projections: dict[int, dict]) -> None:
    """Issue 16's limits, at every size measured from 100 hours on and at 10,000 hours projected."""
    if len(rows) < 2:
        return
    checked = [c for c in columns if c["catalogue hours"] >= DONE_WHEN_FROM_HOURS] or columns[-1:]
    checked.append(projections[10_000])
    writes = [c["write s per hour of title"] for c in columns]
    print("\n== done-when (issue 16), at " + " / ".join(
        f"{c['catalogue hours']:,.0f} h" for c in checked[:-1]) + " measured / 10,000 h projected")
    checks = [("MB per catalogue hour", "MB/h total"), ("open s", "open s")]
    for name in ("copy", "clean"):
        checks += [("one-minute suspect reads MB", f"{name}: read MB"), ("match s", f"{name}: match s"),
                   ("peak RSS MB", f"{name}: peak RSS MB")]
    for limit, key in checks:
        values = [c[key] for c in checked]
        verdict = "ok" if max(values) <= DONE_WHEN[limit] else "FAILS"
        print(f"  {key:<36} <= {DONE_WHEN[limit]:>7g}: " + " / ".join(f"{v:>9.2f}" for v in values) + f"  {verdict}")
    growth = max(writes) / min(writes)
    print(f"  {'write s per hour, max / min':<36} <= {DONE_WHEN['write s per hour growth']:>7g}: {growth:>9.2f}"
          f"  {'ok' if growth <= DONE_WHEN['write s per hour growth'] else 'FAILS'}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--hours", type=float, nargs="+", default=[1, 10, 100, 1000])
    parser.add_argument("--workdir", type=Path, default=Path.home() / ".cache" / "fp-catalogue-scale")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--skip-real-titles", action="store_true", help="only the synthetic stores")
    parser.add_argument("--probe", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--warmup", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--suspects", help=argparse.SUPPRESS)
    parser.add_argument("--config", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.probe:
        print(json.dumps(probe_index(args.probe, args.warmup, json.loads(args.suspects),
                                     Config.from_json(args.config))))
        return
    args.workdir.mkdir(parents=True, exist_ok=True)
    config = Config()
    print(f"picture encoder {config.visual_encoder}, audio encoder {config.audio_encoder}; work in {args.workdir}")
    if not args.skip_real_titles:
        real_titles(args.workdir, args.seed)
    rows = synthetic_stores(args.workdir, args.hours, args.seed, config)
    done_when(rows, *table(rows))


if __name__ == "__main__":
    main()
