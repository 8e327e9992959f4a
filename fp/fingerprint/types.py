"""Dataclasses at the fingerprinting seam: per-title feature tracks, shots, fingerprints."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from fp.data.probe import MediaInfo


@dataclass
class FeatureTrack:
    """Embeddings of one modality sampled every `step` seconds from `start`."""

    modality: str
    step: float
    vectors: np.ndarray
    """(n, dim) float32, L2-normalised."""
    valid: np.ndarray
    """(n,) bool: False where the sample carries no content (blank frame, silence)."""
    start: float = 0.0

    def __len__(self) -> int:
        return len(self.vectors)

    @property
    def times(self) -> np.ndarray:
        return self.start + np.arange(len(self.vectors)) * self.step

    @property
    def dim(self) -> int:
        return int(self.vectors.shape[1])


@dataclass(frozen=True)
class Shot:
    """A shot (or a slice of a long one) and its fingerprint per modality."""

    start: float
    end: float
    vectors: dict[str, np.ndarray] = field(default_factory=dict)


@dataclass
class VideoFingerprint:
    """Everything fp keeps of one video: its probe data, feature tracks and shots."""

    info: MediaInfo
    tracks: dict[str, FeatureTrack]
    shots: list[Shot]


REFRAME = "reframe"
"""A catalogue title's track of its frames' centre squares at their own aspect
(`Config.reframe_track`): stored and searched like a modality of its own, compared only with a
suspect's portrait samples (`QueryFingerprint.portrait`), and counted as picture evidence."""

PHASE = "phase"
"""Tracks `Fingerprinter.visual_tracks` samples p / phases of a step later are named
`"{variant} phase {p}"`."""


@dataclass
class PictureVariant:
    """The suspect's picture as an edit a copy may have made would have it: as it is, mirrored,
    a picture-in-picture window alone, or with its rotation tag ignored."""

    name: str
    track: FeatureTrack
    shots: list[Shot]
    """This variant's own shots, with their picture fingerprints."""
    phases: list[FeatureTrack] = field(default_factory=list)
    """The same picture sampled between the samples, where it was decoded (`Config.query_phases`):
    track p - 1 at p / phases of a step later (`start`), aligned at the fractional shifts
    between the whole ones, never searched."""


@dataclass
class QueryFingerprint:
    """A suspect, decoded once: its picture variants, and one soundtrack and one subtitle track
    that every variant shares (searched and aligned once, not once per variant)."""

    info: MediaInfo
    variants: list[PictureVariant]
    """The picture as it is first."""
    tracks: dict[str, FeatureTrack]
    """The shared tracks: `audio` and `text` where present."""
    shots: list[Shot]
    """The shared tracks' per-shot fingerprints, over the shots of the picture as it is."""
    portrait: PictureVariant | None = None
    """The picture as it is at its portrait samples alone (`Config.query_portrait_aspect`; the
    others carry no content), with its own shots and phases (the picture's phases at those
    samples): what the catalogue's `REFRAME` tracks are searched and aligned with. None when no
    sample is portrait."""
