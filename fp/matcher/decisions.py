"""Decisions: aligned segments of every title -> `Match`es.

Per title, a stretch of the suspect is explained by its best alignment (dedupe); consecutive
pieces of one copy whose offsets drift are joined (chaining); a look-alike stretch inside a
stronger copy of another title is outshone (rivals); a stretch that many titles share is only a
candidate (shared content); the thresholds decide the rest: `match_threshold`, raised for the
catalogue's size where the false-match tail needs it, by segment length
(`fp.matcher.calibration`).
"""

from __future__ import annotations

from bisect import bisect_left
from dataclasses import dataclass

from fp.config import Config
from fp.matcher.align import AlignedSegment
from fp.matcher.calibration import length_thresholds
from fp.matcher.types import Match

Found = tuple[str, AlignedSegment]
"""A title id and one of its aligned segments."""


@dataclass(frozen=True)
class DecisionParams:
    """What turns aligned segments into matches; see the `Config` fields of the same names."""

    gap_seconds: float
    dedupe_overlap: float
    cover_share: float
    chain_overlap_seconds: float
    chain_rate_tolerance: float
    rival_margin: float
    outshone_power: float
    shared_content_titles: int
    match_threshold: float
    """`Config.match_threshold`: the decision threshold of a segment of any length, unless
    `length_thresholds` raises it."""
    min_match_seconds: float
    length_thresholds: tuple[tuple[float, float], ...] = ()
    """(shortest length in seconds, threshold) per segment-length class, shortest first: the
    false-match tail's thresholds for the catalogue's size
    (`fp.matcher.calibration.length_thresholds`); empty when not enforced."""

    @classmethod
    def from_config(cls, cfg: Config, catalogue_hours: float | None = None) -> DecisionParams:
        """`catalogue_hours`: the index's size, when the caller knows it (see `length_thresholds`)."""
        return cls(gap_seconds=cfg.gap_seconds, dedupe_overlap=cfg.dedupe_overlap, cover_share=cfg.cover_share,
                   chain_overlap_seconds=cfg.chain_overlap_seconds, chain_rate_tolerance=cfg.chain_rate_tolerance,
                   rival_margin=cfg.rival_margin, outshone_power=cfg.outshone_power,
                   shared_content_titles=cfg.shared_content_titles, match_threshold=cfg.match_threshold,
                   min_match_seconds=cfg.min_match_seconds,
                   length_thresholds=length_thresholds(cfg, catalogue_hours))

    def threshold(self, seconds: float) -> float:
        """The decision threshold applied to a segment `seconds` long: its length class's, never
        below `match_threshold`."""
        applied = self.match_threshold
        for shortest, threshold in self.length_thresholds:
            if seconds >= shortest - 1e-9:
                applied = max(self.match_threshold, threshold)
        return applied


class Stretches:
    """Segments indexed by their stretch of the suspect: each segment meets only those it overlaps,
    so that dedupe and rivals cost n log n plus the overlaps, not n squared (a long suspect
    against a large catalogue brings thousands of segments: 5,000 took 20 s before)."""

    def __init__(self, segments: list[Found]):
        self.items = sorted(segments, key=lambda item: item[1].query_start)
        self.starts = [seg.query_start for _, seg in self.items]
        self.longest = max((seg.query_end - seg.query_start for _, seg in self.items), default=0.0)

    def overlapping(self, seg: AlignedSegment) -> list[Found]:
        """The segments (`seg` itself among them) sharing some of `seg`'s stretch of the suspect."""
        lo = bisect_left(self.starts, seg.query_start - self.longest)  # earlier ones end before seg starts
        hi = bisect_left(self.starts, seg.query_end)
        return [(t, o) for t, o in self.items[lo:hi] if o.query_end > seg.query_start]


def decide(segments: list[Found], params: DecisionParams) -> list[Match]:
    """Every segment that survives dedupe and chaining, as a `match` or a `candidate`."""
    chained = chain(dedupe(segments, params.dedupe_overlap), params)
    stretches = Stretches(chained)
    return [judge(title_id, seg, stretches.overlapping(seg), params) for title_id, seg in chained]


def judge(title_id: str, seg: AlignedSegment, others: list[Found], params: DecisionParams) -> Match:
    """One segment's decision, weighed against the segments of other titles over its stretch
    (`others`: every segment, or those overlapping it)."""
    score = outshone(seg.score, rival(title_id, seg, others, params.cover_share), params.rival_margin,
                     params.outshone_power)
    length = seg.query_end - seg.query_start
    threshold = params.threshold(length)
    strong = score >= threshold and length >= params.min_match_seconds \
        and sharers(title_id, seg, others, params.cover_share) < params.shared_content_titles
    return Match(title_id, seg.query_start, seg.query_end, seg.ref_start, seg.ref_end, score,
                 "match" if strong else "candidate", dict(seg.modalities), threshold, seg.series)


