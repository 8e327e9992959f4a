"""Dataclasses at the evidence seam: everything a verdict rests on, built once per suspect and
used as it is by the terminal, the reports, the service and the run history.

`Evidence.to_dict()` is the JSON form that reports render and the history stores (a superset of
the JSON contract of `fp match --format json`); `Evidence.from_dict()` reads a stored run back.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from fp.matcher.types import MatchReport

CONTRACT_KEYS = ("query", "matches", "verdict", "run_id")
"""The keys of one line of `fp match --format json`."""


@dataclass(frozen=True)
class TitleEvidence:
    """One matched title: its policy verdict, how much of each file it covers, its record."""

    title_id: str
    verdict: str
    matched_seconds: float
    suspect_percent: float
    reference_percent: float
    path: str | None
    duration: float | None
    metadata: dict
    similarity: dict | None = None
    """The per-sample similarity series along the suspect (see `fp.report.similarity`)."""


@dataclass(frozen=True)
class SuspectFile:
    path: str
    """The suspect's path, or the label it was uploaded under."""
    sha256: str
    size_bytes: int
    probe: dict


@dataclass(frozen=True)
class IndexProvenance:
    path: str
    created_at: str | None
    updated_at: str | None
    config: dict


@dataclass
class Evidence:
    """The answer for one suspect with everything needed to act on it."""

    report: MatchReport
    verdict: str
    """The policy's verdict: `match`, `review` or `no_match`."""
    titles: list[TitleEvidence]
    suspect: SuspectFile
    index: IndexProvenance
    policy: list[dict]
    created_at: str
    fp_version: str
    run_id: int | None = None
    """Set once the run is recorded in the history."""

    def to_dict(self) -> dict:
        return {
            **self.report.to_dict(),
            "verdict": self.verdict,
            "run_id": self.run_id,
            "created_at": self.created_at,
            "fp_version": self.fp_version,
            "titles": [dataclasses.asdict(t) for t in self.titles],
            "suspect": dataclasses.asdict(self.suspect),
            "index": dataclasses.asdict(self.index),
            "policy": self.policy,
        }

    def contract(self) -> dict:
        """One line of `fp match --format json`."""
        data = self.to_dict()
        return {k: data[k] for k in CONTRACT_KEYS}

    @classmethod
    def from_dict(cls, data: dict) -> Evidence:
        return cls(
            report=MatchReport.from_dict(data),
            verdict=data["verdict"],
            titles=[TitleEvidence(**_known(TitleEvidence, t)) for t in data.get("titles", [])],
            suspect=SuspectFile(**_known(SuspectFile, data["suspect"])),
            index=IndexProvenance(**_known(IndexProvenance, data["index"])),
            policy=data.get("policy", []),
            created_at=data.get("created_at", ""),
            fp_version=data.get("fp_version", ""),
            run_id=data.get("run_id"),
        )


def _known(cls, data: dict) -> dict:
    names = {f.name for f in dataclasses.fields(cls)}
    return {k: v for k, v in data.items() if k in names}
