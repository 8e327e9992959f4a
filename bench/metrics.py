"""Copy-detection metrics after VSC22 (Meta's Video Similarity Challenge) and VCSL.

Follows the reference implementation, facebookresearch/vsc2022 `vsc/metrics.py`:
`average_precision` / `drivendata_average_precision` (descriptor track, micro-AP over
(query, reference) pairs) and `match_metric` / `VideoPair` (matching track, segment AP from
interval overlap on the query and the reference axis, combined by geometric mean).
"""

from __future__ import annotations

import itertools
import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

Interval = tuple[float, float]


@dataclass(frozen=True)
class Segment:
    """A copied segment: ground truth or a prediction (seconds on each axis)."""

    query_id: str
    ref_id: str
    query_start: float
    query_end: float
    ref_start: float
    ref_end: float


@dataclass(frozen=True)
class Prediction(Segment):
    score: float
    decision: bool = True  # True when the system's default decision calls it a match


AXES = ("query", "ref")


def _interval(segment: Segment, axis: str) -> Interval:
    return (segment.query_start, segment.query_end) if axis == "query" else (segment.ref_start, segment.ref_end)


def _union(intervals: Iterable[Interval]) -> list[Interval]:
    merged: list[Interval] = []
    for start, end in sorted(intervals):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def _length(intervals: Iterable[Interval]) -> float:
    return sum(end - start for start, end in _union(intervals))


def _intersect_length(a: Sequence[Interval], b: Sequence[Interval]) -> float:
    """|A ∩ B| = |A| + |B| - |A ∪ B| (as VSC22's `Intervals.intersect_length`)."""
    return _length(a) + _length(b) - _length([*a, *b])


def _boxes_overlap(a: Segment, b: Segment) -> bool:
    dq = min(a.query_end, b.query_end) - max(a.query_start, b.query_start)
    dr = min(a.ref_end, b.ref_end) - max(a.ref_start, b.ref_start)
    return dq > 0 and dr > 0


def _pair(segment: Segment) -> tuple[str, str]:
    return segment.query_id, segment.ref_id


class _VideoPair:
    """One (query, reference) pair's truth and predictions so far (VSC22 `VideoPair`): a truth
    box counts towards the intersection only once some prediction box overlaps it in 2-D."""

    def __init__(self) -> None:
        self.truths: list[Segment] = []
        self.preds: list[Segment] = []
        self.intersections = dict.fromkeys(AXES, 0.0)
        self.totals = dict.fromkeys(AXES, 0.0)

    def add_prediction(self, pred: Segment) -> tuple[dict[str, float], dict[str, float]]:
        """Adds a prediction; returns the changes of intersection and predicted length per axis."""
        self.preds.append(pred)
        considered = [t for t in self.truths if any(_boxes_overlap(t, p) for p in self.preds)]
        d_inter, d_total = {}, {}
        for axis in AXES:
            pred_ints = [_interval(p, axis) for p in self.preds]
            inter = _intersect_length(pred_ints, [_interval(t, axis) for t in considered])
            total = _length(pred_ints)
            d_inter[axis], d_total[axis] = inter - self.intersections[axis], total - self.totals[axis]
            self.intersections[axis], self.totals[axis] = inter, total
        return d_inter, d_total


def _pairs_with_truth(truth: Iterable[Segment]) -> tuple[defaultdict[tuple[str, str], _VideoPair], dict[str, float]]:
    pairs: defaultdict[tuple[str, str], _VideoPair] = defaultdict(_VideoPair)
    for t in truth:
        pairs[_pair(t)].truths.append(t)
    truth_lengths = {axis: sum(_length(_interval(t, axis) for t in p.truths) for p in pairs.values())
                     for axis in AXES}
    return pairs, truth_lengths


def _ratio(num: float, den: float) -> float:
    return num / den if den > 0 else 0.0


def _precision_recall(inter: dict[str, float], totals: dict[str, float],
                      truth_lengths: dict[str, float]) -> tuple[float, float]:
    """P = sqrt(Pq·Pr), R = sqrt(Rq·Rr) (VCSL)."""
    precision = math.sqrt(_ratio(inter["query"], totals["query"]) * _ratio(inter["ref"], totals["ref"]))
    recall = math.sqrt(_ratio(inter["query"], truth_lengths["query"]) * _ratio(inter["ref"], truth_lengths["ref"]))
    return precision, recall


