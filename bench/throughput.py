"""Throughput and accuracy per encoder runtime, in one run on the public accuracy benchmark's
catalogue (15 titles, 505 s) and queries (bench/accuracy.py: same draw, same metrics).

    python -m bench.throughput [--runtimes torch,onnx,onnx-int8] [--no-accuracy] [--baseline]
        [--set FINGERPRINT_SETTING=VALUE ...]  (or `make bench`)

Prints: decode-only speed (fp's decoder options, and ffmpeg's defaults); per runtime the encoders'
frames (windows) per second, fingerprinting + indexing speed, seconds of compute per minute of
suspect and micro-AP / recall at the default decision; the int8 queries against the torch index
(runtimes are interchangeable); re-indexing an unchanged catalogue and a cold `fp match`. With
`--baseline`, also torch with ffmpeg's default decoding (what fp did before). Speeds are in
seconds of video per wall second ("x real time"); the load average is printed beside them.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager, nullcontext
from pathlib import Path

import numpy as np
import torch

from bench.accuracy import build_queries, default_workdir, hit, prepare_catalogue, run_fp
from bench.metrics import decision_prf, micro_ap
from fp.config import FINGERPRINT, Config
from fp.data import decode, iter_frames, probe, scan_catalogue
from fp.fingerprint.runtime import RUNTIME_ENV, RUNTIMES
from fp.fingerprint.extract import Fingerprinter
from fp.index import index_catalogue

ROOT = Path(__file__).resolve().parents[1]
SUSPECTS = sorted((ROOT / "examples" / "suspects").glob("*.mp4"))
ENCODER_FRAMES = 256
"""Real frames (the catalogue's first) each encoder is timed on, in batches of 32."""


def load() -> str:
    return "load %.1f" % os.getloadavg()[0]


@contextmanager
def ffmpeg_defaults():
    """Frames decoded with ffmpeg's default options (all threads, deblocking on)."""
    lean = decode.FRAME_DECODER_OPTIONS
    decode.FRAME_DECODER_OPTIONS = {}
    try:
        yield
    finally:
        decode.FRAME_DECODER_OPTIONS = lean


@contextmanager
def runtime_env(runtime: str):
    """Matchers built inside (bench.accuracy.run_fp) fingerprint on `runtime`."""
    before = os.environ.get(RUNTIME_ENV)
    os.environ[RUNTIME_ENV] = runtime
    try:
        yield
    finally:
        if before is None:
            del os.environ[RUNTIME_ENV]
        else:
            os.environ[RUNTIME_ENV] = before


def decode_speed(entries, config: Config) -> float:
    start = time.perf_counter()
    for e in entries:
        for _ in iter_frames(probe(e.path), config.frame_rate, config.frame_size):
            pass
    return time.perf_counter() - start


def encoder_speed(fingerprinter: Fingerprinter, frames: np.ndarray, windows: np.ndarray) -> tuple[float, float]:
    """Frames per second of the picture encoder, windows per second of the audio encoder."""
    fingerprinter.visual.encode(frames[:32])  # load, and plan for this batch size
    fingerprinter.audio.encode(windows[:32])
    start = time.perf_counter()
    for i in range(0, len(frames), 32):
        fingerprinter.visual.encode(frames[i:i + 32])
    visual = len(frames) / (time.perf_counter() - start)
    start = time.perf_counter()
    fingerprinter.audio.encode(windows)
    return visual, len(windows) / (time.perf_counter() - start)


def accuracy(index: Path, queries, runtime: str, minutes: float) -> str:
    with runtime_env(runtime):
        predictions, spent = run_fp(index, queries)
    truth = [s for q in queries for s in q.truth]
    _, recall, _ = decision_prf(predictions, truth)
    found = sum(hit(q, predictions) for q in queries if not q.negative)
    return (f"micro-AP {micro_ap(predictions, truth):.3f}  recall at decision {recall:.3f} "
            f"({found}/{sum(not q.negative for q in queries)} copies found)  "
            f"{spent / minutes:.1f} s per suspect minute ({load()})")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runtimes", default=",".join(RUNTIMES), help="comma-separated, of: " + ", ".join(RUNTIMES))
    parser.add_argument("--no-accuracy", action="store_true", help="skip matching the queries")
    parser.add_argument("--baseline", action="store_true", help="also torch with ffmpeg's default decoding")
    parser.add_argument("--queries", type=int, default=80)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                        help="a fingerprint setting, e.g. reframe_track=false (repeatable)")
    args = parser.parse_args()
    runtimes = args.runtimes.split(",")
    try:
        config = Config().with_settings(args.set, FINGERPRINT)
    except ValueError as exc:
        parser.error(str(exc))
    work = default_workdir(args.seed, args.queries)
    prepare_catalogue(work)
    queries = [] if args.no_accuracy else build_queries(work / "queries", args.queries, args.seed)
    minutes = sum(probe(q.path).duration for q in queries) / 60
    entries = scan_catalogue(work / "catalogue")
    media = sum(probe(e.path).duration for e in entries)
    print(f"machine: {os.cpu_count()} CPUs, {torch.get_num_threads()} torch threads, "
          f"{'CUDA ' + torch.cuda.get_device_name() if torch.cuda.is_available() else 'no GPU'}; {load()}")
    print(f"catalogue: {len(entries)} titles, {media:.0f} s; queries: {len(queries)} ({minutes:.1f} min)")
    if args.set:
        print("fingerprint settings: " + ", ".join(args.set))

    lean = decode_speed(entries, config)
    print(f"decode only, fp's options {decode.FRAME_DECODER_OPTIONS}: {media / lean:.1f}x real time ({load()})")
    with ffmpeg_defaults():
        full = decode_speed(entries, config)
    print(f"decode only, ffmpeg's defaults: {media / full:.1f}x real time ({load()})")

    frames = np.concatenate(list(iter_frames(probe(entries[0].path), config.frame_rate, config.frame_size)))
    frames = np.resize(frames, (ENCODER_FRAMES, *frames.shape[1:]))
    windows = np.random.default_rng(0).normal(0, 0.1, (ENCODER_FRAMES, 16000)).astype(np.float32)
    rows = [(runtime, runtime, nullcontext) for runtime in runtimes]
    if args.baseline:
        rows.insert(0, ("torch", "torch, ffmpeg defaults", ffmpeg_defaults))
    with tempfile.TemporaryDirectory() as tmp:
        indexes = {}
        for runtime, label, decoding in rows:
            fingerprinter = Fingerprinter(config, runtime=runtime)
            visual, audio = encoder_speed(fingerprinter, frames, windows)
            index = Path(tmp) / label.replace(" ", "").replace(",", "-")
            with decoding():
                summary = index_catalogue(work / "catalogue", index, config, fingerprinter=fingerprinter)
            indexes[label] = index
            print(f"[{label}] picture encoder {visual:.0f} frames/s, audio encoder {audio:.0f} windows/s; "
                  f"fingerprinting + indexing {summary.media_seconds / summary.wall_seconds:.1f}x real time "
                  f"({summary.media_seconds:.0f} s in {summary.wall_seconds:.1f} s; {load()})")
            if queries:
                with decoding():
                    print(f"[{label}] {accuracy(index, queries, runtime, minutes)}")
        if queries and "torch" in indexes and "onnx-int8" in runtimes:
            print(f"[onnx-int8 queries, torch index] {accuracy(indexes['torch'], queries, 'onnx-int8', minutes)}")
        index = next(iter(indexes.values()))
        again = index_catalogue(work / "catalogue", index, config)
        print(f"re-index of the unchanged catalogue: {again.wall_seconds:.2f} s, {len(again.unchanged)} titles skipped")
        for path in SUSPECTS:
            start = time.perf_counter()
            subprocess.run([sys.executable, "-m", "fp", "match", str(path), "--index", str(index), "--no-history"],
                           capture_output=True, check=False, timeout=600)
            print(f"fp match {path.name} (cold CLI): {time.perf_counter() - start:.2f} s ({load()})")

if __name__ == "__main__":
    main()
