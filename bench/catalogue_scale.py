"""Catalogue scale: what an index of feature-length titles costs at 1, 10 and 100 hours, and
projected to 10,000 and 100,000.

    python -m bench.catalogue_scale [--hours 1 10 100] [--workdir DIR]   (or `make bench-catalogue`)

How the stores are made. Titles of 45-120 minutes (uniform, seeded) are written one by one
through the real write path (`IndexStore.put_title`, then `save_vectors` as `fp index` ends a
run), growing one store through each size. Their tracks are synthetic but shaped like real ones:
the per-sample vectors of real clips' tracks (picture and soundtrack, fingerprinted by fp) give a
mean and covariance per modality; a title is a run of "shots" of 2-8 s, each a vector drawn from
that Gaussian plus per-sample jitter, L2-normalised, then segmented into shots and shot vectors
by fp's own `segment_shots`/`build_shots`. Into the first title, at minute `PLANT_MINUTE`, the real
fingerprint of `COPY_SOURCE` (all of it, picture and soundtrack) is planted; a one-minute edited
excerpt of it is the copy suspect, and a clip of other content is the clean suspect.

Per size it prints the index's bytes per catalogue hour by component, the write seconds per hour
of title, and, in a fresh process whose index files were first dropped from the page cache: the
index's open time, the bytes it read from disk and its RSS; for each suspect the match time (not
counting fingerprinting the suspect), bytes read, peak RSS and what was decided. Then it
projects to 10k and 100k hours from the slopes between the two largest sizes measured.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from fp.config import Config
from fp.data import probe
from fp.data.edits import Clip, pirate
from fp.data.probe import MediaInfo
from fp.fingerprint.extract import Fingerprinter
from fp.fingerprint.shots import build_shots, segment_shots
from fp.fingerprint.types import FeatureTrack, VideoFingerprint
from fp.index.store import IndexStore

MEDIA = Path(__file__).resolve().parents[1].parent / "shared" / "media" / "video"
COPY_SOURCE = "intel_one-by-one-person-detection.mp4"
"""The longest clip: 139 s of it are planted; the suspect is one minute of it, edited."""
COPY_CLIP = (50.0, 60.0)
"""(start, duration) of the copy suspect inside `COPY_SOURCE`."""
COPY_EDITS = ["crop10", "logo"]
CLEAN_SOURCE = "videohash_nasa_rocket.mkv"
SHAPE_SOURCES = ["mejs_echo-hereweare.webm", "videollava_demo22_drums.mp4", "intel_car-detection.mp4",
                 "bower_bbb_480p_30s.mp4", "psd_tv_documentary.mp4", "zwm_sintel.mp4"]
"""Real clips whose tracks give the synthetic vectors their mean and covariance."""
PLANT_MINUTE = 40.0
TITLE_MINUTES = (45.0, 120.0)
SYNTHETIC_SHOT_SECONDS = (2.0, 8.0)
JITTER = 0.35
"""Per-sample deviation around a synthetic shot's vector, relative to the spread of shot
vectors (real consecutive samples of one shot are close but not equal)."""
PROJECT_TO = (10_000, 100_000)


class TrackModel:
    """Gaussian of real per-sample vectors of one modality."""

    def __init__(self, vectors: np.ndarray):
        self.mean = vectors.mean(0)
        self.chol = np.linalg.cholesky(np.cov(vectors.T) + 1e-6 * np.eye(vectors.shape[1]))

    def sample(self, rng: np.random.Generator, n: int, step: float) -> np.ndarray:
        out = np.empty((n, len(self.mean)), np.float32)
        i = 0
        while i < n:
            length = int(rng.uniform(*SYNTHETIC_SHOT_SECONDS) / step)
            base = self.mean + self.chol @ rng.normal(size=len(self.mean))
            jitter = JITTER * rng.normal(size=(length, len(self.mean))) @ self.chol.T
            out[i:i + length] = (base + jitter)[:n - i]
            i += length
        return out / np.linalg.norm(out, axis=1, keepdims=True)


def title_info(name: str, seconds: float) -> MediaInfo:
    return MediaInfo(f"/catalogue/{name}.mp4", int(seconds * 250_000), seconds, seconds, "mp4", 0, 1920, 1080,
                     25.0, 0, "1:1", "h264", True, "aac", 48000, ())


def synthetic_title(name: str, seconds: float, models: dict[str, TrackModel], config: Config,
                    rng: np.random.Generator, plant: VideoFingerprint | None = None) -> VideoFingerprint:
    step = 1.0 / config.frame_rate
    n = int(seconds / step)
    tracks = {m: FeatureTrack(m, step, model.sample(rng, n, step), np.ones(n, bool)) for m, model in models.items()}
    if plant is not None:
        at = int(PLANT_MINUTE * 60 / step)
        for m, track in plant.tracks.items():
            if m in tracks:
                k = min(len(track), n - at)
                tracks[m].vectors[at:at + k] = track.vectors[:k]
                tracks[m].valid[at:at + k] = track.valid[:k]
    spans = segment_shots(tracks["visual"], cut_distance=config.shot_cut_distance,
                          min_seconds=config.min_shot_seconds, max_seconds=config.max_shot_seconds)
    return VideoFingerprint(title_info(name, seconds), tracks, build_shots(tracks, spans, step, seconds))


def drop_cache(root: Path) -> None:
    """Evict the index's files from the page cache, so the probe's disk reads are real."""
    for path in root.rglob("*"):
        if path.is_file():
            fd = os.open(path, os.O_RDONLY)
            try:
                os.fsync(fd)
                os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
            finally:
                os.close(fd)


def read_bytes() -> int:
    with open("/proc/self/io") as handle:
        return int(next(line for line in handle if line.startswith("read_bytes")).split()[1])


def rss_mb() -> float:
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def probe_index(index: Path, suspects: dict[str, str]) -> dict:
    """In this (fresh) process: open the index, then match each suspect's fingerprint."""
    from fp.matcher import Matcher

    config = Config()
    fingerprinter = Fingerprinter(config)
    queries = {name: fingerprinter.query_fingerprint(probe(path)) for name, path in suspects.items()}
    out = {"baseline_rss_mb": rss_mb()}
    before, start = read_bytes(), time.perf_counter()
    matcher = Matcher(index, fingerprinter=fingerprinter)
    out.update(open_s=time.perf_counter() - start, open_read_mb=(read_bytes() - before) / 2**20,
               open_rss_mb=rss_mb() - out["baseline_rss_mb"])
    for name, query in queries.items():
        before, start = read_bytes(), time.perf_counter()
        report = matcher.match_fingerprint(query)
        out[name] = {"match_s": time.perf_counter() - start, "read_mb": (read_bytes() - before) / 2**20,
                     "suspect_minutes": query.info.duration / 60,
                     "found": [(m.title_id, round(m.query_start, 1), round(m.ref_start, 1), round(m.score, 3))
                               for m in report.matches]}
    out["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    matcher.close()
    return out


def measure_queries(index: Path, suspects: dict[str, str]) -> dict:
    drop_cache(index)
    proc = subprocess.run([sys.executable, "-m", "bench.catalogue_scale", "--probe", str(index),
                           "--suspects", json.dumps(suspects)], capture_output=True, text=True, check=True)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def prepare(work: Path, config: Config) -> tuple[dict[str, TrackModel], VideoFingerprint, dict[str, str]]:
    fingerprinter = Fingerprinter(config)
    shape = [fingerprinter.fingerprint(MEDIA / name) for name in SHAPE_SOURCES]
    models = {m: TrackModel(np.concatenate([f.tracks[m].vectors[f.tracks[m].valid] for f in shape if m in f.tracks]))
              for m in ("visual", "audio")}
    planted = fingerprinter.fingerprint(MEDIA / COPY_SOURCE)
    copy = work / "copy.mp4"
    if not copy.exists():
        pirate(Clip(str(MEDIA / COPY_SOURCE), *COPY_CLIP), copy, edits=COPY_EDITS)
    return models, planted, {"copy": str(copy), "clean": str(MEDIA / CLEAN_SOURCE)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--hours", type=float, nargs="+", default=[1, 10, 100])
    parser.add_argument("--workdir", type=Path, default=Path.home() / ".cache" / "fp-catalogue-scale")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--probe", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--suspects", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.probe:
        print(json.dumps(probe_index(args.probe, json.loads(args.suspects))))
        return
    config = Config()
    args.workdir.mkdir(parents=True, exist_ok=True)
    index = args.workdir / "index"
    if index.exists():
        import shutil

        shutil.rmtree(index)
    models, planted, suspects = prepare(args.workdir, config)
    rng = np.random.default_rng(args.seed)
    hours, written, rows = 0.0, 0, []
    for target in sorted(args.hours):
        write_s = title_s = 0.0
        store = IndexStore.open_for_writing(index, config)
        while hours < target:
            seconds = 60 * rng.uniform(*TITLE_MINUTES)
            fingerprint = synthetic_title(f"title{written:05d}", seconds, models, config, rng,
                                          planted if written == 0 else None)
            start = time.perf_counter()
            store.put_title(f"title{written:05d}", fingerprint, f"hash{written}", 0)
            write_s += time.perf_counter() - start
            title_s += seconds
            hours += seconds / 3600
            written += 1
        start = time.perf_counter()
        store.close()  # brings the FAISS files in line, as `fp index` does at the end of a run
        save_s = time.perf_counter() - start
        with IndexStore.open(index) as reader:
            parts = reader.disk_usage()
        queries = measure_queries(index, suspects)
        rows.append({"hours": hours, "titles": written, "bytes": parts, "write_s_per_hour": write_s / (title_s / 3600),
                     "save_s_per_hour": save_s / (title_s / 3600), **queries})
        report(rows[-1])
    project(rows)


def report(row: dict) -> None:
    hours, parts = row["hours"], row["bytes"]
    total = sum(parts.values())
    print(f"\n== {hours:.1f} catalogue hours, {row['titles']} titles")
    print("  MB per catalogue hour: " + ", ".join(f"{k} {v / 2**20 / hours:.3f}" for k, v in parts.items())
          + f"; total {total / 2**20 / hours:.3f}")
    print(f"  write: {row['write_s_per_hour']:.2f} s per hour of title (+ {row['save_s_per_hour']:.2f} s "
          "per hour saving the k-NN files at the end of the run)")
    print(f"  open: {row['open_s']:.2f} s, {row['open_read_mb']:.1f} MB read, +{row['open_rss_mb']:.0f} MB RSS")
    for name in ("copy", "clean"):
        q = row[name]
        print(f"  {name} suspect ({q['suspect_minutes']:.1f} min): match {q['match_s']:.2f} s, "
              f"{q['read_mb']:.1f} MB read; decided: {q['found'] or 'no match'}")
    print(f"  peak RSS of the query process: {row['peak_rss_mb']:.0f} MB (models included)")


def project(rows: list[dict]) -> None:
    if len(rows) < 2:
        return
    a, b = rows[-2], rows[-1]

    def at(hours: float, key) -> float:
        ya, yb = key(a), key(b)
        return yb + (yb - ya) / (b["hours"] - a["hours"]) * (hours - b["hours"])

    print(f"\n== projected from {a['hours']:.0f} and {b['hours']:.0f} hours (linear in catalogue hours)")
    for hours in PROJECT_TO:
        size = at(hours, lambda r: sum(r["bytes"].values())) / 2**30
        print(f"  {hours:>7,} h: index {size:.1f} GiB; open {at(hours, lambda r: r['open_s']):.1f} s, "
              f"+{at(hours, lambda r: r['open_rss_mb']):.0f} MB RSS; copy match "
              f"{at(hours, lambda r: r['copy']['match_s']):.2f} s reading "
              f"{at(hours, lambda r: r['copy']['read_mb']):.1f} MB; clean match "
              f"{at(hours, lambda r: r['clean']['match_s']):.2f} s; peak RSS "
              f"{at(hours, lambda r: r['peak_rss_mb']):.0f} MB")
    marginal = (sum(b["bytes"].values()) - sum(a["bytes"].values())) / (b["hours"] - a["hours"]) / 2**20
    print(f"  marginal index size: {marginal:.3f} MB per catalogue hour")


if __name__ == "__main__":
    main()
