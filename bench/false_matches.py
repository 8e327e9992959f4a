"""False matches at catalogue scale: the tail of the scores of real non-copies by segment length,
and the per-length decision thresholds it implies at 1k, 10k and 100k catalogue hours.

    python -m bench.false_matches [--workdir DIR] [--quantile Q] [--max-suspects N] [--recall [DIR]]
                                  [--json FILE]
    (or `make bench-false-matches`; re-fitting after a change of encoder is this one command: it
    ends with the `Config` lines to paste into fp/config.py)

Every file of ../shared/media is distinct content except the three natural copy pairs listed in
its README, which are never paired. The catalogue holds every video and every audio file laid
over a black picture (a soundtrack-only title); the suspects are the same files cut into
non-overlapping pieces of at most `MAX_SUSPECT_SECONDS`. Each suspect is aligned with every
title of other content: every title plays both roles, so all pairs are measured with one index.

**What is measured.** The quantity the decision threshold is compared with: the `score` of a
segment that `decide` could turn into a `match` (an `AlignedSegment` of fp's own alignment,
after the same title's duplicates are dropped and drifting pieces chained, at least
`min_match_seconds` long), and its length. All alignments are searched, not only those the
candidate stage would vote for: for every suspect-title pair, hypotheses tile every offset from
the suspect's end at the title's start to its start at the title's end, `align_radius_seconds`
apart on each side, each localised by `Matcher._localise` (the production code path, picture
variants included) with `candidate_threshold` = 0, so no segment is dropped for scoring low.
The per-sample floor `frame_min_similarity` is kept: it defines where a segment starts and
ends, so lowering it would measure another quantity. This is an upper bound on what the
candidate stage lets through; another title's better alignment (rivals) is not applied either.

**Exposure.** A segment of length D can sit in (q - D) x (r - D) places of a q-second suspect
and an r-second title, q and r being the seconds *with content* of the modality (blank frames
and silence excluded): (q - D)/60 suspect minutes x (r - D)/3600 catalogue hours per pair and
modality compared. A segment is credited to the modality that carried it (the highest of its
modalities on the common scale); rates add up over modalities, since rare events of
independent modalities do: a suspect with picture and sound against a catalogue with both
meets both chances.

**Fit** (`fp.matcher.calibration.fit_tail`, whose docstring has the model). Lengths: a geometric
distribution over the sample grid, its scale by maximum likelihood of the Poisson process with
the exposure at each length. Scores: peaks over threshold, u the `--quantile` (0.8) of all
segment scores, the excesses above it a generalised Pareto distribution (maximum likelihood,
location 0), independent of length. Exceedances are counted per segment, not declustered per
pair: one look-alike pair can give several. Printed: per-pair maxima (fused score and raw
per-modality means), the strongest segments, the fit at several levels u, then per length
class the segments, exceedances and exposure against what the model expects, the class's own
GPD where it has enough exceedances, and the thresholds at 1k, 10k and 100k hours (a bootstrap
of resampled segments gives their spread at 10k); the estimated false-match probability per
clean one-minute suspect with those thresholds and with `match_threshold` alone; with
`--recall`, the true segments of bench/accuracy.py's cached benchmark that they lose; and the
`Config` lines.

Work is cached under ~/.cache/fp-false-matches, every level keyed on the settings and code it
depends on (the derived media once; the index and the suspects' fingerprints per fingerprint
and index settings and code; the alignments per matching settings and code; the accuracy
benchmark's matches per its index and queries), so a rerun with unchanged code only fits.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import math
import os
import pickle
import subprocess
import sys
import textwrap
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from scipy.stats import genpareto

from bench.accuracy import build_queries, default_workdir, hit, index_dir
from bench.metrics import Prediction, decision_prf, false_positive_queries
from fp.config import FINGERPRINT, INDEX, MATCH, Config
from fp.data.edits import Clip, black_picture
from fp.data.probe import probe, require_tool
from fp.index import index_catalogue
from fp.matcher import Matcher
from fp.matcher.calibration import (TailModel, exposure, false_match_probability, fit_tail, length_classes,
                                    length_thresholds)
from fp.matcher.decisions import DecisionParams, chain, dedupe
from fp.matcher.types import Hypothesis

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "media"
NATURAL_PAIRS = [("video/psd_goldeneye_rotated_audio.mp4", "video/psd_goldeneye_vfr_drop3.mp4"),
                 ("video/dvrscan_traffic_camera.mp4", "video/dvrscan_traffic_camera_vfr.mp4"),
                 ("video/moviepy_big_buck_bunny_0_30.webm", "video/bower_bbb_480p_30s.mp4")]
"""Same content in two encodes (../shared/media/README.md): never a non-copy pair."""
MAX_SUSPECT_SECONDS = 60.0
"""Longer files are cut into this many seconds or fewer per suspect (one-minute suspects)."""
HOURS = (1_000, 10_000, 100_000)
"""Catalogue sizes the thresholds and rates are shown at."""
QUANTILES = (0.5, 0.9, 0.99, 0.999, 1.0)
"""Quantiles of the per-pair maxima shown."""
FIT_QUANTILES = (0.7, 0.75, 0.8, 0.85, 0.9, 0.95)
"""Levels u (quantiles of the segment scores) the fit is shown at."""
MIN_CLASS_EXCEEDANCES = 5
"""A length class's own GPD is shown when it has at least this many exceedances."""
SENSITIVITY_LENGTHS = (4.0, 6.5, 10.0, 15.5, 19.5, 24.0, 30.0)
"""Segment lengths (seconds) whose 10k-hour thresholds the fit at each level u is shown with."""
BOOTSTRAP = 300
"""Refits of resampled segments for the spread of the thresholds."""
MODALITIES = ("visual", "audio", "text")
ALIGNMENT_VERSION = 2
"""Bump when `measure` changes what it records (the alignments are cached by it)."""
CONFIG_WIDTH = 100
"""Line width of the printed `Config` lines (fp/config.py's)."""
CACHE = Path(os.environ.get("FP_FALSE_MATCHES_CACHE", Path.home() / ".cache" / "fp-false-matches"))


