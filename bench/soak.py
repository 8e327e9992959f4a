"""Soak: 200 `Matcher.match` calls in one process; memory must stay flat.

    python -m bench.soak [--calls N]
"""

from __future__ import annotations

import argparse
import gc
import tempfile
import time
from pathlib import Path

from fp.data.edits import Clip, pirate
from fp.index import index_catalogue
from fp.matcher import Matcher

ROOT = Path(__file__).resolve().parents[1]


def rss_mib() -> float:
    """Resident memory of this process now (not the peak)."""
    with open("/proc/self/statm") as handle:
        pages = int(handle.read().split()[1])
    import os

    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        index_catalogue(ROOT / "examples" / "catalogue", tmp / "idx")
        queries = [
            pirate(Clip(str(ROOT / "examples/catalogue/car_detection.mp4"), 5, 8), tmp / "a.mp4", edits=["crop10"]),
            pirate(Clip(str(ROOT / "examples/catalogue/open-movies/sintel_clip.mp4"), 1, 8), tmp / "b.mp4"),
            pirate(Clip(str(ROOT / "examples/suspects/bottle_detection_clean.mp4"), 3, 8), tmp / "c.mp4"),
        ]
        matcher = Matcher(tmp / "idx")
        samples, started = [], time.perf_counter()
        for i in range(1, args.calls + 1):
            matcher.match(queries[i % len(queries)])
            if i in (1, 10, 20, 50, 100, 150, args.calls):
                gc.collect()
                samples.append((i, rss_mib(), time.perf_counter() - started))
        matcher.close()
    print(f"{'calls':>6s} {'RSS MiB':>8s} {'elapsed s':>10s}")
    for i, rss, t in samples:
        print(f"{i:6d} {rss:8.1f} {t:10.1f}")
    base = next(rss for i, rss, _ in samples if i == 20)
    print(f"growth from call 20 to call {args.calls}: {samples[-1][1] - base:+.1f} MiB")


if __name__ == "__main__":
    main()
