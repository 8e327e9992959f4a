"""A feature-length title: what indexing it costs (time, peak memory) and whether a copy from deep
inside it is found where it is.

    python -m bench.long_title [--minutes 120] [--workdir DIR]    (make bench-long; ~6 minutes)

The title is spliced from ../shared/media: a cycle of distinct clips with their sound, repeated
to `--minutes`, with one more clip (the planted clip) at `PLANTED_AT` of its length; pieces are
joined by stream copy, so building it costs seconds. Indexing and matching each run in a fresh
process whose own peak resident memory is reported (ffmpeg's is not counted). The suspect is
`SUSPECT_SECONDS` of the planted clip, cut from the title, cropped, with a logo box, re-encoded
hard; it must be matched at the planted clip's place in the title.
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

from fp.data.edits import Clip, pirate, splice
from fp.data.probe import probe, require_tool

ROOT = Path(__file__).resolve().parents[1]
MEDIA = ROOT.parent / "shared" / "media" / "video"
CYCLE = ["moviepy_chaplin.mp4", "mejs_echo-hereweare.webm", "mmaction2_basketball.mp4", "videollama_boat.mp4",
         "videollava_demo22_drums.mp4", "askany_yoga.mp4", "intel_car-detection.mp4", "videollama_ironman.mp4"]
"""Clips of ../shared/media (20 s or less of each) repeated to make up the title."""
CYCLE_SECONDS = 20.0
PLANTED = "psd_tv_documentary.mp4"
"""The clip the suspect copies, once in the title."""
PLANTED_AT = 0.8
"""Where the planted clip sits, as a share of the title's length."""
SUSPECT_SECONDS = 15.0
SUSPECT_OFFSET = 3.0
"""The suspect starts this many seconds into the planted clip."""
START_TOLERANCE = 1.0
"""Seconds within which the match must place the suspect in the title."""


def build_title(work: Path, minutes: float) -> tuple[Path, float]:
    """The long title (cached) and where the planted clip starts in it, seconds."""
    title, meta = work / f"title-{minutes:g}min.mp4", work / f"title-{minutes:g}min.json"
    if title.is_file() and meta.is_file():
        return title, json.loads(meta.read_text())["planted_start"]
    cycle = splice([Clip(str(MEDIA / n), 0.0, min(CYCLE_SECONDS, probe(MEDIA / n).duration)) for n in CYCLE],
                   work / "cycle.mp4", audio=True)
    planted = splice([Clip(str(MEDIA / PLANTED), 0.0, probe(MEDIA / PLANTED).duration)], work / "planted.mp4",
                     audio=True)
    cycle_s, planted_s = probe(cycle).duration, probe(planted).duration
    before = max(1, round(minutes * 60 * PLANTED_AT / cycle_s))
    after = max(1, round((minutes * 60 - planted_s) / cycle_s) - before)
    pieces = [cycle] * before + [planted] + [cycle] * after
    listing = work / "pieces.txt"
    listing.write_text("".join(f"file '{p}'\n" for p in pieces))
    subprocess.run([require_tool("ffmpeg"), "-nostdin", "-v", "error", "-y", "-f", "concat", "-safe", "0",
                    "-i", str(listing), "-c", "copy", str(title)], check=True, stdin=subprocess.DEVNULL)
    # the demuxer joins at packet boundaries: measure the planted clip's start in the title
    start = sum(probe(p).duration for p in pieces[:before])
    meta.write_text(json.dumps({"planted_start": start}))
    return title, start


def measure(step: str, *args: str) -> dict:
    """Run `step` in a fresh process; its result with seconds and peak resident memory (MB)."""
    out = subprocess.run([sys.executable, "-m", "bench.long_title", "--step", step, *args], check=True,
                         capture_output=True, text=True, cwd=ROOT).stdout
    return json.loads(out.strip().splitlines()[-1])


def run_step(step: str, args: list[str]) -> None:
    """The measured work, in this process: prints one JSON line."""
    from fp.config import Config
    from fp.index import index_catalogue
    from fp.matcher import Matcher

    start = time.perf_counter()
    if step == "index":
        title, index = args
        index_catalogue(Path(title), Path(index), Config())
        result: dict = {}
    else:
        suspect, index = args
        with Matcher(index) as matcher:
            report = matcher.match(suspect)
        result = {"matches": [[m.title_id, m.decision, m.score, m.query_start, m.query_end, m.ref_start, m.ref_end,
                               m.modalities] for m in report.matches]}
    result["seconds"] = time.perf_counter() - start
    result["peak_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(result))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, default=120.0)
    ap.add_argument("--workdir", type=Path, default=Path.home() / ".cache" / "fp-match" / "bench-long-title")
    ap.add_argument("--step", choices=["index", "match"], help=argparse.SUPPRESS)
    ap.add_argument("args", nargs="*", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.step:
        return run_step(args.step, args.args)
    work = args.workdir
    work.mkdir(parents=True, exist_ok=True)
    title, planted_start = build_title(work, args.minutes)
    duration = probe(title).duration
    print(f"title: {duration / 60:.1f} min ({title.stat().st_size / 1e6:.0f} MB); planted clip at "
          f"{planted_start / 60:.1f} min")
    index = work / f"index-{args.minutes:g}min"
    shutil.rmtree(index, ignore_errors=True)
    done = measure("index", str(title), str(index))
    print(f"fp index: {done['seconds']:.0f} s, {duration / done['seconds']:.1f}x real time, "
          f"peak {done['peak_mb']:.0f} MB")
    truth = planted_start + SUSPECT_OFFSET
    suspect = pirate(Clip(str(title), truth, SUSPECT_SECONDS), work / "suspect.mp4", edits=["crop10", "logo"])
    found = measure("match", str(suspect), str(index))
    hits = [m for m in found["matches"] if m[1] == "match"]
    print(f"fp match ({SUSPECT_SECONDS:.0f} s suspect, cropped, logo, re-encoded): {found['seconds']:.1f} s, "
          f"peak {found['peak_mb']:.0f} MB")
    for _, decision, score, q0, q1, r0, r1, modalities in hits:
        each = ", ".join(f"{k} {v:.2f}" for k, v in modalities.items() if v is not None)
        print(f"  {decision} {score:.3f} ({each}): suspect {q0:.1f}-{q1:.1f} s = title {r0 / 60:.2f}-{r1 / 60:.2f} "
              f"min (truth {truth / 60:.2f} min, start error {abs(r0 - q0 - truth):.2f} s)")
    placed = any(abs(r0 - q0 - truth) <= START_TOLERANCE for *_, q0, _, r0, _, _ in hits)
    print(f"copy placed within {START_TOLERANCE:g} s: {'yes' if placed else 'NO'}")


if __name__ == "__main__":
    main()
