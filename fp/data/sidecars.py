"""Optional per-title metadata: `NAME.json` beside `NAME.mp4` (display title, owner, territory,
licence window). Untrusted input: known keys only, plain values, bounded sizes."""

from __future__ import annotations

import json
from pathlib import Path

METADATA_KEYS = ("title", "owner", "territory", "licence_start", "licence_end", "notes")
MAX_BYTES = 64 * 1024
MAX_VALUE = 500


def read_metadata(video: str | Path) -> dict[str, str]:
    """The sidecar's known fields as short strings; {} when there is none or it is unreadable."""
    path = Path(video).with_suffix(".json")
    try:
        if not path.is_file() or path.stat().st_size > MAX_BYTES:
            return {}
        data = json.loads(path.read_bytes().decode("utf-8", errors="replace"))
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict):
        return {}
    return {k: str(data[k])[:MAX_VALUE] for k in METADATA_KEYS
            if isinstance(data.get(k), (str, int, float)) and str(data[k]).strip()}
