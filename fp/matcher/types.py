"""Dataclasses at the matching seam: hypotheses, matched segments, per-query reports."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from fp.data.probe import MediaInfo
from fp.matcher.align import SimilaritySeries


@dataclass(frozen=True)
class Hypothesis:
    """A title and a time offset (reference time minus query time) worth aligning."""

    title_id: str
    offset: float
    votes: float
    variants: tuple[str, ...] = ()
    """The picture variants whose votes (with the shared soundtrack's and subtitles') peak here."""
    query_start: float = 0.0
    query_end: float = math.inf
    """The stretch of the suspect (seconds) whose shots voted for it; the whole suspect unless
    known."""


@dataclass(frozen=True)
class Match:
    """A copied segment: where it sits in the query and in the reference, and how sure we are."""

    title_id: str
    query_start: float
    query_end: float
    ref_start: float
    ref_end: float
    score: float
    decision: str
    """`match` (at or above `threshold`, long enough, not shared) or `candidate`."""
    modalities: dict[str, float | None] = field(default_factory=dict)
    threshold: float | None = None
    """The decision threshold applied to this segment (`DecisionParams.threshold`: raised by its
    length and the catalogue's size); None where not recorded (a run stored by an earlier release)."""
    series: SimilaritySeries | None = field(default=None, compare=False, repr=False)
    """Per-sample similarities along the whole query at this segment's alignment (common scale);
    the evidence plots them. Not part of `to_dict`."""

    @property
    def duration(self) -> float:
        return self.query_end - self.query_start

    def to_dict(self) -> dict:
        return {
            "title_id": self.title_id,
            "query_start": round(self.query_start, 3),
            "query_end": round(self.query_end, 3),
            "ref_start": round(self.ref_start, 3),
            "ref_end": round(self.ref_end, 3),
            "score": round(self.score, 4),
            "decision": self.decision,
            "threshold": None if self.threshold is None else round(self.threshold, 4),
            "modalities": {k: (None if v is None else round(v, 4)) for k, v in self.modalities.items()},
        }


@dataclass
class MatchReport:
    """The answer for one suspect file (the JSON contract of `fp match --format json`)."""

    query_path: str
    query_duration: float
    matches: list[Match]
    info: MediaInfo | None = None
    """The suspect's probe data (not part of the JSON contract)."""

    @property
    def found(self) -> bool:
        return any(m.decision == "match" for m in self.matches)

    def to_dict(self) -> dict:
        return {
            "query": {"path": self.query_path, "duration": round(self.query_duration, 3)},
            "matches": [m.to_dict() for m in self.matches],
        }

    @classmethod
    def from_dict(cls, data: dict) -> MatchReport:
        """Read the JSON contract back (a stored run)."""
        matches = [Match(m["title_id"], m["query_start"], m["query_end"], m["ref_start"], m["ref_end"],
                         m["score"], m["decision"], m.get("modalities", {}), m.get("threshold"))
                   for m in data["matches"]]
        return cls(data["query"]["path"], data["query"]["duration"], matches)
