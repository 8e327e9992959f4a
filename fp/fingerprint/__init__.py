"""Encoders, shots and fingerprints."""

from fp.fingerprint.extract import Fingerprinter
from fp.fingerprint.types import FeatureTrack, Shot, VideoFingerprint

__all__ = ["FeatureTrack", "Fingerprinter", "Shot", "VideoFingerprint"]
