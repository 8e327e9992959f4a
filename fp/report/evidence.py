"""Gather everything a report shows into one JSON-ready dict (a superset of the JSON contract),
per matched title its per-sample similarity over the suspect (see `fp.report.similarity`)."""

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


def build_evidence(report: MatchReport, matcher: Matcher, policy: Policy = DEFAULT_POLICY,
                   label: str | None = None) -> dict:
    """`label` names the suspect in place of its path (an upload's own file name)."""
    path = Path(report.query_path)
    info = report.info or probe(path)
    verdict, per_title = apply_policy(report, matcher.durations, policy, matcher.config)
    records = {t.title_id: t for t in matcher.titles}
    meta = matcher.store.meta()
    titles = []
    for tv in per_title:
        rec = records.get(tv.title_id)
        titles.append({
            "title_id": tv.title_id, "verdict": tv.verdict,
            "matched_seconds": round(tv.matched_seconds, 3),
            "suspect_percent": round(tv.suspect_percent, 2),
            "reference_percent": round(tv.reference_percent, 2),
            "path": rec.path if rec else None, "duration": rec.duration if rec else None,
            "metadata": rec.metadata if rec else {},
            "similarity": title_similarity(tv.segments, matcher.config.match_threshold),
        })
    contract = report.to_dict()
    if label is not None:
        contract["query"]["path"] = label
    return {
        **contract,
        "verdict": verdict,
        "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "fp_version": __version__,
        "titles": titles,
        "suspect": {"path": label if label is not None else str(path), "sha256": file_sha256(path), "size_bytes": info.size_bytes,
                    "probe": info.to_dict()},
        "index": {"path": str(matcher.store.root), "created_at": meta.get("created_at"),
                  "updated_at": max((t.added_at for t in matcher.titles), default=None).isoformat()
                  if matcher.titles else None,
                  "config": json.loads(meta["config"])},
        "policy": [dataclasses.asdict(rule) for rule in policy.rules],
    }


def check(matcher: Matcher, path: str | Path, *, policy: Policy = DEFAULT_POLICY,
          min_score: float | None = None, record: bool = True, label: str | None = None,
          cancel: threading.Event | None = None) -> dict:
    """Match one suspect, judge it by `policy` and (with `record`) keep it in the index's history.
    `cancel`: see :meth:`Matcher.match`."""
    report = matcher.match(path, min_score=min_score, cancel=cancel)
    evidence = build_evidence(report, matcher, policy, label)
    evidence["run_id"] = None
    if record:
        evidence["run_id"] = RunHistory(matcher.store.root).record(
            evidence["suspect"]["path"], evidence["suspect"]["sha256"], evidence["verdict"], evidence)
    return evidence
