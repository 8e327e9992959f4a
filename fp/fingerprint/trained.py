"""Where fp's trained weights live: shipped in the package's `weights/` folder, or any
`.safetensors` file named by its path. Imports nothing heavy: commands that only check which
weights an index was built with (`fp remove`) start without torch."""

from __future__ import annotations

import hashlib
from importlib import resources
from pathlib import Path

SHIPPED_VISUAL = "fp-visual-v1"
"""fp's own picture encoder: a trained head over the EfficientNet-Lite0 trunk."""


def weights_dir() -> Path:
    """The package's folder of shipped weights and exported models."""
    return Path(str(resources.files("fp.fingerprint") / "weights"))


def trained_files(name: str) -> tuple[Path, Path]:
    """The weights (`.safetensors`) and description (`.json`) of trained model `name`: a shipped
    model's name or a path to a `.safetensors` file."""
    path = Path(name) if name.endswith(".safetensors") else weights_dir() / f"{name}.safetensors"
    return path, path.with_suffix(".json")


def is_head(name: str) -> bool:
    """Whether picture encoder `name` is a trained head over a trunk (rather than a network)."""
    return name == SHIPPED_VISUAL or (name.endswith(".safetensors") and not name.startswith("clip:"))


def file_digest(paths: list[Path] | tuple[Path, ...]) -> str:
    """SHA-256 over the bytes of `paths`, in order."""
    digest = hashlib.sha256()
    for path in paths:
        with open(path, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()