def dedupe(segments: list[Found], overlap: float) -> list[Found]:
    """Per title, each stretch of the query is explained by its best alignment only: a segment
    more than `overlap` inside a stronger one of the same title (a repeated shot, a neighbouring
    offset, the other orientation) is dropped. Strength is score x duration, leaving out the
    stretch that a better-scoring segment of another title explains: in a compilation, a periodic
    title aligned one period off reached into the part before it (0.755 over 12.6 s, 2.3 s of them
    the previous title's at 0.768) and outweighed its true alignment (0.917 over 10.3 s). Other
    titles keep theirs: near-duplicate titles are all reported."""
    stretches = Stretches(segments)
    near = {id(seg): stretches.overlapping(seg) for _, seg in segments}
    evidence = {id(seg): _evidence(title_id, seg, near[id(seg)]) for title_id, seg in segments}
    kept: list[Found] = []
    taken: set[int] = set()
    for title_id, seg in sorted(segments, key=lambda item: (-evidence[id(item[1])], item[1].query_start)):
        if not any(t == title_id and id(k) in taken and _overlap(seg, k) > overlap for t, k in near[id(seg)]):
            kept.append((title_id, seg))
            taken.add(id(seg))
    return kept


def sharers(title_id: str, seg: AlignedSegment, segments: list[Found], share: float) -> int:
    """How many titles (this one included) align with most of this stretch of the suspect."""
    return 1 + len({t for t, other in segments if t != title_id and covers(other, seg, share)})


def covers(other: AlignedSegment, seg: AlignedSegment, share: float) -> bool:
    """Whether `other` spans more than `share` of `seg` on the query axis."""
    length = seg.query_end - seg.query_start
    return length > 0 and \
        min(seg.query_end, other.query_end) - max(seg.query_start, other.query_start) > share * length


def outshone(score: float, rival: float, margin: float, power: float) -> float:
    """A segment's score once another title's alignment over the same stretch is weighed: kept
    when the rival is no better by more than `margin` (near-duplicate titles), else scaled by
    (score / rival) ** power (look-alike frames, such as text cards, inside a copy of another title)."""
    return score * (score / rival) ** power if rival > score + margin else score


def rival(title_id: str, seg: AlignedSegment, segments: list[Found], share: float) -> float:
    """The best score of another title aligning with most of this stretch of the suspect."""
    return max((other.score for t, other in segments if t != title_id and covers(other, seg, share)),
               default=0.0)


def chain(segments: list[Found], params: DecisionParams) -> list[Found]:
    """Join consecutive pieces of one copy: same title, close in the query (overlapping by up to
    `chain_overlap_seconds` or apart by up to `gap_seconds`), and the reference advancing as the
    query does within `chain_rate_tolerance` (a copy sped up or slowed down, PAL 25/24 included,
    aligns as a run of pieces whose offsets drift)."""
    by_title: dict[str, list[AlignedSegment]] = {}
    for title_id, seg in segments:
        by_title.setdefault(title_id, []).append(seg)
    out = []
    for title_id, segs in by_title.items():
        segs.sort(key=lambda s: s.query_start)
        current = segs[0]
        for seg in segs[1:]:
            q_gap = seg.query_start - current.query_end
            span_q = seg.query_end - current.query_start
            span_r = seg.ref_end - current.ref_start
            if -params.chain_overlap_seconds <= q_gap <= params.gap_seconds and seg.ref_start >= current.ref_start \
                    and span_q > 0 and abs(span_r / span_q - 1.0) <= params.chain_rate_tolerance:
                current = join(current, seg)
            else:
                out.append((title_id, current))
                current = seg
        out.append((title_id, current))
    return out


def join(a: AlignedSegment, b: AlignedSegment) -> AlignedSegment:
    """Two chained pieces as one segment, scores weighted by duration."""
    wa, wb = a.query_end - a.query_start, b.query_end - b.query_start
    modalities = {}
    for m in set(a.modalities) | set(b.modalities):
        va, vb = a.modalities.get(m), b.modalities.get(m)
        modalities[m] = (va if vb is None else vb if va is None else (va * wa + vb * wb) / (wa + wb))
    # each piece's similarities at its own shift, cut halfway between the pieces
    series = a.series.spliced(b.series, (a.query_end + b.query_start) / 2) \
        if a.series is not None and b.series is not None else a.series or b.series
    return AlignedSegment(a.query_start, max(a.query_end, b.query_end), a.ref_start,
                          max(a.ref_end, b.ref_end), (a.score * wa + b.score * wb) / (wa + wb), modalities,
                          series)


def _evidence(title_id: str, seg: AlignedSegment, segments: list[Found]) -> float:
    """score x the seconds of `seg` that no better-scoring segment of another title covers
    (`segments`: every segment, or those overlapping it)."""
    covered = sorted((max(seg.query_start, o.query_start), min(seg.query_end, o.query_end))
                     for t, o in segments if t != title_id and o.score > seg.score)
    seconds, reach = seg.query_end - seg.query_start, seg.query_start
    for a, b in covered:  # the union of the covered stretches, in order
        if b > max(a, reach):
            seconds -= b - max(a, reach)
            reach = b
    return seg.score * seconds


def _overlap(a: AlignedSegment, b: AlignedSegment) -> float:
    inter = min(a.query_end, b.query_end) - max(a.query_start, b.query_start)
    shorter = min(a.query_end - a.query_start, b.query_end - b.query_start)
    return max(0.0, inter) / shorter if shorter > 0 else 0.0
