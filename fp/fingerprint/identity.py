"""Which trained weights a configuration's encoders load. An encoder's name (`fp-visual-v1`) says
which model, not which training of it: the index records a digest of each trained weights file it
was built with, and refuses to be extended or queried with others, whose vectors would not
compare with its own."""

from __future__ import annotations

import json
from pathlib import Path

from fp.config import Config
from fp.errors import ConfigMismatchError
from fp.fingerprint.trained import file_digest, is_head, trained_files

DIGEST_CHARS = 16
"""Hex characters of the SHA-256 of a weights file kept as its digest."""


def _digest(path: Path) -> str:
    try:
        return file_digest([path])[:DIGEST_CHARS]
    except OSError:
        return "missing"  # the encoder itself says what is missing when it loads


def model_digests(config: Config) -> dict[str, str]:
    """Digest of the trained weights behind each of `config`'s encoders that has them (fp's own
    picture head and audio encoder), by encoder name. Networks with published weights (the
    EfficientNet trunk, open_clip models) are fixed by their names and pinned packages."""
    out = {}
    if is_head(config.visual_encoder):
        out[config.visual_encoder] = _digest(trained_files(config.visual_encoder)[0])
    if config.audio_encoder:
        out[config.audio_encoder] = _digest(trained_files(config.audio_encoder)[0])
    return out


def encode_digests(config: Config) -> str:
    """`model_digests` as the index stores them."""
    return json.dumps(model_digests(config), sort_keys=True)


def check_digests(recorded: str | None, config: Config, what: str = "this query") -> None:
    """Raise if `config`'s encoders load other weights than those `recorded` in an index (None:
    an index from before digests were recorded)."""
    then = json.loads(recorded) if recorded else {}
    now = model_digests(config)
    changed = sorted(name for name in now.keys() | then.keys() if now.get(name) != then.get(name))
    if changed:
        raise ConfigMismatchError(
            f"{what} uses other trained weights for {', '.join(changed)} than the index was built with "
            f"(index: {', '.join(then.get(n, 'not recorded') for n in changed)}; now: "
            f"{', '.join(now.get(n, 'none') for n in changed)}); re-index the catalogue into a new folder "
            f"with `fp index CATALOGUE --index NEW_DIR`")
