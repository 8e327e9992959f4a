"""Content-ID-style policies: how much of a title must be found, and by which modality, for a
verdict of `match`, `review` or `no_match`.

A policy file (TOML) lists rules, tried in order; the first rule a title satisfies gives its
verdict, a title no rule accepts is `no_match`, and the suspect's verdict is its strongest
title's. Only segments decided `match` count.

    [[rule]]
    verdict = "match"
    min_seconds = 10            # matched seconds of the suspect, summed over segments
    min_suspect_percent = 0     # share of the suspect's duration covered
    min_reference_percent = 0   # share of the reference title's duration covered
    modality = "any"            # or "visual", "audio", "text": count only segments it supports
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from fp.config import Config
from fp.errors import FPError
from fp.matcher.types import Match, MatchReport

VERDICTS = ("match", "review", "no_match")
RANK = {v: i for i, v in enumerate(reversed(VERDICTS))}


@dataclass(frozen=True)
class Rule:
    verdict: str
    min_seconds: float = 0.0
    min_suspect_percent: float = 0.0
    min_reference_percent: float = 0.0
    modality: str = "any"


@dataclass(frozen=True)
class Policy:
    rules: tuple[Rule, ...]

    @classmethod
    def load(cls, path: str | Path) -> Policy:
        try:
            data = tomllib.loads(Path(path).read_text())
        except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise FPError(f"{path}: cannot read policy ({exc})") from exc
        rules = []
        for i, raw in enumerate(data.get("rule", []), 1):
            unknown = set(raw) - {"verdict", "min_seconds", "min_suspect_percent",
                                  "min_reference_percent", "modality"}
            if unknown or raw.get("verdict") not in VERDICTS or \
                    raw.get("modality", "any") not in ("any", "visual", "audio", "text"):
                raise FPError(f"{path}: rule {i} is not valid (verdict one of {', '.join(VERDICTS)}; "
                              f"modality any/visual/audio/text; unknown keys: {sorted(unknown)})")
            rules.append(Rule(**raw))
        if not rules:
            raise FPError(f"{path}: the policy has no [[rule]]")
        return cls(tuple(rules))


DEFAULT_POLICY = Policy((
    Rule("match", min_seconds=10.0),
    Rule("match", min_suspect_percent=50.0),
    Rule("review"),
))
"""10 s or more matched, or half the suspect: `match`; any shorter match: `review`."""


@dataclass
class TitleVerdict:
    title_id: str
    verdict: str
    matched_seconds: float
    suspect_percent: float
    reference_percent: float
    segments: list[Match] = field(default_factory=list)


def covered(ranges: list[tuple[float, float]]) -> float:
    """Length of the union of [start, end) ranges."""
    total, end = 0.0, float("-inf")
    for a, b in sorted(ranges):
        if b > end:
            total += b - max(a, end)
            end = b
    return total


def supports(m: Match, modality: str, cfg: Config) -> bool:
    if modality == "any":
        return True
    limit = {"visual": cfg.match_threshold, "audio": cfg.audio_match_threshold,
             "text": cfg.text_match_threshold}[modality]
    score = m.modalities.get(modality)
    return score is not None and score >= limit


def apply_policy(report: MatchReport, durations: dict[str, float], policy: Policy = DEFAULT_POLICY,
                 config: Config | None = None) -> tuple[str, list[TitleVerdict]]:
    """The suspect's verdict and one verdict per matched title (strongest first)."""
    cfg = config or Config()
    by_title: dict[str, list[Match]] = {}
    for m in report.matches:
        if m.decision == "match":
            by_title.setdefault(m.title_id, []).append(m)
    verdicts = []
    for title_id, segments in by_title.items():
        verdict, stats = "no_match", (0.0, 0.0, 0.0)
        for rule in policy.rules:
            kept = [m for m in segments if supports(m, rule.modality, cfg)]
            seconds = covered([(m.query_start, m.query_end) for m in kept])
            suspect = 100 * seconds / report.query_duration if report.query_duration else 0.0
            ref_len = durations.get(title_id, 0.0)
            reference = 100 * covered([(m.ref_start, m.ref_end) for m in kept]) / ref_len if ref_len else 0.0
            if kept and seconds >= rule.min_seconds and suspect >= rule.min_suspect_percent \
                    and reference >= rule.min_reference_percent:
                verdict, stats = rule.verdict, (seconds, suspect, reference)
                break
        else:
            seconds = covered([(m.query_start, m.query_end) for m in segments])
            ref_len = durations.get(title_id, 0.0)
            stats = (seconds, 100 * seconds / report.query_duration if report.query_duration else 0.0,
                     100 * covered([(m.ref_start, m.ref_end) for m in segments]) / ref_len if ref_len else 0.0)
        verdicts.append(TitleVerdict(title_id, verdict, *stats, segments))
    verdicts.sort(key=lambda v: (-RANK[v.verdict], -v.matched_seconds))
    overall = verdicts[0].verdict if verdicts else "no_match"
    return overall, verdicts
