"""`fp match`: suspect -> `QueryFingerprint` -> candidates (k-NN, votes: `Hypothesis`) ->
localisation (`AlignedSegment`) -> decisions (`Match`) -> `MatchReport`."""

from __future__ import annotations

import dataclasses
import os
import threading
from collections import OrderedDict

from fp.config import Config
from fp.data.probe import probe
from fp.errors import Cancelled, MediaError
from fp.fingerprint.extract import Fingerprinter
from fp.fingerprint.types import FeatureTrack, QueryFingerprint
from fp.index.store import MODALITIES, IndexStore
from fp.matcher.align import PRIMARY, AlignedSegment, AlignParams, Scale, align
from fp.matcher.candidates import VoteParams, candidates
from fp.matcher.decisions import DecisionParams, decide
from fp.matcher.types import Hypothesis, MatchReport

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
        self.votes = VoteParams.from_config(self.config)
        self.alignment = AlignParams.from_config(self.config)
        self.decisions = DecisionParams.from_config(self.config)
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
        query = self.fingerprinter.query_fingerprint(info, on_progress=check_cancel)
        segments = []
        for hyp in candidates(query, self.indexes, self.scales, self.table, self.votes):
            check_cancel()
            segments += [(hyp.title_id, seg) for seg in self._localise(query, hyp)]
        matches = decide(segments, self.decisions)
        if min_score is None:
            kept = [m for m in matches if m.decision == "match"]
        else:
            kept = [m for m in matches if m.score >= min_score]
        kept.sort(key=lambda m: (-m.score, m.query_start))
        return MatchReport(str(path), info.duration, kept, info)

    def _localise(self, query: QueryFingerprint, hyp: Hypothesis) -> list[AlignedSegment]:
        """The segments of one hypothesis: its picture variants (the best per sample) and the
        shared soundtrack and subtitles aligned with the title near its offset."""
        variants = [v.track for v in query.variants if v.name in hyp.variants]
        tracks = {PRIMARY: variants, **{m: [track] for m, track in query.tracks.items()}}
        return align(tracks, self._title_tracks(hyp.title_id), hyp.offset, self.scales, self.alignment,
                     ref_duration=self.durations[hyp.title_id], query_duration=query.info.duration)

    def _title_tracks(self, title_id: str) -> dict[str, FeatureTrack]:
        if title_id in self._tracks:
            self._tracks.move_to_end(title_id)
            return self._tracks[title_id]
        tracks = self.store.tracks(title_id, self.hashes[title_id])
        self._tracks[title_id] = tracks
        if len(self._tracks) > TRACK_CACHE:
            self._tracks.popitem(last=False)
        return tracks
