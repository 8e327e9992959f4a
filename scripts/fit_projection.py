"""Fit the linear projection (PCA) that shortens an encoder's picture vectors for storage.

Usage: python scripts/fit_projection.py ENCODER K[,K...] VIDEO... [--photos DIR...] -- writes
fp/fingerprint/weights/<ENCODER>_pca<K>.npy (float32, shape (K, dim): one component a row) and a
.json beside it listing the sources, for each K given. With --random SEED (no videos) it writes
<ENCODER>_rand<K>.npy instead: random orthonormal rows, the data-free baseline of
bench/projection.py. Apply it to the encoder's final output
(already centred on the background and L2-normalised) as `normalize(vectors @ P.T)`.

The PCA is uncentred: the vectors are already centred on the shipped background mean (see
scripts/fit_background.py), so there is no second mean to ship; the components are the top
eigenvectors of the second-moment matrix. Frames are sampled at 1 per second, the first 60 of
each video at most, and every video counts equally (its frames share one unit of weight); so does
each photograph from the optional --photos folders (only the photographs the project's brief
allows for training; centre-cropped to a square, resized to the
encoder's input). Frames are prepared as fp's extractor prepares them (black bars trimmed; blank
frames -- black, flat, text cards -- skipped, as they are no evidence). Fit on the videos of
fp/fingerprint/weights/<ENCODER>_background.json, e.g.

    python scripts/fit_projection.py efficientnet_lite0 128,256 \\
        $(python -c 'import json; print(*["../shared/media/video/" + s for s in json.load(open(
          "fp/fingerprint/weights/efficientnet_lite0_background.json"))["sources"]])')
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from fp.config import Config
from fp.data import iter_frames, probe
from fp.fingerprint import encoders
from fp.fingerprint.frames import blank_mask, fill_frames

SAMPLES_PER_SECOND = 1.0
FRAME_SIZE = 224  # fp's frame_size: frames are decoded square at this size
MAX_SAMPLES_PER_VIDEO = 60
PROJECTION_FILE = "{name}_pca{k}.npy"
RANDOM_FILE = "{name}_rand{k}.npy"
PHOTO_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff"}


def video_frames(path: str, size: int = FRAME_SIZE, fps: float = SAMPLES_PER_SECOND,
                 limit: int = MAX_SAMPLES_PER_VIDEO) -> np.ndarray:
    """The first `limit` frames of `path` sampled at `fps`, square: (n, size, size, 3) uint8."""
    out, count = [], 0
    frames = iter_frames(probe(path), fps, size)
    try:
        for batch in frames:
            out.append(batch[:limit - count])
            count += len(out[-1])
            if count >= limit:
                break
    finally:
        frames.close()  # stops ffmpeg when we leave early
    return np.concatenate(out) if out else np.zeros((0, size, size, 3), np.uint8)


def prepare(frames: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Frames as fp's extractor hands them to the encoder (black bars trimmed), and which of them
    carry a picture (blank frames are no evidence there, so they are left out here)."""
    cfg = Config()
    filled = fill_frames(frames)
    return filled, ~blank_mask(filled, cfg.blank_std, cfg.plain_share)


def encode(enc: encoders.VisualEncoder, frames: np.ndarray, batch: int = 32) -> np.ndarray:
    if not len(frames):
        return np.zeros((0, enc.dim), np.float32)
    return np.concatenate([enc.encode(frames[i:i + batch]) for i in range(0, len(frames), batch)])


def video_vectors(enc: encoders.VisualEncoder, path: str) -> np.ndarray:
    """The encoder's vectors for the non-blank frames among the first 60 of `path` at 1 per second."""
    filled, valid = prepare(video_frames(path))
    return encode(enc, filled[valid])


def photo_frames(folders: list[str], size: int) -> tuple[np.ndarray, list[str]]:
    """Every picture under `folders`, centre-cropped to a square and resized: (n, size, size, 3)."""
    from PIL import Image

    frames, names = [], []
    for folder in folders:
        for path in sorted(Path(folder).rglob("*")):
            if path.suffix.lower() not in PHOTO_SUFFIXES or not path.is_file():
                continue
            try:
                with Image.open(path) as im:
                    im = im.convert("RGB")
                    side = min(im.size)
                    left, top = (im.width - side) // 2, (im.height - side) // 2
                    im = im.crop((left, top, left + side, top + side)).resize((size, size), Image.BICUBIC)
                    frames.append(np.asarray(im, np.uint8))
                    names.append(str(path))
            except OSError as exc:
                print(f"{path}: skipped ({exc})", file=sys.stderr)
    return (np.stack(frames) if frames else np.zeros((0, size, size, 3), np.uint8)), names


