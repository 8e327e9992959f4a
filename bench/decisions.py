"""Decision cost per suspect against the number of aligned segments it brings: a long suspect
against a large catalogue aligns thousands (hypotheses x `max_segments_per_hypothesis`).

    python -m bench.decisions [--segments 500,2000,5000,20000]

Segments: random stretches of a two-hour suspect, 4-30 s long, scores 0.3-0.9, spread over 200
titles (seeded); the time is `fp.matcher.decisions.decide` on them, dedupe to judgement.
"""

from __future__ import annotations

import argparse
import random
import time

from fp.config import Config
from fp.matcher.align import AlignedSegment
from fp.matcher.decisions import DecisionParams, decide

SUSPECT_SECONDS = 7200.0
LENGTHS = (4.0, 30.0)
SCORES = (0.3, 0.9)
TITLES = 200
CATALOGUE_HOURS = 1000.0
SEED = 0


def segments(n: int, rng: random.Random) -> list[tuple[str, AlignedSegment]]:
    out = []
    for _ in range(n):
        q0, length, r0 = rng.uniform(0, SUSPECT_SECONDS), rng.uniform(*LENGTHS), rng.uniform(0, SUSPECT_SECONDS)
        score = rng.uniform(*SCORES)
        out.append((f"t{rng.randrange(TITLES)}", AlignedSegment(q0, q0 + length, r0, r0 + length, score,
                                                                 {"visual": score})))
    return out


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--segments", default="500,2000,5000,20000")
    args = ap.parse_args(argv)
    params = DecisionParams.from_config(Config(), CATALOGUE_HOURS)
    print(f"{'segments':>9} | {'kept':>6} | {'seconds':>7}")
    for n in [int(v) for v in args.segments.split(",")]:
        found = segments(n, random.Random(SEED))
        start = time.perf_counter()
        kept = decide(found, params)
        print(f"{n:>9} | {len(kept):>6} | {time.perf_counter() - start:7.2f}")


if __name__ == "__main__":
    main()
