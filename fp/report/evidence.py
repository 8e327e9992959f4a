"""Gather everything a report shows into one `Evidence` (see `fp.report.types`), per matched
title its per-sample similarity over the suspect (see `fp.report.similarity`)."""

from __future__ import annotations

import dataclasses
import json
import threading
from datetime import datetime, timezone
from pathlib import Path

from fp import __version__
from fp.data.catalogue import file_sha256
from fp.data.probe import probe
from fp.index.history import RunHistory
from fp.matcher.matcher import Matcher
from fp.matcher.policy import DEFAULT_POLICY, Policy, apply_policy
from fp.matcher.types import MatchReport
from fp.report.similarity import title_similarity
from fp.report.types import Evidence, IndexProvenance, SuspectFile, TitleEvidence


def build_evidence(report: MatchReport, matcher: Matcher, policy: Policy = DEFAULT_POLICY,
                   label: str | None = None) -> Evidence:
    """`label` names the suspect in place of its path (an upload's own file name)."""
    path = Path(report.query_path)
    info = report.info or probe(path)
    verdict, per_title = apply_policy(report, matcher.durations, policy, matcher.config)
    records = {t.title_id: t for t in matcher.titles}
    meta = matcher.reader.meta()
    titles = []
    for tv in per_title:
        rec = records.get(tv.title_id)
        # its candidates too (listed with `min_score`), matches first
        segments = sorted((m for m in report.matches if m.title_id == tv.title_id),
                          key=lambda m: m.decision != "match")
        titles.append(TitleEvidence(
            tv.title_id, tv.verdict, round(tv.matched_seconds, 3), round(tv.suspect_percent, 2),
            round(tv.reference_percent, 2), rec.path if rec else None, rec.duration if rec else None,
            rec.metadata if rec else {}, title_similarity(segments, matcher.config.match_threshold)))
    shown = report if label is None else dataclasses.replace(report, query_path=label)
    updated = max((t.added_at for t in matcher.titles), default=None)
    return Evidence(
        report=shown, verdict=verdict, titles=titles,
        suspect=SuspectFile(str(shown.query_path), file_sha256(path), info.size_bytes, info.to_dict()),
        index=IndexProvenance(str(matcher.reader.root), meta.get("created_at"),
                              updated.isoformat() if updated else None, json.loads(meta["config"])),
        policy=[dataclasses.asdict(rule) for rule in policy.rules],
        created_at=datetime.now(timezone.utc).isoformat(timespec="seconds"), fp_version=__version__)


def check(matcher: Matcher, path: str | Path, *, policy: Policy = DEFAULT_POLICY,
          min_score: float | None = None, record: bool = True, label: str | None = None,
          cancel: threading.Event | None = None) -> Evidence:
    """Match one suspect, judge it by `policy` and (with `record`) keep it in the index's history.
    `cancel`: see :meth:`Matcher.match`."""
    report = matcher.match(path, min_score=min_score, cancel=cancel)
    evidence = build_evidence(report, matcher, policy, label)
    if record:
        evidence.run_id = RunHistory(matcher.reader.root).record(
            evidence.suspect.path, evidence.suspect.sha256, evidence.verdict, evidence.to_dict())
    return evidence