@dataclass(frozen=True)
class Source:
    """A file of ../shared/media and the catalogue title made of it."""

    name: str
    """`video/NAME` or `audio/NAME`, as in MANIFEST.tsv."""
    title_id: str
    """Its title id in the catalogue folder."""
    duration: float


@dataclass(frozen=True)
class Suspect:
    suspect_id: str
    path: str
    source: str
    start: float
    duration: float


def log(*args) -> None:
    print(*args, file=sys.stderr, flush=True)


def digest(paths: list[Path], extra: str = "") -> str:
    """A short hash of the contents of `paths` (files, or every file under folders) and `extra`."""
    h = hashlib.sha256(extra.encode())
    for root in paths:
        files = sorted(p for p in root.rglob("*") if p.is_file() and "__pycache__" not in p.parts) \
            if root.is_dir() else [root]
        for f in files:
            h.update(str(f.relative_to(ROOT)).encode())
            h.update(f.read_bytes())
    return h.hexdigest()[:12]


def settings_json(group: str) -> str:
    """The default `Config`'s settings of one lifetime group, as sorted JSON (a cache key part)."""
    return json.dumps(Config().group(group), sort_keys=True)


def manifest() -> list[dict]:
    lines = (SHARED / "MANIFEST.tsv").read_text().splitlines()
    head = lines[0].split("\t")
    rows = [dict(zip(head, line.split("\t"))) for line in lines[1:] if line.strip()]
    return rows


def cut(src: Path, dst: Path, start: float, duration: float) -> Path:
    """`duration` seconds of a video from `start`, re-encoded near-losslessly."""
    if not dst.exists():
        tmp = dst.with_name(dst.stem + ".part" + dst.suffix)
        subprocess.run([require_tool("ffmpeg"), "-nostdin", "-v", "error", "-y", "-ss", f"{start:.3f}",
                        "-t", f"{duration:.3f}", "-i", str(src), "-map", "0:v:0", "-map", "0:a:0?",
                        "-c:v", "libx264", "-preset", "veryfast", "-crf", "16", "-c:a", "aac", "-b:a", "160k",
                        str(tmp)], check=True, stdin=subprocess.DEVNULL)
        tmp.rename(dst)
    return dst


def prepare_media(media: Path, max_suspects: int | None) -> tuple[Path, list[Source], list[Suspect]]:
    """The catalogue folder (links to the videos, audio files over a black picture) and the
    suspects cut from the same files."""
    catalogue, pieces = media / "catalogue", media / "suspects"
    for folder in (catalogue / "video", catalogue / "audio", pieces):
        folder.mkdir(parents=True, exist_ok=True)
    sources, suspects = [], []
    rows = sorted(manifest(), key=lambda r: -float(r["duration_s"]))[:max_suspects]
    for row in sorted(rows, key=lambda r: r["file"]):
        name, duration = row["file"], float(row["duration_s"])
        kind, base = name.split("/", 1)
        if kind == "video":
            title = catalogue / "video" / base
            if not (title.is_symlink() and title.readlink() == SHARED / name):  # new, or another checkout's
                title.unlink(missing_ok=True)
                title.symlink_to(SHARED / name)
        else:
            title = catalogue / "audio" / (Path(base).stem + ".mp4")
            if not title.exists():
                log(f"laying {name} over a black picture")
                part = title.with_name(title.stem + ".part.mp4")
                black_picture(Clip(str(SHARED / name), 0.0, duration), part)
                part.rename(title)
        duration = probe(title).duration
        sources.append(Source(name, title.relative_to(catalogue).as_posix(), duration))
        n = max(1, math.ceil(duration / MAX_SUSPECT_SECONDS - 1e-6))
        length = duration / n
        for i in range(n):
            if n == 1:
                path = title
            else:
                path = cut(title, pieces / f"{Path(base).stem}-{i + 1}of{n}.mp4", i * length, length)
            suspects.append(Suspect(f"{name}#{i + 1}of{n}", str(path), name, i * length, length))
    return catalogue, sources, suspects


