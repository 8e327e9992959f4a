"""False matches at catalogue scale: the tail of the scores of real non-copies, and the decision
threshold it implies at 1k, 10k and 100k catalogue hours.

    python -m bench.false_matches [--workdir DIR] [--quantile Q] [--max-suspects N] [--json FILE]
    (or `make bench-false-matches`)

Every file of ../shared/media is distinct content except the three natural copy pairs listed in
its README, which are never paired. The catalogue holds every video and every audio file laid
over a black picture (a soundtrack-only title); the suspects are the same files cut into
non-overlapping pieces of at most `MAX_SUSPECT_SECONDS`. Each suspect is aligned with every
title of other content: every title plays both roles, so all pairs are measured with one index.

**What is measured.** The quantity the decision threshold is compared with: the `score` of a
segment that `decide` could turn into a `match` (an `AlignedSegment` of fp's own alignment,
after the same title's duplicates are dropped and drifting pieces chained, at least
`min_match_seconds` long). All alignments are searched, not only those the candidate stage
would vote for: for every suspect-title pair, hypotheses tile every offset from the suspect's
end at the title's start to its start at the title's end, `align_radius_seconds` apart on each
side, each localised by `Matcher._localise` (the production code path, picture variants
included) with `candidate_threshold` = 0, so no segment is dropped for scoring low. The per-
sample floor `frame_min_similarity` is kept: it defines where a segment starts and ends, so
lowering it would measure another quantity; segments are complete above it, which is all the
tail fit uses. This is an upper bound on what the candidate stage lets through; another
title's better alignment (rivals) is not applied either.

**Exposure.** A segment of at least L = `min_match_seconds` can sit in about (q - L) x (r - L)
places of a q-second suspect and an r-second title, so each pair counts (q - L)/60 suspect
minutes x (r - L)/3600 catalogue hours, q and r being the seconds *with content* of the
modality (blank frames and silence excluded), per modality compared. A segment is credited
to the modality that carried it (the highest of its modalities on the common scale); the rate
is the sum over modalities of exceedances / that modality's exposure, since rare events of
independent modalities add up: a suspect with picture and sound against a catalogue with both
meets both chances.

**Fit.** Peaks over threshold (`fp.matcher.calibration.fit_tail`): u is the `--quantile` (0.8)
of all measured segment scores, the excesses above it are fitted with a generalised Pareto
distribution by maximum likelihood (location 0); a bootstrap over the exceedances (their
number Poisson-resampled too) gives the spread of the implied threshold. Exceedances are
counted per segment, not declustered per pair: one look-alike pair can give several. Printed:
per-pair maxima (fused score and raw per-modality means), segments by duration, the fit at
several quantiles, the segments observed at or above `match_threshold` per exposure (no fit
needed there), the thresholds at
1k, 10k and 100k hours for a target of 1 false match per 1,000 clean one-minute suspects, the
false-match probability at the configured `match_threshold`, and the `Config` lines.

Work is cached under ~/.cache/fp-false-matches (the derived media once; the index and the
suspects' fingerprints per version of the fingerprinting code; the alignments per version of
the matching code), so a rerun with unchanged code only fits.
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
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from fp.config import FINGERPRINT, MATCH, Config
from fp.data.edits import Clip, black_picture
from fp.data.probe import probe, require_tool
from fp.index import index_catalogue
from fp.matcher import Matcher
from fp.matcher.calibration import TailModel, fit_tail
from fp.matcher.decisions import DecisionParams, chain, dedupe
from fp.matcher.types import Hypothesis

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "media"
NATURAL_PAIRS = [("video/psd_goldeneye_rotated_audio.mp4", "video/psd_goldeneye_vfr_drop3.mp4"),
                 ("video/dvrscan_traffic_camera.mp4", "video/dvrscan_traffic_camera_vfr.mp4"),
                 ("video/moviepy_big_buck_bunny_0_30.webm", "video/bower_bbb_480p_30s.mp4")]
"""Same content in two encodes (../shared/media/README.md): never a non-copy pair."""
"""Files left out by name prefix (see the module docstring)."""
MAX_SUSPECT_SECONDS = 60.0
"""Longer files are cut into this many seconds or fewer per suspect (one-minute suspects)."""
HOURS = (1_000, 10_000, 100_000)
QUANTILES = (0.5, 0.9, 0.99, 0.999, 1.0)
FIT_QUANTILES = (0.7, 0.75, 0.8, 0.85, 0.9, 0.95)
DURATIONS = (4.0, 6.0, 8.0, 10.0)
"""Lower ends of the segment-duration bands shown (seconds)."""
BOOTSTRAP = 300
MODALITIES = ("visual", "audio", "text")
ALIGNMENT_VERSION = 1
"""Bump when `measure` changes what it records (the alignments are cached by it)."""
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
            if not title.exists():
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
    L = cfg.min_match_seconds
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
            exposure = {m: max(q.get(m, 0.0) - L, 0.0) / 60 * max(r.get(m, 0.0) - L, 0.0) / 3600
                        for m in MODALITIES if q.get(m, 0.0) > 0 and r.get(m, 0.0) > 0}
            if not exposure:
                continue  # nothing to compare: no chance of a false match
            found = []
            for offset in tiled_offsets(query.info.duration, title.duration, cfg.align_radius_seconds):
                hyp = Hypothesis(title.title_id, offset, 0.0, variants)
                found += [(title.title_id, seg) for seg in matcher._localise(query, hyp)]
            kept = [seg for _, seg in chain(dedupe(found, params.dedupe_overlap), params)
                    if seg.query_end - seg.query_start >= params.min_match_seconds]
            pairs.append({"suspect": s.suspect_id, "source": s.source, "title": src.name, "exposure": exposure})
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
    settings = json.dumps(Config().group(FINGERPRINT), sort_keys=True)
    fp_key = digest([ROOT / "fp" / "fingerprint", ROOT / "fp" / "data"], settings)
    index_key = digest([ROOT / "fp" / "index"], fp_key)
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


def fit(result: dict, quantile: float, rng: np.random.Generator | None = None) -> TailModel:
    segments = result["segments"]
    exposure = {m: sum(p["exposure"].get(m, 0.0) for p in result["pairs"]) for m in MODALITIES}
    scores = [s["score"] for s in segments]
    # rare events: a carrier without measured exposure cannot be rated, count it on the picture's
    carriers = [s["carrier"] if exposure[s["carrier"]] > 0 else "visual" for s in segments]
    if rng is not None:  # bootstrap: resample the exceedances (their number Poisson) and the rest alike
        idx = rng.integers(0, len(scores), rng.poisson(len(scores)))
        scores, carriers = [scores[i] for i in idx], [carriers[i] for i in idx]
    return fit_tail(scores, {m: e for m, e in exposure.items() if e > 0}, strata=carriers, quantile=quantile,
                    pairs=len(result["pairs"]))


def report(result: dict, quantile: float, cfg: Config) -> None:
    pairs, segments = result["pairs"], result["segments"]
    suspects, sources = result["suspects"], result["sources"]
    trained = audio_training_sources()
    minutes = sum(s["duration"] for s in suspects) / 60
    hours = sum(s["duration"] for s in sources) / 3600
    print(f"false matches: {len(suspects)} suspects ({minutes:.1f} min) x {len(sources)} titles "
          f"({hours * 60:.1f} min), {len(pairs)} unrelated pairs with something to compare, "
          f"{len(segments)} segments of >= {cfg.min_match_seconds:g} s")
    for m in MODALITIES:
        n = sum(1 for p in pairs if m in p["exposure"])
        e = sum(p["exposure"].get(m, 0.0) for p in pairs)
        if n:
            print(f"  {m:7s} compared in {n:5d} pairs: exposure {e:.4f} suspect-min x catalogue-h")
    print()
    print("per-pair maximum (pairs without a segment rank lowest, '-')")
    print("                       " + " ".join(f"{'q' + format(q * 100, 'g'):>7s}" for q in QUANTILES[:-1])
          + "     max   pairs with a value")
    best: dict[tuple, dict] = {}
    for s in segments:
        key = (s["suspect"], s["title"])
        row = best.setdefault(key, {})
        row["fused"] = max(row.get("fused", -1.0), s["score"])
        for m, v in s["modalities"].items():
            if v is not None:
                row[m] = max(row.get(m, -1.0), v)
    print(f"  {'fused score':20s} " + quantile_row([r["fused"] for r in best.values()], len(pairs)))
    for m in MODALITIES:
        compared = [p for p in pairs if m in p["exposure"]]
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
        print(f"  {s['score']:.3f}  {s['suspect']} {s['query'][0]:.1f}-{s['query'][1]:.1f} s ~ {s['title']} "
              f"{s['ref'][0]:.1f}-{s['ref'][1]:.1f} s  ({mods}; carried by {s['carrier']})")
    print()
    print("segments by duration (seconds of the suspect)")
    for lo, hi in zip(DURATIONS, DURATIONS[1:] + (math.inf,)):
        band = [s["score"] for s in segments if lo <= s["query"][1] - s["query"][0] < hi]
        print(f"  {lo:4.0f}-{hi:<4.0f} s: {len(band):4d} segments, strongest "
              + (f"{max(band):.3f}" if band else "-"))
    print()
    print("peaks over threshold (generalised Pareto on the excess over u; rate per suspect-minute x "
          "catalogue-hour)")
    target = cfg.false_match_target
    print(f"  {'quantile':>8s} {'u':>6s} {'exceed':>6s} {'rate':>9s} {'xi':>7s} {'sigma':>7s}   "
          + "  ".join(f"t@{h // 1000}k h" for h in HOURS) + "   "
          + "  ".join(f"P(t={cfg.match_threshold:g})@{h // 1000}k" for h in HOURS))
    models = {}
    for q in FIT_QUANTILES:
        try:
            tail = fit(result, q)
        except ValueError as exc:
            print(f"  {q:8.2f}  {exc}")
            continue
        models[q] = tail
        probs = ["     n/a" if cfg.match_threshold < tail.u else f"{tail.probability(cfg.match_threshold, h):8.2e}"
                 for h in HOURS]
        print(f"  {q:8.2f} {tail.u:6.3f} {tail.exceedances:6d} {tail.rate:9.3e} {tail.xi:7.3f} {tail.sigma:7.4f}   "
              + "  ".join(f"{tail.threshold(h, target):7.3f}" for h in HOURS) + "   "
              + "  ".join(f"{p:>14s}" for p in probs))
    if quantile not in models:
        try:
            models[quantile] = fit(result, quantile)
        except ValueError as exc:
            print(f"\nno tail at quantile {quantile:g}: {exc}")
            return
    chosen = models[quantile]
    rng = np.random.default_rng(0)
    boots = []
    for _ in range(BOOTSTRAP):
        try:
            boots.append(fit(result, quantile, rng).threshold(10_000, target))
        except ValueError:
            continue
    lo, mid, hi = np.percentile(boots, [5, 50, 95])
    per_modality = {}
    for s in segments:
        if s["score"] > chosen.u:
            per_modality[s["carrier"]] = per_modality.get(s["carrier"], 0) + 1
    print(f"\nchosen: quantile {quantile:g}: u {chosen.u:.4f}, {chosen.exceedances} exceedances "
          f"({', '.join(f'{m} {n}' for m, n in sorted(per_modality.items()))}) from {chosen.pairs} pairs, "
          f"rate {chosen.rate:.4e}, xi {chosen.xi:.4f}, sigma {chosen.sigma:.4f}")
    at10k = chosen.threshold(10_000, target)
    print(f"threshold at 10k h for {target:g} per clean one-minute suspect: {at10k:.3f} "
          f"(bootstrap 90 % interval {lo:.3f}-{hi:.3f}, median {mid:.3f}, {len(boots)} fits)"
          + ("; unattainable: no score exceeds 1" if at10k > 1 else ""))
    exposure = {m: sum(p["exposure"].get(m, 0.0) for p in pairs) for m in MODALITIES}
    above = [s for s in segments if s["score"] >= cfg.match_threshold]
    observed = sum(sum(1 for s in above if s["carrier"] == m) / e for m, e in exposure.items() if e > 0)
    print(f"observed, no fit needed: {len(above)} segments at or above {cfg.match_threshold:g}, "
          f"{observed:.2f} per suspect-minute x catalogue-hour: "
          + ", ".join(f"{observed * h:,.0f} expected per clean one-minute suspect at {h // 1000}k h" for h in HOURS))
    if cfg.match_threshold >= chosen.u:
        for h in HOURS:
            print(f"  at {h:>7,d} h: threshold {chosen.threshold(h, target):.3f}; "
                  f"P(false match | clean 1-min suspect) at {cfg.match_threshold:g}: "
                  f"{chosen.probability(cfg.match_threshold, h):.2e} "
                  f"({chosen.expected(cfg.match_threshold, h):,.0f} expected)")
    print("\nConfig (fp/config.py, MATCH group):")
    print(f"    false_match_u = {chosen.u:.4f}\n    false_match_rate = {chosen.rate:.4g}\n"
          f"    false_match_xi = {chosen.xi:.4f}\n    false_match_sigma = {chosen.sigma:.4f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workdir", type=Path, default=CACHE)
    parser.add_argument("--quantile", type=float, default=0.8, help="u: this quantile of the segment scores")
    parser.add_argument("--max-suspects", type=int, default=None,
                        help="use only the N longest files of ../shared/media (a quicker, rougher run)")
    parser.add_argument("--json", type=Path, default=None, help="also write the measured segments and pairs here")
    args = parser.parse_args()
    if not SHARED.is_dir():
        raise SystemExit(f"{SHARED}: not found (the shared media folder)")
    args.workdir.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    result = run(args.workdir, args.max_suspects)
    if args.json:
        args.json.write_text(json.dumps(result))
    report(result, args.quantile, Config())
    log(f"total {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
