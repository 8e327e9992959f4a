"""Scan a catalogue folder for media files; a title's id is its path relative to the folder."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from fp.errors import MediaError

VIDEO_EXTENSIONS = frozenset({
    ".mp4", ".m4v", ".mov", ".mkv", ".webm", ".avi", ".wmv", ".flv", ".mpg", ".mpeg",
    ".ts", ".m2ts", ".mts", ".vob", ".ogv", ".3gp", ".mxf",
})
AUDIO_EXTENSIONS = frozenset({".mp3", ".m4a", ".aac", ".wav", ".flac", ".ogg", ".oga", ".opus", ".wma", ".mka"})
"""Sound files: suspects only (a soundtrack ripped alone is matched on its sound); a catalogue
title needs a picture."""


@dataclass(frozen=True)
class CatalogueEntry:
    title_id: str
    path: Path


def scan_catalogue(root: str | os.PathLike, extensions: frozenset[str] = VIDEO_EXTENSIONS) -> list[CatalogueEntry]:
    """All files with `extensions` (video files) under `root` (recursively, hidden entries
    skipped), sorted by title id.

    A single file is a catalogue of one title whose id is the file's name.
    """
    root = Path(root)
    if root.is_file():
        return [CatalogueEntry(root.name, root)]
    if not root.is_dir():
        raise MediaError(f"{root}: no such file or folder")
    entries = []
    for folder, dirs, files in os.walk(root, onerror=None):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in files:
            path = Path(folder) / name
            if name.startswith(".") or path.suffix.lower() not in extensions:
                continue
            entries.append(CatalogueEntry(path.relative_to(root).as_posix(), path))
    return sorted(entries, key=lambda e: e.title_id)


def file_sha256(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()