def unrelated(a: str, b: str) -> bool:
    return a != b and (a, b) not in NATURAL_PAIRS and (b, a) not in NATURAL_PAIRS


def content_seconds(query) -> dict[str, float]:
    """Seconds with content per modality of a query fingerprint (the picture as it is)."""
    picture = query.variants[0].track
    out = {"visual": float(picture.valid.sum()) * picture.step}
    for m, track in query.tracks.items():
        out[m] = float(track.valid.sum()) * track.step
    return out


def fingerprints(matcher: Matcher, suspects: list[Suspect], folder: Path) -> dict[str, Path]:
    """Each suspect's `QueryFingerprint`, pickled once per version of the fingerprinting code."""
    folder.mkdir(parents=True, exist_ok=True)
    out, todo = {}, 0.0
    started = time.perf_counter()
    for i, s in enumerate(suspects):
        path = folder / (hashlib.sha256(s.suspect_id.encode()).hexdigest()[:16] + ".pkl")
        if not path.exists():
            t0 = time.perf_counter()
            query = matcher.fingerprinter.query_fingerprint(probe(s.path))
            tmp = path.with_suffix(".part")
            tmp.write_bytes(pickle.dumps(query, protocol=pickle.HIGHEST_PROTOCOL))
            tmp.rename(path)
            todo += s.duration
            log(f"suspect {i + 1}/{len(suspects)} {s.suspect_id}: {s.duration:.0f} s in "
                f"{time.perf_counter() - t0:.1f} s")
        out[s.suspect_id] = path
    if todo:
        log(f"fingerprinted {todo:.0f} s of suspects in {time.perf_counter() - started:.0f} s")
    return out


def tiled_offsets(query_seconds: float, title_seconds: float, radius: float) -> list[float]:
    """Hypothesis offsets (reference minus query time) whose alignment bands, `radius` each
    side, together cover every shift at which the suspect and the title overlap."""
    out, centre = [], -query_seconds + radius
    while centre - radius < title_seconds:
        out.append(round(centre, 3))
        centre += 2 * radius
    return out


def dominant(modalities: dict, scales: dict) -> str:
    """The modality that carried a segment: its highest mean on the common scale."""
    present = {m: float(scales[m](np.float64(v))) for m, v in modalities.items() if v is not None and m in scales}
    return max(present, key=present.get) if present else "visual"


def measure(matcher: Matcher, suspects: list[Suspect], sources: list[Source], queries: dict[str, Path],
            cfg: Config) -> dict:
    """Every eligible segment of every unrelated suspect-title pair, with the pairs' exposures."""
    by_title = {s.title_id: s for s in sources}
    content = {s.suspect_id: content_seconds(pickle.loads(queries[s.suspect_id].read_bytes())) for s in suspects}
    title_content: dict[str, dict[str, float]] = {}
    for s in suspects:
        for m, v in content[s.suspect_id].items():
            title_content.setdefault(s.source, {}).setdefault(m, 0.0)
            title_content[s.source][m] += v
    params = DecisionParams.from_config(cfg)
    pairs, segments = [], []
    started = time.perf_counter()
    for i, s in enumerate(suspects):
        query = pickle.loads(queries[s.suspect_id].read_bytes())
        variants = tuple(v.name for v in query.variants)
        for title in matcher.titles:
            src = by_title[title.title_id]
            if not unrelated(s.source, src.name):
                continue
            q, r = content[s.suspect_id], title_content.get(src.name, {})
            both = {m: [q[m], r[m]] for m in MODALITIES if q.get(m, 0.0) > 0 and r.get(m, 0.0) > 0}
            if not both:
                continue  # nothing to compare: no chance of a false match
            found = []
            for offset in tiled_offsets(query.info.duration, title.duration, cfg.align_radius_seconds):
                hyp = Hypothesis(title.title_id, offset, 0.0, variants)
                found += [(title.title_id, seg) for seg in matcher._localise(query, hyp)]
            kept = [seg for _, seg in chain(dedupe(found, params.dedupe_overlap), params)
                    if seg.query_end - seg.query_start >= params.min_match_seconds]
            pairs.append({"suspect": s.suspect_id, "source": s.source, "title": src.name, "content": both})
            for seg in kept:
                segments.append({"suspect": s.suspect_id, "source": s.source, "title": src.name,
                                 "query": [round(seg.query_start, 2), round(seg.query_end, 2)],
                                 "ref": [round(seg.ref_start, 2), round(seg.ref_end, 2)], "score": seg.score,
                                 "modalities": seg.modalities, "carrier": dominant(seg.modalities, matcher.scales)})
        log(f"aligned {i + 1}/{len(suspects)} {s.suspect_id} ({time.perf_counter() - started:.0f} s)")
    return {"pairs": pairs, "segments": segments}