def micro_ap(predictions: Iterable[Prediction], truth: Iterable[Segment]) -> float:
    """Video-level micro-AP over (query, reference) pairs (VSC22 descriptor track).

    A pair's score is the highest score of its predictions. Pairs are ranked by score; tied scores
    form one threshold, as scikit-learn's `average_precision_score` in VSC22's canonical
    `drivendata_average_precision`. AP = Σ precision@threshold × Δrecall, recall over every
    distinct truth pair, so pairs never predicted cost recall.
    """
    positives = {_pair(t) for t in truth}
    if not positives:
        return 0.0
    scores: dict[tuple[str, str], float] = {}
    for p in predictions:
        scores[_pair(p)] = max(p.score, scores.get(_pair(p), -math.inf))
    ranked = sorted(scores.items(), key=lambda kv: kv[1], reverse=True)
    ap, seen, correct = 0.0, 0, 0
    for _, group in itertools.groupby(ranked, key=lambda kv: kv[1]):
        hits = [key in positives for key, _ in group]
        seen += len(hits)
        correct += sum(hits)
        ap += correct / seen * sum(hits) / len(positives)
    return ap


def segment_ap(predictions: Iterable[Prediction], truth: Iterable[Segment]) -> float:
    """Segment-level AP (VSC22 matching track, `match_metric`).

    Predictions are added in decreasing score, tied scores as one group; after each group the
    micro precision and recall on each axis come from (union of predicted intervals) ∩ (union of
    truth intervals that some prediction box overlaps), summed over pairs; P = sqrt(Pq·Pr),
    R = sqrt(Rq·Rr); AP = Σ P × ΔR.
    """
    pairs, truth_lengths = _pairs_with_truth(truth)
    if not (truth_lengths["query"] > 0 and truth_lengths["ref"] > 0):
        return 0.0
    inter, totals = dict.fromkeys(AXES, 0.0), dict.fromkeys(AXES, 0.0)
    ap = recall = 0.0
    ranked = sorted(predictions, key=lambda p: p.score, reverse=True)
    for _, group in itertools.groupby(ranked, key=lambda p: p.score):
        for pred in group:
            d_inter, d_total = pairs[_pair(pred)].add_prediction(pred)
            for axis in AXES:
                inter[axis] += d_inter[axis]
                totals[axis] += d_total[axis]
        precision, new_recall = _precision_recall(inter, totals, truth_lengths)
        ap += precision * (new_recall - recall)
        recall = new_recall
    return ap


def decision_prf(predictions: Iterable[Prediction], truth: Iterable[Segment]) -> tuple[float, float, float]:
    """Overlap-based (precision, recall, F1) of the predictions with decision=True, computed as
    `segment_ap`'s final point; 0.0 where undefined (no predictions, no truth)."""
    pairs, truth_lengths = _pairs_with_truth(truth)
    for pred in predictions:
        if pred.decision:
            pairs[_pair(pred)].add_prediction(pred)
    inter = {axis: sum(p.intersections[axis] for p in pairs.values()) for axis in AXES}
    totals = {axis: sum(p.totals[axis] for p in pairs.values()) for axis in AXES}
    precision, recall = _precision_recall(inter, totals, truth_lengths)
    return precision, recall, _ratio(2 * precision * recall, precision + recall)


def false_positive_queries(predictions: Iterable[Prediction], negative_query_ids: Iterable[str]) -> int:
    """Number of negative queries with any decision=True prediction."""
    negatives = set(negative_query_ids)
    return len({p.query_id for p in predictions if p.decision and p.query_id in negatives})


def start_errors(predictions: Iterable[Prediction], truth: Iterable[Segment]) -> list[float]:
    """|ref_start error| per truth segment, against the decision=True prediction of the same pair
    that overlaps it most on the query axis; truth segments with no such overlap are skipped."""
    by_pair: defaultdict[tuple[str, str], list[Prediction]] = defaultdict(list)
    for p in predictions:
        if p.decision:
            by_pair[_pair(p)].append(p)
    errors = []
    for t in truth:
        overlaps = [(min(t.query_end, p.query_end) - max(t.query_start, p.query_start), p)
                    for p in by_pair[_pair(t)]]
        overlap, best = max(overlaps, key=lambda o: o[0], default=(0.0, None))
        if best is not None and overlap > 0:
            errors.append(abs(best.ref_start - t.ref_start))
    return errors
