"""What one suspect minute costs: warm `Matcher.match` against decoding what fp needs, same files.

    python -m bench.query_cost [--workdir DIR] [--limit N] [--phases 1,2,4] [--set NAME=VALUE]
    (or `make bench-query`)

Uses the public accuracy benchmark's queries and index (bench/accuracy.py builds and caches
them). Per query it times, in one process: decode-only (every frame fp samples, at its rate and
size, plus the 16 kHz mono soundtrack) and a warm match (models loaded, index open). It prints
the totals per suspect minute and their ratio: the platform's cost of an upload, in units of
the least any decoding fingerprinter pays. `--phases` times the warm match once per number of
picture phases (`Config.query_phases`), the same queries in the same process; `--set` times fp
with other match settings (`Config.with_settings`).
"""

from __future__ import annotations

import argparse
import dataclasses
import time
from pathlib import Path

from bench.accuracy import build_queries, default_workdir, index_dir, prepare_catalogue
from fp.config import Config
from fp.data import iter_frames, probe
from fp.data.decode import decode_audio
from fp.fingerprint.audio import SAMPLE_RATE
from fp.fingerprint.extract import Fingerprinter
from fp.index import index_catalogue
from fp.matcher import Matcher


def decode_only(path: str, config: Config) -> float:
    """Seconds to decode what fp fingerprints of `path`: its sampled frames and its soundtrack."""
    start = time.perf_counter()
    info = probe(path)
    for _ in iter_frames(info, config.frame_rate, config.frame_size):
        pass
    if info.has_audio:
        decode_audio(info, SAMPLE_RATE)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--queries", type=int, default=80)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--limit", type=int, default=None, help="Time only the first N queries.")
    parser.add_argument("--phases", default=str(Config().query_phases),
                        help="Comma-separated picture phase counts to time the match with (query_phases).")
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                        help="a match setting to time fp with (repeatable)")
    args = parser.parse_args()
    work = args.workdir or default_workdir(args.seed, args.queries)
    prepare_catalogue(work)
    queries = build_queries(work / "queries", args.queries, args.seed)[:args.limit]
    try:
        config = Config().with_settings(args.set)
    except ValueError as exc:
        parser.error(str(exc))
    index = index_dir(work, config.visual_encoder)  # the accuracy benchmark's, for the default encoder
    index_catalogue(work / "catalogue", index, config)
    minutes = sum(probe(q.path).duration for q in queries) / 60
    decode_s = sum(decode_only(q.path, config) for q in queries)
    print(f"{len(queries)} queries, {minutes:.1f} suspect minutes")
    print(f"decode only:  {decode_s / minutes:6.2f} s per suspect minute")
    fingerprinter = Fingerprinter(config)  # models loaded once; each matcher's settings shape its queries
    for phases in (int(p) for p in args.phases.split(",")):
        phased = dataclasses.replace(config, query_phases=phases)
        match_s = 0.0
        with Matcher(index, phased, fingerprinter) as matcher:
            matcher.match(queries[0].path)  # warm: models loaded, first tracks read
            for q in queries:
                start = time.perf_counter()
                matcher.match(q.path)
                match_s += time.perf_counter() - start
        print(f"warm match, {phases} phase{'s' * (phases > 1)}: {match_s / minutes:6.2f} s per suspect minute, "
              f"{match_s / decode_s:.2f}x decode")


if __name__ == "__main__":
    main()