def run(workdir: Path, max_suspects: int | None) -> dict:
    cfg = dataclasses.replace(Config(), candidate_threshold=0.0)
    media_key = f"media-{max_suspects or 'all'}"
    catalogue, sources, suspects = prepare_media(workdir / media_key, max_suspects)
    # every cache level is keyed on the settings and code it depends on: a stale one is never reused
    fp_key = digest([ROOT / "fp" / "fingerprint", ROOT / "fp" / "data"], settings_json(FINGERPRINT))
    index_key = digest([ROOT / "fp" / "index"], f"{fp_key} {settings_json(INDEX)}")
    index = workdir / media_key / f"index-{index_key}"
    t0 = time.perf_counter()
    summary = index_catalogue(catalogue, index, Config(),
                              on_event=lambda e: e.kind == "done" and log(f"indexed {e.title_id}"))
    if summary.failed:
        raise SystemExit(f"indexing failed: {summary.failed}")
    if summary.media_seconds:
        log(f"indexed {summary.media_seconds:.0f} s of media in {time.perf_counter() - t0:.0f} s")
    matching = {k: v for k, v in cfg.group(MATCH).items() if not k.startswith("false_match_")}
    code = [p for p in sorted((ROOT / "fp" / "matcher").glob("*.py")) if p.name != "calibration.py"]
    match_key = digest(code, f"{index_key} {json.dumps(matching, sort_keys=True)} {ALIGNMENT_VERSION}")
    result_path = workdir / media_key / f"alignments-{match_key}.json"
    with Matcher(index, cfg) as matcher:
        queries = fingerprints(matcher, suspects, workdir / media_key / f"queries-{fp_key}")
        if result_path.exists():
            result = json.loads(result_path.read_text())
        else:
            result = measure(matcher, suspects, sources, queries, matcher.config)
            result["suspects"] = [asdict(s) for s in suspects]
            result["sources"] = [asdict(s) for s in sources]
            result_path.write_text(json.dumps(result))
        result["scales"] = {m: asdict(s) for m, s in matcher.scales.items()}
    return result


def audio_training_sources() -> set[str]:
    """Files the shipped audio encoder was trained on (its non-copy scores are biased low)."""
    meta = ROOT / "fp" / "fingerprint" / "weights" / f"{Config().audio_encoder}.json"
    return set(json.loads(meta.read_text()).get("sources", [])) if meta.exists() else set()


def quantile_row(values: list[float], n: int) -> str:
    """Tail quantiles of per-pair maxima over `n` pairs (pairs without a segment rank lowest)."""
    full = np.full(n, -np.inf)
    full[:len(values)] = sorted(values, reverse=True)
    cells = []
    for q in QUANTILES:
        v = float(np.quantile(full, q, method="higher"))
        cells.append(f"{v:7.3f}" if np.isfinite(v) else "      -")
    return " ".join(cells) + f"   {len(values):5d}/{n}"


def content(result: dict) -> dict[str, np.ndarray]:
    """Per modality, one (suspect seconds, title seconds) row per pair compared in it."""
    rows: dict[str, list] = {}
    for p in result["pairs"]:
        for m, qr in p["content"].items():
            rows.setdefault(m, []).append(qr)
    return {m: np.array(v, float) for m, v in rows.items()}


def carrier(segment: dict, compared: dict) -> str:
    """The modality a segment counts against (rare events: one without measured exposure
    counts on the picture's)."""
    return segment["carrier"] if segment["carrier"] in compared else "visual"


def length(segment: dict) -> float:
    return segment["query"][1] - segment["query"][0]


def fit(result: dict, quantile: float, cfg: Config, rng: np.random.Generator | None = None) -> TailModel:
    segments, compared = result["segments"], content(result)
    if rng is not None:  # bootstrap: resample the segments, their number Poisson
        segments = [segments[i] for i in rng.integers(0, len(segments), rng.poisson(len(segments)))]
    return fit_tail([s["score"] for s in segments], [length(s) for s in segments],
                    [carrier(s, compared) for s in segments], compared, min_seconds=cfg.min_match_seconds,
                    step=1.0 / cfg.frame_rate, quantile=quantile, pairs=len(result["pairs"]))


def enforced(cfg: Config, tail: TailModel) -> Config:
    """`cfg` with `tail` as its false-match tail, enforced."""
    return dataclasses.replace(cfg, false_match_u=tail.u, false_match_rate=tail.rate, false_match_xi=tail.xi,
                               false_match_sigma=tail.sigma, false_match_length_scale=tail.length_scale,
                               false_match_enforced=True)