def fit_pca(groups: list[np.ndarray], k: int) -> tuple[np.ndarray, float]:
    """Uncentred PCA of the rows of `groups`, each group weighing the same: the top `k`
    components (k, dim) float32, signs fixed (largest entry positive), and the share of the
    second moment they keep."""
    groups = [g.astype(np.float64) for g in groups if len(g)]
    moment = sum(g.T @ g / len(g) for g in groups) / len(groups)
    values, vectors = np.linalg.eigh(moment)
    order = np.argsort(values)[::-1][:k]
    comps = vectors[:, order].T
    signs = np.sign(comps[np.arange(len(comps)), np.abs(comps).argmax(1)])
    comps *= signs[:, None]
    return comps.astype(np.float32), float(values[order].sum() / values.sum())


def random_projection(k: int, dim: int, seed: int = 0) -> np.ndarray:
    """k orthonormal rows drawn at random (k, dim) float32: the projection that knows no data."""
    q, _ = np.linalg.qr(np.random.default_rng(seed).normal(size=(dim, k)))
    return q.T.astype(np.float32)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("encoder")
    ap.add_argument("k", help="output dimensions, or several comma-separated (one file each)")
    ap.add_argument("videos", nargs="*")
    ap.add_argument("--photos", nargs="+", default=[], metavar="DIR")
    ap.add_argument("--random", type=int, metavar="SEED",
                    help="write a random orthonormal projection instead (<ENCODER>_rand<K>.npy; no media)")
    args = ap.parse_args(argv)
    ks = sorted({int(k) for k in args.k.split(",")})
    weights = Path(encoders.__file__).parent / "weights"
    if args.random is not None:
        dim = encoders.load_visual_encoder(args.encoder, "cpu").dim
        for k in ks:
            out = weights / RANDOM_FILE.format(name=args.encoder, k=k)
            np.save(out, random_projection(k, dim, args.random))
            out.with_suffix(".json").write_text(json.dumps(
                {"encoder": args.encoder, "k": k, "dim": dim, "projection": "random orthonormal rows "
                 "(numpy default_rng(seed) normal, QR); apply as normalize(v @ P.T)", "seed": args.random},
                indent=1) + "\n")
            print(f"wrote {out} ({k} x {dim})", file=sys.stderr)
        return
    if not args.videos:
        ap.error("name the videos to fit on")

    start = time.monotonic()
    enc = encoders.load_visual_encoder(args.encoder)  # centred on the shipped background
    groups = []
    for path in args.videos:
        groups.append(video_vectors(enc, path))
        print(f"{path}: {len(groups[-1])} frames", file=sys.stderr)
    photo_names = []
    if args.photos:
        photos, photo_names = photo_frames(args.photos, FRAME_SIZE)
        photos, keep = prepare(photos)
        groups.extend(encode(enc, photos[keep])[:, None, :])
        print(f"{len(photos)} photographs ({int(keep.sum())} not blank)", file=sys.stderr)
    samples = sum(len(g) for g in groups)
    if max(ks) > min(enc.dim, samples):
        raise SystemExit(f"K={max(ks)} exceeds the dimension or the {samples} samples")

    for k in ks:
        comps, kept = fit_pca(groups, k)
        out = weights / PROJECTION_FILE.format(name=args.encoder, k=k)
        np.save(out, comps)
        out.with_suffix(".json").write_text(json.dumps(
            {"encoder": args.encoder, "k": k, "dim": enc.dim, "samples_per_second": SAMPLES_PER_SECOND,
             "max_samples_per_video": MAX_SAMPLES_PER_VIDEO, "samples": samples,
             "frames": "black bars trimmed and blank frames skipped, as fp's extractor does",
             "pca": "uncentred (the vectors are centred on the background already); every video "
                    "and every photograph weighs the same; apply as normalize(v @ P.T)",
             "sources": [Path(p).name for p in args.videos], "photo_sources": len(photo_names),
             "retained_variance": round(kept, 4)}, indent=1) + "\n")
        print(f"wrote {out} ({k} x {enc.dim}, keeps {kept:.1%} of the variance)", file=sys.stderr)
    print(f"{samples} samples, {time.monotonic() - start:.0f} s", file=sys.stderr)


if __name__ == "__main__":
    main()
