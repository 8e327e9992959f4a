"""GPU figures: the picture encoder in float16 at batch 64-256; decode-only and end-to-end
fingerprinting speed with ffmpeg's own decoders and with NVDEC (where this ffmpeg has it and the
driver serves it), and with and without the catalogue's reframe track (`Config.reframe_track`);
exact top-k search by torch over 1M to 40M shot vectors.

    bash bench/gpu.sh [CATALOGUE]     (on a machine with a CUDA GPU; default: examples/catalogue)

It needs torch, ffmpeg and fp's fingerprinting path, not FAISS or DuckDB: titles are fingerprinted
as `fp index` does (one at a time, the picture on the GPU) without being stored, and the search is
`fp.index.torch_search`, the one `fp.index.vectors` picks on a GPU where faiss has none.
"""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch

from fp.config import Config
from fp.data import decode, iter_frames, probe, scan_catalogue
from fp.data.probe import MediaInfo
from fp.fingerprint.encoders import VisualEncoder, load_visual_encoder
from fp.fingerprint.extract import Fingerprinter
from fp.index.torch_search import TorchFlatSearch

ROOT = Path(__file__).resolve().parents[1]
BATCHES = (64, 128, 256)
ENCODER_REPEATS = 10
"""Timed batches per batch size (after one untimed)."""
FIRST_CALL_SIZES = (3, 5, 7, 9)
"""Batch sizes not seen before, each timed on its first call."""
SEARCH_SIZES = (1_000_000, 10_000_000, 40_000_000)
"""Shot vectors searched: about 550, 5,500 and 22,000 hours of catalogue at 30 shots a minute."""
SHOTS_PER_MINUTE = 30
"""Query shots per minute of suspect (README, bench/scale.py)."""
QUERY_MINUTES = 10
"""Minutes of suspect whose shots are searched."""
QUERY_BATCH = 32
K = 24
FILL_ROWS = 1 << 22
"""Random catalogue vectors are drawn and normalised this many rows at a time (no full-size
temporary)."""


def first_calls(encoder: VisualEncoder) -> None:
    """Seconds of the first call at batch sizes not seen before: through `encode` (padded to
    `GPU_BATCH_QUANTUM`) and through the bare network (not padded)."""
    trunk = getattr(encoder, "trunk", encoder)
    padded, bare = [], []
    for n in FIRST_CALL_SIZES:
        start = time.perf_counter()
        encoder.encode(np.zeros((n, 224, 224, 3), np.uint8))
        padded.append(time.perf_counter() - start)
    with torch.inference_mode():
        for n in FIRST_CALL_SIZES:
            start = time.perf_counter()
            trunk._embed(torch.zeros((n + 1, 3, 224, 224), dtype=torch.float16, device="cuda")).cpu()
            bare.append(time.perf_counter() - start)
    print(f"first call at new batch sizes {FIRST_CALL_SIZES}: padded " + ", ".join(f"{t:.3f}" for t in padded)
          + " s; bare network at one more frame " + ", ".join(f"{t:.3f}" for t in bare) + " s")


def encoder_rates(encoder: VisualEncoder) -> None:
    for batch in BATCHES:
        frames = np.random.default_rng(0).integers(0, 255, (batch, 224, 224, 3), dtype=np.uint8)
        encoder.encode(frames)
        start = time.perf_counter()
        for _ in range(ENCODER_REPEATS):
            encoder.encode(frames)  # from and back to the host: both copies included
        rate = ENCODER_REPEATS * batch / (time.perf_counter() - start)
        print(f"encoder {encoder.name} float16, batch {batch}: {rate:,.0f} frames/s")


def decoder_ways(sample: MediaInfo) -> dict[str, dict]:
    """Decoder options to compare: fp's on a GPU and on the CPU, and NVDEC when it decodes here."""
    ways = {"fp's GPU options": dict(decode.GPU_FRAME_DECODER_OPTIONS),
            "fp's CPU options": dict(decode.FRAME_DECODER_OPTIONS)}
    listed = subprocess.run(["ffmpeg", "-hide_banner", "-hwaccels"], capture_output=True, text=True,
                            timeout=60).stdout.split()
    if "cuda" not in listed:
        print("NVDEC: this ffmpeg has no cuda hwaccel")
        return ways
    trial = subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-hwaccel", "cuda", "-i", sample.path,
                            "-frames:v", "50", "-f", "rawvideo", "pipe:"],
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, timeout=120)
    if trial.returncode != 0 or trial.stderr.strip():
        print(f"NVDEC: fails here ({(trial.stderr.strip().splitlines() or ['exit %d' % trial.returncode])[-1]})")
        return ways
    ways["NVDEC"] = {"hwaccel": "cuda"}
    return ways


