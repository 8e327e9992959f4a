"""Compact tracks: every sample stored as 8-bit codes, one memory-mapped file per track.

A sample's vector is scaled so that its largest component becomes `CODE_LEVELS` and rounded to
int8; similarity is cosine, so the scale itself need not be kept: a sample decodes to its codes,
re-normalised. A sample without content is all zeros (a sample with content always has one code
of +-`CODE_LEVELS`). A track file is a NumPy `.npy` of shape (n, dim), int8; it is memory-mapped,
and a mapping opened for windows is advised random access, so aligning a hypothesis reads the
pages of its window and nothing else (the kernel's read-around would otherwise fetch up to the
device's read-ahead, 8 MB on this project's machines, per page fault).

Cosine similarities on decoded samples stay within `CODE_COSINE_TOLERANCE` of the float ones
(tests/test_catalogue_scale.py measures it on real tracks).
"""

from __future__ import annotations

import mmap
import os
from pathlib import Path

import numpy as np

CODE_LEVELS = 127
"""A sample's largest component maps to this code; the others are rounded on the same scale."""
CODE_COSINE_TOLERANCE = 0.01
"""Most a cosine similarity between two decoded samples may differ from the float one."""


def encode(vectors: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """(n, dim) float vectors and their content mask -> (n, dim) int8 codes."""
    vectors = np.asarray(vectors, np.float32)
    top = np.abs(vectors).max(axis=1, keepdims=True) if vectors.size else np.zeros((len(vectors), 1))
    keep = np.asarray(valid, bool)[:, None] & (top > 0)
    scaled = vectors * (CODE_LEVELS / np.where(keep, top, 1.0))
    return np.where(keep, np.clip(np.rint(scaled), -CODE_LEVELS, CODE_LEVELS), 0).astype(np.int8)


def decode(codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(n, dim) codes -> ((n, dim) float32 L2-normalised vectors, (n,) content mask); samples
    without content decode to zero vectors."""
    vectors = np.asarray(codes, np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    valid = norms[:, 0] > 0
    vectors /= np.where(norms > 0, norms, 1.0)
    return vectors, valid


def write(path: Path, codes: np.ndarray) -> None:
    """Write atomically and durably: a temporary file, fsynced, renamed into place."""
    tmp = path.with_name(path.name + f".tmp{os.getpid()}")
    with open(tmp, "wb") as handle:
        np.save(handle, np.ascontiguousarray(codes, np.int8), allow_pickle=False)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


def open_codes(path: Path, *, windowed: bool = False) -> np.ndarray:
    """The codes of a track file, memory-mapped (nothing is read until sliced); `windowed`: the
    caller reads windows of it, so the kernel reads only the pages a slice touches."""
    stored = np.load(path, mmap_mode="r", allow_pickle=False)
    if windowed:
        stored._mmap.madvise(mmap.MADV_RANDOM)
    return stored
