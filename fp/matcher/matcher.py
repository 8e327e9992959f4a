"""`fp match`: query -> fingerprints -> k-NN -> votes -> aligned segments -> report."""

from __future__ import annotations

import dataclasses
import os
import threading
from collections import OrderedDict

from fp.config import Config
from fp.data.probe import probe
from fp.errors import Cancelled, MediaError
from fp.fingerprint.extract import Fingerprinter
from fp.fingerprint.types import FeatureTrack, VideoFingerprint
from fp.index.store import MODALITIES, IndexStore
from fp.matcher.align import AlignedSegment, Scale, align
from fp.matcher.candidates import vote
from fp.matcher.types import Match, MatchReport

TRACK_CACHE = 32


def modality_scales(cfg: Config) -> dict[str, Scale]:
    """Each modality's raw similarity thresholds, mapped onto the visual scale."""
    frame, match = cfg.frame_min_similarity, cfg.match_threshold
    return {
        "visual": Scale(frame, match, frame, match),
        "audio": Scale(cfg.audio_frame_min_similarity, cfg.audio_match_threshold, frame, match),
        "text": Scale(cfg.text_frame_min_similarity, cfg.text_match_threshold, frame, match),
    }


class Matcher:
    """Matches suspect files against an index. Open once, call :meth:`match` many times."""

    def __init__(self, index_dir: str | os.PathLike, config: Config | None = None,
                 fingerprinter: Fingerprinter | None = None):
        self.store = IndexStore.open(index_dir)
        if config is not None:
            self.store.config.check_compatible(config)
        # Fingerprint settings come from the index; thresholds from the caller or this release.
        self.config = dataclasses.replace(config or Config(), **self.store.config.fingerprint_settings())
        self.fingerprinter = fingerprinter or Fingerprinter(self.config)
        self.scales = modality_scales(self.config)
        snapshot = self.store.snapshot(MODALITIES)
        self.table, self.indexes = snapshot.shots, snapshot.vectors
        self.titles = snapshot.titles
        self.durations = {t.title_id: t.duration for t in snapshot.titles}
        self.hashes = {t.title_id: t.content_hash for t in snapshot.titles}
        self._tracks: OrderedDict[str, dict[str, FeatureTrack]] = OrderedDict()

    def close(self) -> None:
        self.store.close()

    def __enter__(self) -> Matcher:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def match(self, path: str | os.PathLike, *, min_score: float | None = None,
              cancel: threading.Event | None = None) -> MatchReport:
        """Find copied segments of catalogue titles in `path`.

        Segments below the calibrated `match_threshold`, or shorter than `min_match_seconds`, are
        `candidate`s, listed only when `min_score` is given (then every segment scoring at least
        `min_score` is listed). Setting `cancel` stops the work at the next batch of frames or
        hypothesis, with :class:`Cancelled`.
        """

        def check_cancel(*_) -> None:
            if cancel is not None and cancel.is_set():
                raise Cancelled(f"{path}: matching cancelled")

        info = probe(path)
        if not info.has_video:
            raise MediaError(f"{info.path}: has no video stream")
        segments = []
        for variant in self.fingerprinter.picture_variants(info, on_progress=check_cancel):
            check_cancel()  # variants: as is, mirrored, window, untagged
            segments += self._segments(variant)
        chained = _chain(_dedupe(segments), self.config.gap_seconds)
        matches = [self._decide(title_id, seg, _sharers(title_id, seg, chained), _rival(title_id, seg, chained))
                   for title_id, seg in chained]
        if min_score is None:
            kept = [m for m in matches if m.decision == "match"]
        else:
            kept = [m for m in matches if m.score >= min_score]
        kept.sort(key=lambda m: (-m.score, m.query_start))
        return MatchReport(str(path), info.duration, kept, info)

    def _segments(self, fingerprint: VideoFingerprint) -> list[tuple[str, AlignedSegment]]:
        cfg = self.config
        hypotheses = vote(fingerprint.shots, self.indexes, self.scales, self.table, k=cfg.knn,
                          min_similarity=cfg.shot_min_similarity, max_hypotheses=cfg.max_hypotheses)
        out = []
        for hyp in hypotheses:
            for seg in align(fingerprint.tracks, self._title_tracks(hyp.title_id), hyp.offset,
                             self.scales, radius=cfg.max_shot_seconds + 1.0,
                             frame_threshold=cfg.frame_min_similarity,
                             agreement_bonus=cfg.agreement_bonus, gap_seconds=cfg.gap_seconds,
                             min_seconds=cfg.min_segment_seconds, min_score=cfg.candidate_threshold,
                             ref_duration=self.durations[hyp.title_id],
                             query_duration=fingerprint.info.duration):
                out.append((hyp.title_id, seg))
        return out

    def _title_tracks(self, title_id: str) -> dict[str, FeatureTrack]:
        if title_id in self._tracks:
            self._tracks.move_to_end(title_id)
            return self._tracks[title_id]
        tracks = self.store.tracks(title_id, self.hashes[title_id])
        self._tracks[title_id] = tracks
        if len(self._tracks) > TRACK_CACHE:
            self._tracks.popitem(last=False)
        return tracks

    def _decide(self, title_id: str, seg: AlignedSegment, sharers: int, rival: float) -> Match:
        cfg = self.config
        score = outshone(seg.score, rival, cfg.rival_margin)
        strong = score >= cfg.match_threshold and seg.query_end - seg.query_start >= cfg.min_match_seconds \
            and sharers < cfg.shared_content_titles
        return Match(title_id, seg.query_start, seg.query_end, seg.ref_start, seg.ref_end,
                     score, "match" if strong else "candidate", dict(seg.modalities), seg.series)


