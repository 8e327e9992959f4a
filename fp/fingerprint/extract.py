"""Fingerprint a video: decode -> per-sample embeddings -> shots -> per-shot fingerprints."""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator

import numpy as np

from fp.config import Config
from fp.data.decode import iter_frames
from fp.data.probe import MediaInfo, probe
from fp.errors import MediaError
from fp.fingerprint.encoders import VisualEncoder, load_visual_encoder
from fp.fingerprint.frames import blank_mask, fill_frames
from fp.fingerprint.shots import build_shots, segment_shots
from fp.fingerprint.types import FeatureTrack, VideoFingerprint

MIN_DECODED_FRACTION = 0.8
"""A video whose decodable picture covers less than this share of its duration is truncated."""


def prefetch(items: Iterator, depth: int = 3) -> Iterator:
    """Run `items` in a background thread so decoding overlaps encoding."""
    box: queue.Queue = queue.Queue(maxsize=depth)
    done = object()
    stop = threading.Event()

    def work() -> None:
        try:
            for item in items:
                if stop.is_set():
                    break
                box.put((item, None))
        except BaseException as exc:  # handed over to the consumer
            box.put((None, exc))
        box.put((done, None))

    thread = threading.Thread(target=work, daemon=True)
    thread.start()
    try:
        while True:
            item, exc = box.get()
            if exc is not None:
                raise exc
            if item is done:
                return
            yield item
    finally:
        stop.set()
        while thread.is_alive():
            try:
                box.get(timeout=0.1)
            except queue.Empty:
                pass


class Fingerprinter:
    """Turns media files into VideoFingerprints; holds the encoders, loaded once."""

    def __init__(self, config: Config, device: str | None = None):
        self.config = config
        self.device = device
        self._visual: VisualEncoder | None = None

    @property
    def visual(self) -> VisualEncoder:
        if self._visual is None:
            self._visual = load_visual_encoder(self.config.visual_encoder, self.device)
        return self._visual

    def visual_track(self, info: MediaInfo, *, honour_rotation: bool = True,
                     on_progress: Callable[[float], None] | None = None) -> FeatureTrack:
        cfg = self.config
        step = 1.0 / cfg.frame_rate
        vectors, valid = [], []
        decoded = 0
        for frames in prefetch(iter_frames(info, cfg.frame_rate, cfg.frame_size,
                                           honour_rotation=honour_rotation)):
            valid.append(~blank_mask(frames, cfg.blank_std))
            vectors.append(self.visual.encode(fill_frames(frames)))
            decoded += len(frames)
            if on_progress:
                on_progress(min(decoded * step, info.duration))
        if decoded == 0:
            raise MediaError(f"{info.path}: no decodable video frames")
        expected = info.video_duration or info.duration
        if decoded * step < MIN_DECODED_FRACTION * expected - 2 * step:
            raise MediaError(f"{info.path}: truncated or corrupt: only {decoded * step:.1f} s of "
                             f"{expected:.1f} s could be decoded")
        return FeatureTrack("visual", step, np.concatenate(vectors), np.concatenate(valid))

    def fingerprint(self, source: str | MediaInfo, *, honour_rotation: bool = True,
                    on_progress: Callable[[float], None] | None = None) -> VideoFingerprint:
        info = source if isinstance(source, MediaInfo) else probe(source)
        if not info.has_video:
            raise MediaError(f"{info.path}: has no video stream")
        track = self.visual_track(info, honour_rotation=honour_rotation, on_progress=on_progress)
        cfg = self.config
        spans = segment_shots(track, cut_distance=cfg.shot_cut_distance,
                              min_seconds=cfg.min_shot_seconds, max_seconds=cfg.max_shot_seconds)
        return VideoFingerprint(info, {"visual": track}, build_shots(track, spans, info.duration))