def probability(tail: TailModel, cfg: Config, hours: float,
                thresholds: tuple[tuple[float, float], ...] = ()) -> float:
    """P(false match) of a clean suspect of `false_match_suspect_seconds` at `hours`, under
    `thresholds` (default: `match_threshold` for every length)."""
    applied = thresholds or ((cfg.min_match_seconds, cfg.match_threshold),)
    return false_match_probability(tail, applied, hours, cfg.false_match_suspect_seconds)


def cell(t: float) -> str:
    return f"{t:6.3f}" if t <= 1 else f"{'>1':>6s}"


def summary(result: dict, cfg: Config) -> None:
    """What was measured: exposures, per-pair maxima, the strongest segments."""
    pairs, segments = result["pairs"], result["segments"]
    suspects, sources = result["suspects"], result["sources"]
    trained = audio_training_sources()
    minutes = sum(s["duration"] for s in suspects) / 60
    hours = sum(s["duration"] for s in sources) / 3600
    print(f"false matches: {len(suspects)} suspects ({minutes:.1f} min) x {len(sources)} titles "
          f"({hours * 60:.1f} min), {len(pairs)} unrelated pairs with something to compare, "
          f"{len(segments)} segments of >= {cfg.min_match_seconds:g} s")
    for m, rows in content(result).items():
        e = float(exposure(rows, [cfg.min_match_seconds])[0])
        print(f"  {m:7s} compared in {len(rows):5d} pairs: exposure {e:.4f} suspect-min x catalogue-h "
              f"(segments of {cfg.min_match_seconds:g} s)")
    print()
    print("per-pair maximum (pairs without a segment rank lowest, '-')")
    print("                       " + " ".join(f"{'q' + format(q * 100, 'g'):>7s}" for q in QUANTILES[:-1])
          + "     max   pairs with a value")
    best: dict[tuple, dict] = {}
    for s in segments:
        row = best.setdefault((s["suspect"], s["title"]), {})
        row["fused"] = max(row.get("fused", -1.0), s["score"])
        for m, v in s["modalities"].items():
            if v is not None:
                row[m] = max(row.get(m, -1.0), v)
    print(f"  {'fused score':20s} " + quantile_row([r["fused"] for r in best.values()], len(pairs)))
    for m in MODALITIES:
        compared = [p for p in pairs if m in p["content"]]
        if not compared:
            print(f"  {m + ' (raw mean)':20s}   not measured: no pair has it on both sides")
            continue
        values = [best[(p["suspect"], p["title"])][m] for p in compared
                  if m in best.get((p["suspect"], p["title"]), {})]
        print(f"  {m + ' (raw mean)':20s} " + quantile_row(values, len(compared)))
        if m == "audio" and trained:
            held = [p for p in compared if Path(p["source"]).name not in trained
                    and Path(p["title"]).name not in trained]
            values = [best[(p["suspect"], p["title"])][m] for p in held
                      if m in best.get((p["suspect"], p["title"]), {})]
            if held:
                print(f"  {'  both held out':20s} " + quantile_row(values, len(held)))
    print()
    print("strongest segments")
    for s in sorted(segments, key=lambda s: -s["score"])[:10]:
        mods = " ".join(f"{m} {v:.3f}" for m, v in s["modalities"].items() if v is not None)
        print(f"  {s['score']:.3f}  {length(s):4.1f} s  {s['suspect']} {s['query'][0]:.1f}-{s['query'][1]:.1f} s ~ "
              f"{s['title']} {s['ref'][0]:.1f}-{s['ref'][1]:.1f} s  ({mods}; carried by {s['carrier']})")
    print()


def sensitivity(result: dict, cfg: Config) -> None:
    """The fit and what it implies at 10k hours for several levels u."""
    shown = SENSITIVITY_LENGTHS
    print("fit by level u (score: GPD on the excess over u; lengths: geometric; rate per suspect-minute x "
          "catalogue-hour); at 10k h: thresholds by segment length, P(false match) with them and at "
          f"{cfg.match_threshold:g} alone")
    print(f"  {'quantile':>8s} {'u':>6s} {'exceed':>6s} {'rate':>9s} {'xi':>7s} {'sigma':>7s} {'scale s':>7s}  "
          + " ".join(f"{format(a, 'g') + ' s':>6s}" for a in shown) + f"  {'P(fm)':>8s} {'P alone':>8s}")
    for q in FIT_QUANTILES:
        try:
            tail = fit(result, q, cfg)
        except ValueError as exc:
            print(f"  {q:8.2f}  {exc}")
            continue
        params = DecisionParams.from_config(enforced(cfg, tail), 10_000)
        print(f"  {q:8.2f} {tail.u:6.3f} {tail.exceedances:6d} {tail.rate:9.3e} {tail.xi:7.3f} {tail.sigma:7.4f} "
              f"{tail.length_scale:7.3f}  " + " ".join(cell(params.threshold(a)) for a in shown)
              + f"  {probability(tail, cfg, 10_000, params.length_thresholds):8.2e} "
              f"{probability(tail, cfg, 10_000):8.2e}")
    print()