def _dedupe(segments: list[tuple[str, AlignedSegment]]) -> list[tuple[str, AlignedSegment]]:
    """Per title, each stretch of the query is explained by its best alignment only: a segment
    mostly inside a stronger one (score x duration) of the same title (a repeated shot, a
    neighbouring offset, the other orientation) is dropped. Other titles keep theirs:
    near-duplicate titles are all reported."""
    kept: list[tuple[str, AlignedSegment]] = []
    for title_id, seg in sorted(segments, key=lambda item: (-_evidence(item[1]), item[1].query_start)):
        if not any(t == title_id and _overlap(seg, k) > 0.5 for t, k in kept):
            kept.append((title_id, seg))
    return kept


def _sharers(title_id: str, seg: AlignedSegment, segments: list[tuple[str, AlignedSegment]]) -> int:
    """How many titles (this one included) align with most of this stretch of the suspect."""
    return 1 + len({t for t, other in segments if t != title_id and _covers(other, seg)})


def _covers(other: AlignedSegment, seg: AlignedSegment) -> bool:
    """Whether `other` spans more than half of `seg` on the query axis."""
    length = seg.query_end - seg.query_start
    return length > 0 and min(seg.query_end, other.query_end) - max(seg.query_start, other.query_start) > 0.5 * length


def outshone(score: float, rival: float, margin: float) -> float:
    """A segment's score once another title's alignment over the same stretch is weighed: kept
    when the rival is no better by more than `margin` (near-duplicate titles), else scaled by
    (score / rival) ** 4 (look-alike frames, such as text cards, inside a copy of another title)."""
    return score * (score / rival) ** 4 if rival > score + margin else score


def _rival(title_id: str, seg: AlignedSegment, segments: list[tuple[str, AlignedSegment]]) -> float:
    """The best score of another title aligning with most of this stretch of the suspect."""
    return max((other.score for t, other in segments if t != title_id and _covers(other, seg)), default=0.0)


def _chain(segments: list[tuple[str, AlignedSegment]], gap: float) -> list[tuple[str, AlignedSegment]]:
    """Join consecutive pieces of one copy: same title, close in the query, and the reference
    advancing as the query does give or take 10 % (a copy sped up or slowed down, PAL 25/24
    included, aligns as a run of pieces whose offsets drift)."""
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
            if -1.0 <= q_gap <= gap and seg.ref_start >= current.ref_start and span_q > 0 \
                    and abs(span_r / span_q - 1.0) <= 0.1:
                current = _join(current, seg)
            else:
                out.append((title_id, current))
                current = seg
        out.append((title_id, current))
    return out


def _join(a: AlignedSegment, b: AlignedSegment) -> AlignedSegment:
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


def _evidence(seg: AlignedSegment) -> float:
    return seg.score * (seg.query_end - seg.query_start)


def _overlap(a: AlignedSegment, b: AlignedSegment) -> float:
    inter = min(a.query_end, b.query_end) - max(a.query_start, b.query_start)
    shorter = min(a.query_end - a.query_start, b.query_end - b.query_start)
    return max(0.0, inter) / shorter if shorter > 0 else 0.0

