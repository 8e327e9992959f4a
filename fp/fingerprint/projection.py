"""Compact picture vectors: the encoder's vectors projected onto their leading principal
components, fitted offline on allowed footage (scripts/fit_projection.py) and shipped, then
re-normalised. Fewer dimensions make every stored sample, shot vector and search smaller
(`Config.visual_dim`; bench/projection.py measures what each size keeps)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from fp.errors import FPError
from fp.fingerprint.trained import weights_dir

PROJECTION_FILE = "{name}_pca{dim}.npy"
"""(dim, encoder dim) float32: the principal components, one per row."""


def projection_path(name: str, dim: int) -> Path:
    return weights_dir() / PROJECTION_FILE.format(name=name, dim=dim)


def shipped_dims(name: str) -> list[int]:
    """The projection sizes fp ships for encoder `name`."""
    prefix = f"{name}_pca"
    stems = (p.stem for p in projection_path(name, 0).parent.glob(f"{prefix}*.npy"))
    return sorted(int(s[len(prefix):]) for s in stems if s[len(prefix):].isdigit())


def default_dim(name: str, wanted: int) -> int:
    """`wanted` where fp ships that projection for encoder `name`, else 0 (its own size): what a
    new index made with another encoder records."""
    return wanted if wanted in shipped_dims(name) else 0


class Projected:
    """A picture encoder whose vectors are projected onto `dim` principal components and
    re-normalised; same interface as the encoder it wraps."""

    def __init__(self, encoder, dim: int):
        path = projection_path(encoder.name, dim)
        try:
            components = np.load(path, allow_pickle=False).astype(np.float32)
        except (OSError, ValueError) as exc:
            sizes = ", ".join(map(str, shipped_dims(encoder.name))) or "none"
            raise FPError(f"fp ships no {dim}-d projection of the {encoder.name} encoder (shipped: {sizes}; "
                          "visual_dim 0 keeps its own size)") from exc
        if components.shape != (dim, encoder.dim):
            raise FPError(f"{path}: projection of shape {components.shape}, expected ({dim}, {encoder.dim})")
        self.encoder, self.components, self.dim = encoder, components.T.copy(), dim

    def __getattr__(self, name: str):
        return getattr(self.encoder, name)

    def encode(self, frames: np.ndarray) -> np.ndarray:
        """(n, h, w, 3) uint8 RGB frames -> (n, dim) float32, L2-normalised."""
        projected = self.encoder.encode(frames) @ self.components
        norms = np.linalg.norm(projected, axis=1, keepdims=True)
        return (projected / np.maximum(norms, 1e-12)).astype(np.float32)


def projected(encoder, dim: int):
    """`encoder` projected onto `dim` components, or as it is for `dim` 0."""
    return encoder if dim == 0 else Projected(encoder, dim)
