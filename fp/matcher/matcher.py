"""`fp match`: suspect -> `QueryFingerprint` -> candidates (k-NN, votes: `Hypothesis`) ->
localisation (`AlignedSegment`) -> decisions (`Match`) -> `MatchReport`."""

from __future__ import annotations

import dataclasses
import math
import os
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

from fp.config import Config
from fp.data.probe import probe
from fp.errors import Cancelled
from fp.fingerprint.identity import check_digests
from fp.fingerprint.types import REFRAME, QueryFingerprint
from fp.index.reader import IndexReader
from fp.matcher.align import PRIMARY, AlignedSegment, AlignParams, Scale, align, part, reference_window
from fp.matcher.candidates import VoteParams, candidates
from fp.matcher.decisions import DecisionParams, decide
from fp.matcher.types import Hypothesis, MatchReport

if TYPE_CHECKING:
    from fp.fingerprint.extract import Fingerprinter


def modality_scales(cfg: Config) -> dict[str, Scale]:
    """Each modality's raw similarity thresholds, mapped onto the visual scale."""
    frame, match = cfg.frame_min_similarity, cfg.match_threshold
    return {
        "visual": Scale(frame, match, frame, match),
        "audio": Scale(cfg.audio_frame_min_similarity, cfg.audio_match_threshold, frame, match),
        "text": Scale(cfg.text_frame_min_similarity, cfg.text_match_threshold, frame, match),
        REFRAME: Scale(frame, match, frame, match),
    }


class Matcher:
    """Matches suspect files against an index. Open once, call :meth:`match` many times."""

    def __init__(self, index_dir: str | os.PathLike | None = None, config: Config | None = None,
                 fingerprinter: Fingerprinter | None = None, *, reader=None):
        """Open the index at `index_dir`, or match through `reader` (an `IndexReader` or a
        `fp.index.shards.ShardedReader`)."""
        self.reader = reader if reader is not None else IndexReader(index_dir)
        try:
            if config is not None:
                self.reader.config.check_compatible(config)
            # Fingerprint settings come from the index; thresholds from the caller or this release.
            self.config = dataclasses.replace(config or Config(), **self.reader.config.fingerprint_settings())
            check_digests(self.reader.meta().get("weights"), self.config)
        except BaseException:
            if reader is None:  # opened here: not left open behind a refusal
                self.reader.close()
            raise
        if fingerprinter is None:
            from fp.fingerprint.extract import Fingerprinter

            fingerprinter = Fingerprinter(self.config)
        self.fingerprinter = fingerprinter
        self.scales = modality_scales(self.config)
        self.votes = VoteParams.from_config(self.config)
        self.alignment = AlignParams.from_config(self.config)
        self.decisions = DecisionParams.from_config(self.config, self.reader.hours)
        self.titles = self.reader.titles
        self.durations = {t.title_id: t.duration for t in self.titles}

    def close(self) -> None:
        self.reader.close()

    def __enter__(self) -> Matcher:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def match(self, path: str | os.PathLike, *, min_score: float | None = None,
              cancel: threading.Event | None = None) -> MatchReport:
        """Find copied segments of catalogue titles in `path`.

        Segments below their decision threshold (`match_threshold`, raised by segment length for
        the catalogue's size: `DecisionParams.threshold`), or shorter than `min_match_seconds`, are
        `candidate`s, listed only when `min_score` is given (then every segment scoring at least
        `min_score` is listed). Setting `cancel` stops the work at the next batch of frames or
        hypothesis, with :class:`Cancelled`.
        """

        def check_cancel(*_) -> None:
            if cancel is not None and cancel.is_set():
                raise Cancelled(f"{path}: matching cancelled")

        info = probe(path)
        query = self.fingerprinter.query_fingerprint(info, on_progress=check_cancel, match=self.config)
        return self.match_fingerprint(query, min_score=min_score, check_cancel=check_cancel)

    def match_fingerprint(self, query: QueryFingerprint, *, min_score: float | None = None,
                          check_cancel: Callable[[], None] = lambda: None) -> MatchReport:
        """:meth:`match` for a suspect already fingerprinted."""
        info = query.info
        segments = []
        for hyp in candidates(query, self.reader.neighbours, self.reader.modalities, self.scales, self.votes):
            check_cancel()
            segments += [(hyp.title_id, seg) for seg in self._localise(query, hyp)]
        matches = decide(segments, self.decisions)
        if min_score is None:
            kept = [m for m in matches if m.decision == "match"]
        else:
            kept = [m for m in matches if m.score >= min_score]
        kept.sort(key=lambda m: (-m.score, m.query_start))
        return MatchReport(str(info.path), info.duration, kept, info)

    def _localise(self, query: QueryFingerprint, hyp: Hypothesis) -> list[AlignedSegment]:
        """The segments of one hypothesis: its picture variants (the best per sample; sampled between
        the samples too where they were, for the fractional shifts; its portrait samples, at every
        phase, against the title's centre squares too) and the shared soundtrack and
        subtitles aligned with the window of the title that the search radius around its offset
        can reach (nothing else of the title is read)."""
        chosen = [v for v in query.variants if v.name in hyp.variants]
        tracks = {PRIMARY: [v.track for v in chosen], **{m: [track] for m, track in query.tracks.items()}}
        portrait_phases = []
        if query.portrait is not None:
            tracks[REFRAME] = [query.portrait.track]
            portrait_phases = query.portrait.phases
        phases = [list(tracks) for tracks in zip(*(v.phases for v in chosen if v.phases))]
        step = chosen[0].track.step
        samples = max(len(t) for ts in [*tracks.values(), *phases] for t in ts)
        # only the voters' stretch and its context: a hypothesis costs the same in a long suspect
        context, lo, hi = self.alignment.context, 0, samples
        if math.isfinite(hyp.query_end + context):
            lo = max(0, int((hyp.query_start - context) / step))
            hi = min(samples, math.ceil((hyp.query_end + context) / step))
        sliced = lo > 0 or hi < samples
        if sliced:
            tracks = {m: [part(t, lo, hi) for t in ts] for m, ts in tracks.items()}
            phases = [[part(t, lo, hi) for t in ts] for ts in phases]
            portrait_phases = [part(t, lo, hi) for t in portrait_phases]
        shift = lo * step
        first, stop = reference_window(hyp.offset + shift, step, self.alignment.radius, hi - lo)
        ref = self.reader.window(hyp.title_id, first, stop)
        found = align(tracks, ref, hyp.offset + shift, self.scales, self.alignment,
                      ref_duration=self.durations[hyp.title_id], query_duration=query.info.duration - shift,
                      phases=phases, portrait_phases=portrait_phases)
        if not sliced:
            return found
        return [dataclasses.replace(seg, query_start=seg.query_start + shift, query_end=seg.query_end + shift,
                                    series=seg.series and seg.series.placed(lo, samples)) for seg in found]