def first_encounter(fingerprinter: Fingerprinter, infos: list[MediaInfo]) -> None:
    """Seconds each title's picture and soundtrack take the first time the process sees it."""
    for info in infos:
        start = time.perf_counter()
        fingerprinter.visual_tracks(info)
        picture = time.perf_counter() - start
        start = time.perf_counter()
        fingerprinter.audio_track(info)
        print(f"  first encounter, {Path(info.path).name} ({info.duration:.0f} s): picture "
              f"{picture:.2f} s, sound {time.perf_counter() - start:.2f} s")


def end_to_end(folder: Path, config: Config) -> None:
    infos = [probe(entry.path) for entry in scan_catalogue(folder)]
    media = sum(info.duration for info in infos)
    print(f"catalogue {folder}: {len(infos)} titles, {media:.0f} s; {os.cpu_count()} CPUs")
    fingerprinter = Fingerprinter(config, device="cuda", runtime="torch")
    fingerprinter.visual, fingerprinter.audio  # load both
    first_encounter(fingerprinter, infos)
    chosen = decode.GPU_FRAME_DECODER_OPTIONS
    try:
        for label, options in decoder_ways(infos[0]).items():
            decode.GPU_FRAME_DECODER_OPTIONS = options  # what the fingerprinter on CUDA reads
            start = time.perf_counter()
            for info in infos:
                for _ in iter_frames(info, config.frame_rate, config.frame_size, decoder_options=options):
                    pass
            decoded = time.perf_counter() - start
            start = time.perf_counter()
            for info in infos:
                fingerprinter.fingerprint(info)
            spent = time.perf_counter() - start
            print(f"{label} {options}: decode only {media / decoded:.1f}x, fingerprinting "
                  f"{media / spent:.1f}x real time")
    finally:
        decode.GPU_FRAME_DECODER_OPTIONS = chosen
    for reframe in (not config.reframe_track, config.reframe_track):  # the reframe track's cost
        other = Fingerprinter(dataclasses.replace(config, reframe_track=reframe), device="cuda", runtime="torch")
        other.fingerprint(infos[0])  # load, and meet the first batch sizes
        start = time.perf_counter()
        for info in infos:
            other.fingerprint(info)
        print(f"reframe_track={reframe}: fingerprinting {media / (time.perf_counter() - start):.1f}x real time")


def catalogue_vectors(n: int, dim: int) -> torch.Tensor:
    vectors = torch.empty(n, dim, device="cuda")
    generator = torch.Generator("cuda").manual_seed(0)
    for lo in range(0, n, FILL_ROWS):
        chunk = vectors[lo:lo + FILL_ROWS]
        chunk.normal_(generator=generator)
        chunk.div_(chunk.norm(dim=1, keepdim=True))
    return vectors


def search(dim: int) -> None:
    shots = SHOTS_PER_MINUTE * QUERY_MINUTES
    for n in SEARCH_SIZES:
        index = TorchFlatSearch(np.zeros((0, dim), np.float32), np.zeros(0, np.int64), "cuda")
        index.vectors = catalogue_vectors(n, dim)
        index.ids = torch.arange(n, device="cuda")
        rows = np.linspace(0, n - 1, shots).astype(np.int64)
        queries = index.vectors[torch.from_numpy(rows).cuda()].cpu().numpy()  # each finds itself first
        index.search(queries[:QUERY_BATCH], K)
        start = time.perf_counter()
        found = [index.search(queries[i:i + QUERY_BATCH], K)[1][:, 0] for i in range(0, shots, QUERY_BATCH)]
        spent = time.perf_counter() - start
        assert (np.concatenate(found) == rows).all(), "top-1 is not the query itself"
        print(f"torch top-{K} over {n:,} float32 vectors of {dim} ({n * dim * 4 / 2**30:.1f} GiB): "
              f"{1000 * spent / (shots / QUERY_BATCH):.1f} ms per {QUERY_BATCH} shots, "
              f"{spent / QUERY_MINUTES:.3f} s per minute of suspect")
        del index
        torch.cuda.empty_cache()


def main() -> None:
    if not torch.cuda.is_available():
        raise SystemExit("error: no CUDA GPU here")
    folder = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "examples" / "catalogue"
    config = Config()
    print(f"GPU: {torch.cuda.get_device_name()}, torch {torch.__version__}")
    encoder = load_visual_encoder(config.visual_encoder, "cuda")  # float16 on CUDA
    first_calls(encoder)
    encoder_rates(encoder)
    end_to_end(folder, config)
    search(encoder.dim)


if __name__ == "__main__":
    main()