def by_length(result: dict, tail: TailModel, quantile: float, cfg: Config) -> None:
    """Per length class: the measured segments against the model, the class's own GPD where it
    has enough exceedances, and the thresholds at each catalogue size (bootstrap spread at 10k)."""
    segments, compared = result["segments"], content(result)
    classes = length_classes(cfg)
    bounds = list(zip(classes, classes[1:] + (math.inf,)))
    grid = tail.lengths(max(float(rows[:, 0].max()) for rows in compared.values()))
    shares = tail.length_shares(grid)
    weight = {m: exposure(rows, grid) * shares for m, rows in compared.items()}
    above = {m: sum(1 for s in segments if s["score"] > tail.u and carrier(s, compared) == m) for m in compared}
    thresholds = {h: length_thresholds(enforced(cfg, tail), h) for h in HOURS}
    rng = np.random.default_rng(0)
    boots = []
    for _ in range(BOOTSTRAP):
        try:
            refit = fit(result, quantile, cfg, rng)
            boots.append([t for _, t in length_thresholds(enforced(cfg, refit), 10_000)])
        except ValueError:
            continue
    low, high = np.percentile(np.array(boots), [5, 95], axis=0) if boots else (None, None)
    print(f"by segment length (class: shortest length up to the next class's; exposure: suspect-min x "
          f"catalogue-h where the class's shortest segment fits; 'model': exceedances the fit expects; "
          f"own GPD with >= {MIN_CLASS_EXCEEDANCES} exceedances)")
    print(f"  {'class s':>11s} {'segs':>5s} {'max':>6s} {'exposure':>8s} {'>u':>4s} {'model':>6s} "
          f"{'own xi':>7s} {'sigma':>6s}   " + " ".join(f"{'t@' + format(h // 1000, 'd') + 'k h':>7s}" for h in HOURS)
          + f"   {'90 % @10k':>13s}")
    for j, (a, b) in enumerate(bounds):
        inside = [s for s in segments if a - 1e-6 <= length(s) < b - 1e-6]
        exceed = [s["score"] - tail.u for s in inside if s["score"] > tail.u]
        in_class = (grid >= a - 1e-9) & (grid < b - 1e-9)
        model = sum(above[m] * w[in_class].sum() / w.sum() for m, w in weight.items() if w.sum() > 0)
        own = "      -      -"
        if len(exceed) >= MIN_CLASS_EXCEEDANCES:
            xi, _, sigma = genpareto.fit(exceed, floc=0)
            own = f"{xi:7.3f} {sigma:6.3f}"
        room = sum(float(exposure(rows, [a])[0]) for rows in compared.values())
        spread = f"{cell(low[j]).strip()}-{cell(high[j]).strip()}" if boots else "-"
        strongest = max((s["score"] for s in inside), default=math.nan)
        print(f"  {a:5.1f}-{b:<5.1f} {len(inside):5d} {strongest:6.3f} {room:8.3f} {len(exceed):4d} {model:6.1f} "
              f"{own}   "
              + " ".join(f"{cell(thresholds[h][j][1]):>7s}" for h in HOURS) + f"   {spread:>13s}")
    print(f"  ('>1': above every reachable score, so that class decides nothing; bootstrap: {len(boots)} refits "
          f"of resampled segments)")
    print()
    print(f"estimated P(false match) per clean {cfg.false_match_suspect_seconds:g}-second suspect (target "
          f"{cfg.false_match_target:g}):")
    for h in HOURS:
        opens = next((a for a, t in thresholds[h] if t <= 1), None)
        print(f"  {h:>7,d} h: {probability(tail, cfg, h, thresholds[h]):.2e} with these thresholds "
              + (f"(segments of {opens:g} s or more can be decided)" if opens is not None
                 else "(nothing can be decided)")
              + f"; {probability(tail, cfg, h):.2e} at {cfg.match_threshold:g} for every length")
    at_base = [s for s in segments if s["score"] >= cfg.match_threshold]
    rooms = {m: float(exposure(rows, [cfg.min_match_seconds])[0]) for m, rows in compared.items()}
    observed = sum(sum(1 for s in at_base if carrier(s, compared) == m) / e for m, e in rooms.items() if e > 0)
    print(f"observed, no fit needed: {len(at_base)} segments at or above {cfg.match_threshold:g} (longest "
          f"{max((length(s) for s in at_base), default=0):g} s), {observed:.2f} per suspect-minute x catalogue-hour")
    print()


