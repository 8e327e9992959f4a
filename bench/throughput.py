"""Fingerprinting throughput and `fp match` latency on the demo catalogue.

    python -m bench.throughput            (or `make bench`)
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from fp.config import Config
from fp.data import iter_frames, probe, scan_catalogue
from fp.fingerprint.extract import Fingerprinter
from fp.index import index_catalogue
from fp.matcher import Matcher

ROOT = Path(__file__).resolve().parents[1]
CATALOGUE = ROOT / "examples" / "catalogue"
SUSPECTS = sorted((ROOT / "examples" / "suspects").glob("*.mp4"))


def main() -> None:
    config = Config()
    print(f"machine: {torch.get_num_threads()} torch threads, "
          f"{'CUDA ' + torch.cuda.get_device_name() if torch.cuda.is_available() else 'CPU only'}")
    entries = scan_catalogue(CATALOGUE)
    media = sum(probe(e.path).duration for e in entries)

    start = time.perf_counter()
    for e in entries:
        for _ in iter_frames(probe(e.path), config.frame_rate, config.frame_size):
            pass
    decode = time.perf_counter() - start

    start = time.perf_counter()
    fingerprinter = Fingerprinter(config)
    fingerprinter.visual.encode(np.zeros((2, 224, 224, 3), np.uint8))
    load = time.perf_counter() - start
    frames = np.random.default_rng(0).integers(0, 255, (64, 224, 224, 3), dtype=np.uint8)
    start = time.perf_counter()
    fingerprinter.visual.encode(frames)
    encode_rate = len(frames) / (time.perf_counter() - start)

    with tempfile.TemporaryDirectory() as tmp:
        summary = index_catalogue(CATALOGUE, Path(tmp) / "idx", config, fingerprinter=fingerprinter)
        again = index_catalogue(CATALOGUE, Path(tmp) / "idx", config, fingerprinter=fingerprinter)
        start = time.perf_counter()
        matcher = Matcher(Path(tmp) / "idx", fingerprinter=fingerprinter)
        open_s = time.perf_counter() - start
        rows = []
        for path in SUSPECTS:
            times = []
            for _ in range(3):
                start = time.perf_counter()
                report = matcher.match(path)
                times.append(time.perf_counter() - start)
            rows.append((path.name, report.query_duration, statistics.median(times), report.found))
        matcher.close()
        cold = []
        for path in SUSPECTS:
            start = time.perf_counter()
            subprocess.run([sys.executable, "-m", "fp", "match", str(path), "--index",
                            str(Path(tmp) / "idx")], capture_output=True, check=False)
            cold.append(time.perf_counter() - start)

    print(f"demo catalogue: {len(entries)} titles, {media:.1f} s of video")
    print(f"decode only (ffmpeg -> numpy at {config.frame_rate:g} fps, {config.frame_size} px): "
          f"{media / decode:.1f} s of video per wall second")
    print(f"encoder {config.visual_encoder}: {encode_rate:.1f} frames/s (load {load:.1f} s)")
    print(f"fingerprinting + indexing: {summary.media_seconds / summary.wall_seconds:.1f} s of video "
          f"per wall second ({summary.media_seconds:.0f} s in {summary.wall_seconds:.1f} s)")
    print(f"re-index of the unchanged catalogue: {again.wall_seconds:.2f} s, "
          f"{len(again.unchanged)} titles skipped")
    print(f"index open (Matcher): {open_s:.2f} s")
    print(f"{'suspect':34s} {'length':>7s} {'match (warm)':>13s} {'x real time':>12s} {'fp match (cold CLI)':>20s}")
    for (name, duration, warm, found), c in zip(rows, cold):
        print(f"{name:34s} {duration:6.1f}s {warm:12.2f}s {duration / warm:11.1f}x {c:19.2f}s"
              f"  {'match' if found else 'no match'}")


if __name__ == "__main__":
    main()
