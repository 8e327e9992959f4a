"""GPU figures: the picture encoder in float16 at batch 64-256, end-to-end fingerprinting with
ffmpeg's own decoders and with NVDEC (when this ffmpeg has it), and exact top-k search by torch
over 1M and 10M vectors.

    bash bench/gpu.sh          (on a machine with a CUDA GPU)

End-to-end runs on the accuracy benchmark's catalogue when ../shared/media is there, else on the
demo catalogue in examples/.
"""

from __future__ import annotations

import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from bench.accuracy import CATALOGUE, MEDIA
from fp.config import Config
from fp.data import decode
from fp.fingerprint.encoders import load_visual_encoder
from fp.fingerprint.extract import Fingerprinter
from fp.index import index_catalogue
from fp.index.vectors import TorchFlatSearch

ROOT = Path(__file__).resolve().parents[1]
BATCHES = (64, 128, 256)
SEARCH_SIZES = (1_000_000, 10_000_000)
SHOTS_PER_MINUTE = 30
"""Query shots per minute of suspect (README, bench/scale.py): searched 32 at a time."""
K = 24


def encoder_rates(name: str) -> None:
    encoder = load_visual_encoder(name, "cuda")  # float16 on CUDA
    for batch in BATCHES:
        frames = np.random.default_rng(0).integers(0, 255, (batch, 224, 224, 3), dtype=np.uint8)
        encoder.encode(frames)
        start = time.perf_counter()
        for _ in range(5):
            encoder.encode(frames)  # returns on the host: includes both copies
        print(f"{name} float16, batch {batch}: {5 * batch / (time.perf_counter() - start):.0f} frames/s")


def catalogue(tmp: Path) -> Path:
    if not MEDIA.is_dir():
        return ROOT / "examples" / "catalogue"
    folder = tmp / "catalogue"
    folder.mkdir()
    for name in CATALOGUE:
        (folder / name).symlink_to(MEDIA / name)
    return folder


def end_to_end() -> None:
    config = Config()
    fingerprinter = Fingerprinter(config, device="cuda", runtime="torch")
    hwaccels = subprocess.run(["ffmpeg", "-hide_banner", "-hwaccels"], capture_output=True, text=True,
                              timeout=60).stdout.split()
    ways = {"ffmpeg's decoders": decode.FRAME_DECODER_OPTIONS}
    if "cuda" in hwaccels:
        ways["NVDEC (-hwaccel cuda)"] = {"hwaccel": "cuda"}
    else:
        print("this ffmpeg has no NVDEC (no cuda among -hwaccels)")
    with tempfile.TemporaryDirectory() as tmp:
        folder = catalogue(Path(tmp))
        for label, options in ways.items():
            decode.FRAME_DECODER_OPTIONS = options
            summary = index_catalogue(folder, Path(tmp) / label.split()[0], config, fingerprinter=fingerprinter)
            print(f"fingerprinting + indexing, {label}: {summary.media_seconds / summary.wall_seconds:.1f}x "
                  f"real time ({summary.media_seconds:.0f} s of {folder.name} in {summary.wall_seconds:.1f} s)")


def search(dim: int = 1280) -> None:
    for n in SEARCH_SIZES:
        index = TorchFlatSearch(np.zeros((1, dim), np.float32), np.zeros(1, np.int64), "cuda")
        generator = torch.Generator("cuda").manual_seed(0)
        index.vectors = torch.nn.functional.normalize(
            torch.randn(n, dim, device="cuda", generator=generator), dim=1)
        index.ids = torch.arange(n, device="cuda")
        queries = index.vectors[:SHOTS_PER_MINUTE * 4].cpu().numpy()  # each finds itself first
        index.search(queries[:32], K)
        start = time.perf_counter()
        for i in range(0, len(queries), 32):
            sims, ids = index.search(queries[i:i + 32], K)
        spent = time.perf_counter() - start
        assert (ids[:, 0] == np.arange(len(queries))[-len(ids):]).all()
        print(f"torch top-{K} over {n:,} float32 vectors ({n * dim * 4 / 2**30:.1f} GiB): "
              f"{1000 * spent / (len(queries) / 32):.1f} ms per 32 shots, {spent / 4:.3f} s per minute of suspect")
        del index
        torch.cuda.empty_cache()


def main() -> None:
    if not torch.cuda.is_available():
        raise SystemExit("error: no CUDA GPU here")
    print(f"GPU: {torch.cuda.get_device_name()}, torch {torch.__version__}")
    encoder_rates(Config().visual_encoder)
    end_to_end()
    search()


if __name__ == "__main__":
    main()