def doc(text: str) -> str:
    return textwrap.fill('"""' + text + '"""', width=CONFIG_WIDTH, initial_indent="    ", subsequent_indent="    ")


def config_block(result: dict, tail: TailModel, quantile: float, cfg: Config) -> str:
    """The fitted `Config` lines (fp/config.py), docstrings with the figures they rest on."""
    segments, compared = result["segments"], content(result)
    by_carrier = {}
    for s in segments:
        if s["score"] > tail.u:
            by_carrier[carrier(s, compared)] = by_carrier.get(carrier(s, compared), 0) + 1
    rows = length_thresholds(enforced(cfg, tail), 10_000)
    base = next((a for a, t in rows if t <= cfg.match_threshold), None)
    at_10k = ", ".join([f"{'above 1 (nothing decided)' if t > 1 else format(t, '.2f')} from {a:g} s"
                        for a, t in rows if t > cfg.match_threshold]
                       + ([f"{cfg.match_threshold:g} from {base:g} s on"] if base is not None else []))
    minutes = sum(s["duration"] for s in result["suspects"]) / 60

    def bounds(name: str) -> str:
        """A setting's bounds as fp/config.py writes them."""
        low, high = next(f for f in dataclasses.fields(Config) if f.name == name).metadata["bounds"]
        return "(" + ", ".join("math.inf" if math.isinf(v) else f"{v:g}" for v in (low, high)) + ")"

    return "\n".join([
        f"    false_match_u: float = setting({tail.u:.4f}, MATCH, {bounds('false_match_u')})",
        doc(f"False-match tail (`fp.matcher.calibration`), fitted by `make bench-false-matches` (which prints "
            f"these five settings): the score above which unrelated segments are modelled, the {quantile:g} "
            f"quantile of the {len(segments)} segments of {cfg.min_match_seconds:g} s or more found in "
            f"{len(result['pairs'])} unrelated suspect-title pairs of ../shared/media ({len(result['suspects'])} "
            f"suspects of at most a minute, {minutes:.0f} min, against {len(result['sources'])} titles, every "
            f"alignment searched); {tail.exceedances} exceed it ("
            + ", ".join(f"{n} {m}" for m, n in sorted(by_carrier.items())) + ")."),
        f"    false_match_rate: float = setting({tail.rate:.4g}, MATCH, {bounds('false_match_rate')})",
        doc("Segments of unrelated media scoring above `false_match_u` per suspect minute x catalogue hour "
            "of exposure (places where a segment fits, weighted by the share of segments of each length), "
            "summed over the modalities that carried them."),
        f"    false_match_xi: float = setting({tail.xi:.4f}, MATCH, {bounds('false_match_xi')})",
        doc("Shape of the generalised Pareto distribution of the excess over `false_match_u` (maximum "
            "likelihood)."),
        f"    false_match_sigma: float = setting({tail.sigma:.4f}, MATCH, {bounds('false_match_sigma')})",
        doc("Scale of that distribution (score units)."),
        f"    false_match_length_scale: float = setting({tail.length_scale:.4f}, MATCH, {bounds('false_match_length_scale')})",
        doc(f"Seconds over which the share of longer unrelated segments falls by a factor e (geometric "
            f"lengths, maximum likelihood; the longest measured {max(length(s) for s in segments):g} s). "
            f"Implied at 10,000 catalogue hours for a clean one-minute suspect: {at_10k}."),
    ])


