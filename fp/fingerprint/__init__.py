"""Encoders, shots and fingerprints. `Fingerprinter` (torch and the encoders) is imported on first
use, so that what only reads an index (`fp list`, `fp history`, ...) starts without torch."""

from fp.fingerprint.types import FeatureTrack, Shot, VideoFingerprint

__all__ = ["FeatureTrack", "Fingerprinter", "Shot", "VideoFingerprint"]


def __getattr__(name: str):
    if name == "Fingerprinter":
        from fp.fingerprint.extract import Fingerprinter

        return Fingerprinter
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