def recall_cost(work: Path, tail: TailModel, cfg: Config, cache: Path) -> None:
    """How many of bench/accuracy.py's true segments the thresholds of each catalogue size lose.
    Its queries and index are read, never rebuilt: run `make bench-accuracy` first."""
    manifest, index = work / "queries" / "queries.json", index_dir(work, Config().visual_encoder)
    if not manifest.exists() or not (index / "fp.duckdb").exists():
        raise SystemExit(f"{work}: no accuracy benchmark there (run `make bench-accuracy` first)")
    queries = build_queries(work / "queries", 0, 0)  # read from its manifest
    stat = (index / "fp.duckdb").stat()
    code = [p for p in sorted((ROOT / "fp").rglob("*.py")) if p.name != "calibration.py"]
    state = f"{work} {stat.st_size} {stat.st_mtime_ns} {hashlib.sha256(manifest.read_bytes()).hexdigest()}"
    key = digest(code, state)
    path = cache / f"recall-{key}.json"
    if path.exists():
        found = json.loads(path.read_text())
    else:
        found = {"matches": {}}
        with Matcher(index, dataclasses.replace(Config(), false_match_enforced=False)) as matcher:
            if matcher.config.fingerprint_settings() != Config().fingerprint_settings():
                raise SystemExit(f"{index}: built with another fingerprint configuration than this release's; "
                                 f"run `make bench-accuracy` first")
            found["hours"] = matcher.reader.hours
            for i, q in enumerate(queries):
                found["matches"][q.query_id] = [m.to_dict() for m in matcher.match(q.path, min_score=0.0).matches]
                log(f"recall: matched {i + 1}/{len(queries)} {q.query_id}")
        path.write_text(json.dumps(found))
    truth = [s for q in queries for s in q.truth]
    positives = [q for q in queries if not q.negative]
    negatives = [q.query_id for q in queries if q.negative]

    def decided(hours: float | None) -> list[Prediction]:
        """The matches as decided at `hours` of catalogue (None: at `match_threshold` alone)."""
        params = DecisionParams.from_config(enforced(cfg, tail), hours) if hours else \
            DecisionParams.from_config(dataclasses.replace(cfg, false_match_enforced=False))
        return [Prediction(q.query_id, m["title_id"], m["query_start"], m["query_end"], m["ref_start"], m["ref_end"],
                           m["score"], m["decision"] == "match"
                           and m["score"] >= params.threshold(m["query_end"] - m["query_start"]))
                for q in queries for m in found["matches"][q.query_id]]

    print(f"recall cost on the accuracy benchmark ({work}: {len(positives)} copies, {len(negatives)} negatives, "
          f"catalogue {found['hours'] * 3600:.0f} s)")
    print(f"  {'catalogue':>22s} {'copies found':>12s} {'lost':>5s} {'recall':>7s} {'precision':>9s} {'FP neg':>7s}")
    base = decided(None)
    hits = {q.query_id for q in positives if hit(q, base)}
    losses = {}
    rows = [(f"{cfg.match_threshold:g} alone (before)", None), (f"{found['hours']:.2f} h (its own)", found["hours"])]
    for label, hours in rows + [(f"{h:,d} h", h) for h in HOURS]:
        predictions = base if hours is None else decided(hours)
        kept = {q.query_id for q in positives if hit(q, predictions)}
        losses[hours] = sorted(hits - kept)
        p, r, _ = decision_prf(predictions, truth)
        print(f"  {label:>22s} {len(kept):5d}/{len(positives):<6d} {len(hits - kept):5d} {r:7.3f} {p:9.3f} "
              f"{false_positive_queries(predictions, negatives):4d}/{len(negatives):<2d}")
    params = DecisionParams.from_config(enforced(cfg, tail), 10_000)
    by_id = {q.query_id: q for q in queries}
    for qid in losses[10_000]:
        q = by_id[qid]
        copy = q.truth[0]
        best = max((m for m in found["matches"][qid] if m["decision"] == "match" and m["title_id"] == copy.ref_id),
                   key=lambda m: m["score"])
        seconds = best["query_end"] - best["query_start"]
        print(f"  lost at 10k h: {qid} ({'+'.join(q.edits)}): copy {copy.query_end - copy.query_start:.1f} s, "
              f"best decided segment {seconds:.1f} s at {best['score']:.3f} < {params.threshold(seconds):.3f}")
    print()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workdir", type=Path, default=CACHE)
    parser.add_argument("--quantile", type=float, default=0.8, help="u: this quantile of the segment scores")
    parser.add_argument("--max-suspects", type=int, default=None,
                        help="use only the N longest files of ../shared/media (a quicker, rougher run)")
    parser.add_argument("--recall", type=Path, nargs="?", const=default_workdir(2026, 80), default=None,
                        metavar="ACCURACY_WORKDIR",
                        help="also report the true segments of bench/accuracy.py (its cached queries and index, "
                             "default %(const)s) that the thresholds lose")
    parser.add_argument("--json", type=Path, default=None, help="also write the measured segments and pairs here")
    args = parser.parse_args()
    if not SHARED.is_dir():
        raise SystemExit(f"{SHARED}: not found (the shared media folder)")
    args.workdir.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    result = run(args.workdir, args.max_suspects)
    if args.json:
        args.json.write_text(json.dumps(result))
    cfg = Config()
    summary(result, cfg)
    sensitivity(result, cfg)
    try:
        tail = fit(result, args.quantile, cfg)
    except ValueError as exc:
        raise SystemExit(f"no tail at quantile {args.quantile:g}: {exc}")
    print(f"chosen: quantile {args.quantile:g}: u {tail.u:.4f}, {tail.exceedances} exceedances from {tail.pairs} "
          f"pairs, rate {tail.rate:.4e}, xi {tail.xi:.4f}, sigma {tail.sigma:.4f}, length scale {tail.length_scale:.3f} s")
    by_length(result, tail, args.quantile, cfg)
    if args.recall:
        recall_cost(args.recall, tail, cfg, args.workdir)
    print("Config (fp/config.py: replace the five false_match_u ... false_match_length_scale settings):")
    print(config_block(result, tail, args.quantile, cfg))
    log(f"total {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
