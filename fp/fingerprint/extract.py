"""Fingerprint a video: decode -> per-sample embeddings -> shots -> per-shot fingerprints."""

from __future__ import annotations

import dataclasses
import queue
import threading
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import NamedTuple

import numpy as np

from fp.config import Config
from fp.data import decode
from fp.data.decode import FRAME_BATCH, GPU_FRAME_BATCH, iter_audio, iter_frame_phases
from fp.data.probe import MediaInfo, probe
from fp.data.subtitles import Cue, read_subtitles
from fp.errors import MediaError
from fp.fingerprint.audio import SAMPLE_RATE, AudioEncoder, loudness_db
from fp.fingerprint.encoders import VisualEncoder, pick_device
from fp.fingerprint.projection import projected
from fp.fingerprint.runtime import load_audio, load_visual, resolve_runtime
from fp.fingerprint.text import load_text_encoder
from fp.fingerprint.frames import (blank_mask, border_boxes, centre_square, content_aspects, fill_frames, shrink,
                                   tile_at_aspect)
from fp.fingerprint.insets import CONTEXT, InsetFinder, crop_windows
from fp.fingerprint.shots import build_shots, segment_shots
from fp.fingerprint.types import PHASE, REFRAME, FeatureTrack, PictureVariant, QueryFingerprint, VideoFingerprint

MIN_DECODED_FRACTION = 0.8
"""A video whose decodable picture covers less than this share of its duration is truncated."""
MIN_AUDIO_SECONDS = 0.25
"""A soundtrack shorter than this carries no audio track."""
SAME_PICTURE_DIFFERENCE = 0.5
"""A later phase's frame (`Config.query_phases`) whose mean absolute difference from its sample's
frame is below this (grey levels of 255, at the decoded size) shows the same picture (a still,
a held or duplicated frame) and takes the sample's vector instead of being encoded again: 23 %
of the later phases' frames of the accuracy benchmark's queries."""
TILED = "tiled"
"""Prefix of the internal variants that render a portrait picture at its own aspect
(`Config.query_portrait_aspect`); blended into the variant they are named after."""
PORTRAIT = "portrait"
"""The picture's track at its portrait samples alone (`QueryFingerprint.portrait`)."""
REFRAME_MIN_ASPECT = 1.25
"""A catalogue picture at least this wide per unit of height (bars trimmed) gets a `REFRAME`
render (`Config.reframe_track`); a squarer one's square render already holds a phone's strip at
nearly its own scale."""


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


class PreparedBatch(NamedTuple):
    """A decoded batch made ready for encoding (`Fingerprinter.visual_tracks`)."""

    variants: dict[str, np.ndarray]
    """Frames per picture variant."""
    reuse: dict[str, tuple[str, np.ndarray]]
    """Per later phase: the variant whose vectors it takes, and which of its frames moved."""
    empty: dict[str, np.ndarray]
    """Per variant: its frames without content, which are not encoded."""
    content: np.ndarray
    """The picture's frames with content."""
    content_later: list[np.ndarray]
    """The same for each later phase."""
    in_window: np.ndarray | None
    """Frames showing a window (None when windows are not looked for)."""
    portrait: np.ndarray
    """Frames whose picture is portrait (`portrait_aspect`)."""
    wide: np.ndarray
    """Frames given a `REFRAME` render."""


_END = object()


def with_next(items: Iterable) -> Iterator[tuple]:
    """Each item with the one after it (None after the last)."""
    items = iter(items)
    current = next(items, _END)
    while current is not _END:
        following = next(items, _END)
        yield current, None if following is _END else following
        current = following


class Fingerprinter:
    """Turns media files into VideoFingerprints; holds the encoders, loaded once. `runtime`: where
    they run (see `fp.fingerprint.runtime.resolve_runtime`: by default $FP_RUNTIME, else torch on
    CUDA, ONNX Runtime int8 on the CPU)."""

    def __init__(self, config: Config, device: str | None = None, runtime: str | None = None):
        self.config = config
        self.device = device
        self.runtime = resolve_runtime(runtime, device, config.visual_encoder)
        self._visual: VisualEncoder | None = None
        self._audio: AudioEncoder | None = None
        self._text = None

    @property
    def visual(self) -> VisualEncoder:
        if self._visual is None:
            self._visual = projected(load_visual(self.config.visual_encoder, self.runtime, self.device),
                                     self.config.visual_dim)
        return self._visual

    @property
    def runtime_used(self) -> str:
        """The runtime the picture encoder runs on: the one asked for, or torch after a fallback."""
        return self.visual.runtime

    @property
    def on_gpu(self) -> bool:
        """Whether the encoders run on CUDA."""
        return self.runtime == "torch" and pick_device(self.device).type == "cuda"

    @property
    def frame_batch(self) -> int:
        """Samples per decoded batch: `GPU_FRAME_BATCH` when the encoders run on CUDA, else
        `FRAME_BATCH` (see both)."""
        return GPU_FRAME_BATCH if self.on_gpu else FRAME_BATCH

    @property
    def decoder_options(self) -> dict[str, str]:
        """ffmpeg's input options for the picture: `GPU_FRAME_DECODER_OPTIONS` when the encoders
        run on CUDA, else `FRAME_DECODER_OPTIONS` (see both; read when called)."""
        return decode.GPU_FRAME_DECODER_OPTIONS if self.on_gpu else decode.FRAME_DECODER_OPTIONS

    @property
    def audio(self) -> AudioEncoder:
        if self._audio is None:
            self._audio = load_audio(self.config.audio_encoder, self.runtime, self.device)
        return self._audio

    @property
    def text(self):
        if self._text is None:
            self._text = load_text_encoder(self.config.text_encoder, self.config.visual_encoder, self.device)
        return self._text

    def audio_track(self, info: MediaInfo, on_progress: Callable[[float], None] | None = None) -> FeatureTrack | None:
        """Embeddings of one-second windows every step; None without (decodable) audio. The
        soundtrack is decoded, cut into windows and encoded a chunk at a time
        (`fp.data.decode.AUDIO_CHUNK_SECONDS`), so a long title never holds it whole;
        `on_progress` gets the seconds decoded after each chunk (an exception it raises stops
        the work)."""
        if not self.config.audio_encoder or not info.has_audio:
            return None
        step = 1.0 / self.config.frame_rate
        received = 0

        def counted() -> Iterator[np.ndarray]:
            nonlocal received
            for chunk in iter_audio(info, SAMPLE_RATE):
                received += len(chunk)
                if on_progress:
                    on_progress(min(received / SAMPLE_RATE, info.duration))
                yield chunk

        vectors, valid = [], []
        try:
            for windows in self.audio.stream_windows(counted(), step):
                vectors.append(self.audio.encode(windows))
                valid.append(loudness_db(windows) > self.config.silence_db)
        except MediaError:
            return None  # a broken soundtrack must not cost the picture
        if received < MIN_AUDIO_SECONDS * SAMPLE_RATE:
            return None
        return FeatureTrack("audio", step, np.concatenate(vectors), np.concatenate(valid))

    def text_track(self, info: MediaInfo, cues: list[Cue] | None = None) -> FeatureTrack | None:
        """Embedding of the cue text shown at each sample; None without subtitles."""
        if not self.config.text_encoder:
            return None
        cues = read_subtitles(info) if cues is None else cues
        if not cues:
            return None
        step = 1.0 / self.config.frame_rate
        n = max(int(np.ceil(info.duration / step)), 1)
        lines: list[list[str]] = [[] for _ in range(n)]
        for cue in cues:  # sample k shows the cues with start <= (k + 0.5) * step < end
            first = max(0, int(np.ceil(cue.start / step - 0.5)))
            for k in range(first, min(n, int(np.ceil(cue.end / step - 0.5)))):
                lines[k].append(cue.text)
        shown = ["  ".join(parts) for parts in lines]
        texts = sorted({t for t in shown if t})
        if not texts:
            return None
        table = dict(zip(texts, self.text.encode(texts)))
        dim = len(next(iter(table.values())))
        vectors = np.stack([table[t] if t else np.zeros(dim, np.float32) for t in shown])
        return FeatureTrack("text", step, vectors.astype(np.float32), np.array([bool(t) for t in shown]))

    def visual_tracks(self, info: MediaInfo, *, honour_rotation: bool = True, mirrored: bool = False,
                      insets: bool = False, untagged: bool = False, phases: int = 1, detail: int = 1,
                      portrait_aspect: float = 0.0, reframe: bool = False,
                      on_progress: Callable[[float], None] | None = None) -> dict[str, FeatureTrack]:
        """The picture's track (`picture`); with `mirrored`, also the track of its horizontal
        mirror image (`picture mirrored`); with `insets`, also those of a picture-in-picture window
        where one shows (`window`, `window mirrored`; samples without one carry no content there);
        with `untagged` and a rotation tag, also the picture as a player ignoring the tag shows it
        (`untagged`, `untagged mirrored`: the square frames turned back, no second decode); with
        `phases` > 1, also the picture and the window sampled p / phases of a step later for each
        p from 1 (`picture phase 1`, `window phase 1`, ...: tracks starting at that fraction of a
        step, not mirrored); with `detail` > 1 (and `insets`), decoded at `detail` times the
        frame size, the picture averaged back down and windows cropped from the detailed frames;
        with `portrait_aspect`, a picture no wider than that per unit of height (bars trimmed) is
        the mean of its square render's vector and its render at its own aspect's
        (`tile_at_aspect`), in every phase, and its portrait samples alone are also given as a
        track (`portrait`); with `reframe`, also the centre square of each landscape picture at
        its own aspect (`reframe`: `centre_square`; other samples carry no content there). All
        from one decoding pass, every variant of a batch of frames encoded in one call."""
        cfg = self.config
        step = 1.0 / cfg.frame_rate
        vectors: dict[str, list[np.ndarray]] = {}
        valid, in_window, portraits, wides = [], [], [], []
        valid_later: dict[int, list[np.ndarray]] = {p: [] for p in range(1, phases)}
        decoded = 0
        detail = detail if insets else 1

        # counter-clockwise quarter turns that undo the tag's clockwise display rotation
        turns = info.rotation // 90 if untagged and honour_rotation else 0
        width, height = info.display_size if honour_rotation else (info.width, info.height)
        display_aspect = width / height if width and height else 1.0
        finder = InsetFinder(display_aspect) if insets else None

        def encode(batch: dict[str, np.ndarray], reuse: dict[str, tuple[str, np.ndarray]],
                   empty: dict[str, np.ndarray]) -> None:
            """Encode every variant of a batch in one call; `reuse`: per later phase, the variant
            whose vectors it takes and which of its frames moved (only those are encoded);
            `empty`: per variant, its frames without content (`blank_mask`), which are not
            encoded: their vectors are zeros, which the tracks' masks leave out."""
            if mirrored:
                for name, frames in list(batch.items()):
                    if PHASE not in name and name != REFRAME:
                        batch[f"{name} mirrored"] = frames[:, :, ::-1]
                        if name in empty:
                            empty[f"{name} mirrored"] = empty[name]
            batch = {name: frames for name, frames in batch.items() if len(frames)}
            wanted = {}
            for name, frames in batch.items():
                keep = ~empty[name] if name in empty else np.ones(len(frames), bool)
                if name in reuse:  # a moved frame, or one whose sample's frame had no vector to lend
                    source, moved = reuse[name]
                    keep &= moved | empty.get(source, np.zeros(len(frames), bool))
                wanted[name] = keep
            todo = {name: frames[wanted[name]] for name, frames in batch.items() if wanted[name].any()}
            found = self.visual.encode(np.concatenate(list(todo.values()))) if todo else None
            encoded = dict(zip(todo, np.split(found, np.cumsum([len(f) for f in todo.values()])[:-1]))) if todo else {}
            filled: dict[str, np.ndarray] = {}
            for name, frames in batch.items():
                vecs = (filled[reuse[name][0]].copy() if name in reuse
                        else np.zeros((len(frames), self.visual.dim), np.float32))
                if name in encoded:
                    vecs[wanted[name]] = encoded[name]
                filled[name] = vecs
            for name, vecs in filled.items():
                if name.startswith(TILED):
                    continue
                tiled = filled.get(f"{TILED} {name}")
                if tiled is not None:  # a portrait picture: the mean of its two renders
                    both = tiled.any(axis=1) & vecs.any(axis=1)
                    mean = vecs[both] + tiled[both]
                    vecs[both] = mean / np.linalg.norm(mean, axis=1, keepdims=True)
                vectors.setdefault(name, []).append(vecs)

        def prepare(phased: np.ndarray, ahead: np.ndarray | None) -> PreparedBatch:
            """A decoded batch (phases, n, ...) made ready for `encode`, in the decoding thread (so
            that it overlaps the encoder's work). `ahead`: the next batch (None after the last),
            whose first frames the window finder sees as context."""
            detailed, *detailed_later = phased
            frames, later = shrink(detailed, detail), [shrink(f, detail) for f in detailed_later]
            bars = border_boxes(frames, cfg.bars_judged_inside)
            filled = fill_frames(frames, bars)
            ok = ~blank_mask(filled, cfg.blank_std, cfg.plain_share)
            batch = {"picture": filled}
            empty = {"picture": ~ok}
            ok_later = []
            shown = None
            moved = [np.abs(frames_p.astype(np.int16) - frames).mean(axis=(1, 2, 3)) >= SAME_PICTURE_DIFFERENCE
                     for frames_p in later]
            reuse = {f"picture {PHASE} {p}": ("picture", moved[p - 1]) for p in range(1, phases)}
            for p, frames_p in enumerate(later, 1):
                batch[f"picture {PHASE} {p}"] = fill_frames(frames_p, bars_judged_inside=cfg.bars_judged_inside)
                ok_later.append(~blank_mask(batch[f"picture {PHASE} {p}"], cfg.blank_std, cfg.plain_share))
                empty[f"picture {PHASE} {p}"] = ~ok_later[-1]
            aspects = content_aspects(bars, display_aspect)
            portrait = aspects <= portrait_aspect
            wide = (aspects >= REFRAME_MIN_ASPECT) & reframe
            if reframe:
                batch[REFRAME] = np.zeros_like(filled)
                if wide.any():
                    batch[REFRAME][wide] = centre_square(filled[wide], aspects[wide])
                empty[REFRAME] = ~wide | empty["picture"]
            if portrait_aspect:
                if portrait.any():
                    for name in [name for name in batch if name.startswith("picture")]:
                        tiles = np.zeros_like(batch[name])
                        tiles[portrait] = tile_at_aspect(batch[name][portrait], aspects[portrait])
                        batch[f"{TILED} {name}"] = tiles
                        empty[f"{TILED} {name}"] = ~portrait | empty[name]
                        if name in reuse:
                            reuse[f"{TILED} {name}"] = (f"{TILED} {reuse[name][0]}", reuse[name][1])
            if turns:
                batch["untagged"] = np.ascontiguousarray(np.rot90(filled, turns, axes=(1, 2)))
                empty["untagged"] = empty["picture"]
            if finder is not None:
                boxes = finder.boxes(frames, None if ahead is None else shrink(ahead[0, :CONTEXT], detail))
                shown = np.array([b is not None for b in boxes])
                kept = [b for b in boxes if b]
                windows = crop_windows(detailed[shown], kept, cfg.frame_size, detail, display_aspect,
                                       cfg.bars_judged_inside)
                content = ~blank_mask(windows, cfg.blank_std, cfg.plain_share)
                shown[shown] = content
                batch["window"] = windows[content]
                for p, frames_p in enumerate(detailed_later, 1):  # the window stays put between two samples
                    batch[f"window {PHASE} {p}"] = crop_windows(
                        frames_p[shown], [b for b, c in zip(kept, content) if c], cfg.frame_size, detail,
                        display_aspect, cfg.bars_judged_inside)
                    reuse[f"window {PHASE} {p}"] = ("window", moved[p - 1][shown])
            return PreparedBatch(batch, reuse, empty, ok, ok_later, shown, portrait, wide)

        decoding = iter_frame_phases(info, cfg.frame_rate, cfg.frame_size * detail, phases,
                                     honour_rotation=honour_rotation, batch=self.frame_batch,
                                     decoder_options=self.decoder_options)
        for ready in prefetch(prepare(phased, ahead) for phased, ahead in with_next(decoding)):
            valid.append(ready.content)
            portraits.append(ready.portrait)
            wides.append(ready.wide)
            for p, mask in enumerate(ready.content_later, 1):
                valid_later[p].append(mask)
            if ready.in_window is not None:
                in_window.append(ready.in_window)
            encode(ready.variants, ready.reuse, ready.empty)
            decoded += len(ready.content)
            if on_progress:
                on_progress(min(decoded * step, info.duration))
        if decoded == 0:
            raise MediaError(f"{info.path}: no decodable video frames")
        expected = info.video_duration or info.duration
        if decoded * step < MIN_DECODED_FRACTION * expected - 2 * step:
            raise MediaError(f"{info.path}: truncated or corrupt: only {decoded * step:.1f} s of "
                             f"{expected:.1f} s could be decoded")
        masks = {0: np.concatenate(valid), **{p: np.concatenate(v) for p, v in valid_later.items()}}
        later_names = [f"{PHASE} {p}" for p in range(1, phases)]

        def phase_of(name: str) -> int:
            return int(name.rsplit(" ", 1)[1]) if PHASE in name else 0

        pictures = ["picture", "picture mirrored", *(f"picture {n}" for n in later_names), "untagged", "untagged mirrored"]
        tracks = {name: FeatureTrack("visual", step, np.concatenate(vectors[name]), masks[phase_of(name)],
                                     phase_of(name) * step / phases)
                  for name in pictures if name in vectors}
        portrait = masks[0] & np.concatenate(portraits)
        if portrait.any():
            tracks[PORTRAIT] = FeatureTrack("visual", step, tracks["picture"].vectors, portrait)
        if reframe:
            wide = masks[0] & np.concatenate(wides)
            tracks[REFRAME] = FeatureTrack(REFRAME, step, np.concatenate(vectors[REFRAME]), wide)
        if in_window and np.concatenate(in_window).any():
            shown = np.concatenate(in_window)
            for name in ("window", "window mirrored", *(f"window {n}" for n in later_names)):
                if name in vectors:
                    found = np.concatenate(vectors[name])
                    full = np.zeros((len(shown), found.shape[1]), np.float32)
                    full[shown] = found
                    tracks[name] = FeatureTrack("visual", step, full, masks[phase_of(name)] & shown,
                                                phase_of(name) * step / phases)
        return tracks

    def fingerprint(self, source: str | MediaInfo, *, honour_rotation: bool = True,
                    on_progress: Callable[[float], None] | None = None) -> VideoFingerprint:
        """All tracks of a catalogue video (picture; its centre squares with `Config.reframe_track`;
        soundtrack and subtitles where present) and its shots."""
        info = source if isinstance(source, MediaInfo) else probe(source)
        if not info.has_video:
            raise MediaError(f"{info.path}: has no video stream")
        with ThreadPoolExecutor(1) as pool:  # sound and subtitles while the picture decodes and encodes
            audio, text = pool.submit(self.audio_track, info), pool.submit(self.text_track, info)
            pictures = self.visual_tracks(info, honour_rotation=honour_rotation,
                                          reframe=self.config.reframe_track, on_progress=on_progress)
            audio, text = audio.result(), text.result()
        tracks = {"visual": pictures["picture"]}
        for track in (audio, text, pictures.get(REFRAME)):
            if track is not None:
                tracks[track.modality] = track
        return self._with_shots(info, tracks)

    def query_fingerprint(self, info: MediaInfo, on_progress: Callable[[float], None] | None = None,
                          match: Config | None = None) -> QueryFingerprint:
        """A suspect as it is and as its edits may have turned it (mirrored, a picture-in-picture
        window alone where one shows, and, when it carries a rotation tag, which copies add or
        strip, with the tag ignored), from one decoding pass, with the picture and window also
        sampled between the samples (`Config.query_phases`); its soundtrack and subtitles once.
        `on_progress` is called as in :meth:`visual_tracks` (an exception it raises stops the
        work). The match settings that shape the query (`query_mirrored`, `query_phases`,
        `query_window_detail`, `query_portrait_aspect`) are `match`'s (a matcher's
        configuration), by default this fingerprinter's."""
        cfg = self.config
        shape = match or cfg
        if not info.has_video:
            return self._soundtrack_only(info, on_progress)
        with ThreadPoolExecutor(1) as pool:  # sound and subtitles while the picture decodes and encodes
            audio, text = pool.submit(self.audio_track, info), pool.submit(self.text_track, info)
            pictures = self.visual_tracks(info, mirrored=shape.query_mirrored, insets=True, untagged=True,
                                          phases=shape.query_phases, detail=shape.query_window_detail,
                                          portrait_aspect=shape.query_portrait_aspect, on_progress=on_progress)
            audio, text = audio.result(), text.result()
        shared = {t.modality: t for t in (audio, text) if t is not None}
        portrait = pictures.pop(PORTRAIT, None)
        later = {name: [pictures.pop(f"{name} {PHASE} {p}") for p in range(1, shape.query_phases)]
                 for name in list(pictures) if f"{name} {PHASE} 1" in pictures}
        step = 1.0 / cfg.frame_rate
        spans = {name: segment_shots(track, cut_distance=cfg.shot_cut_distance, min_seconds=cfg.min_shot_seconds,
                                     max_seconds=cfg.max_shot_seconds) for name, track in pictures.items()}
        variants = [PictureVariant(name, track, build_shots({"visual": track}, spans[name], step, info.duration),
                                   later.get(name, [])) for name, track in pictures.items()]
        if portrait is not None:  # at every phase: the picture's later samples where the picture is portrait
            portrait = PictureVariant(PORTRAIT, portrait, build_shots({"visual": portrait}, spans["picture"], step,
                                                                      info.duration),
                                      [dataclasses.replace(t, valid=t.valid & portrait.valid)
                                       for t in later.get("picture", [])])
        return QueryFingerprint(info, variants, shared, build_shots(shared, spans["picture"], step, info.duration),
                                portrait)

    def _soundtrack_only(self, info: MediaInfo, on_progress: Callable[[float], None] | None) -> QueryFingerprint:
        """A suspect without a picture (a soundtrack ripped or uploaded alone), fingerprinted as a
        copy over a black picture is: one picture variant that carries no content, so its shots
        are even slices of at most `max_shot_seconds`, and the soundtrack and subtitles over them."""
        audio = self.audio_track(info, on_progress)
        if audio is None:
            raise MediaError(f"{info.path}: has no video stream and no decodable soundtrack")
        text = self.text_track(info)
        cfg = self.config
        n = len(audio)
        blank = FeatureTrack("visual", audio.step, np.zeros((n, self.visual.dim), np.float32), np.zeros(n, bool))
        spans = segment_shots(blank, cut_distance=cfg.shot_cut_distance, min_seconds=cfg.min_shot_seconds,
                              max_seconds=cfg.max_shot_seconds)
        shared = {t.modality: t for t in (audio, text) if t is not None}
        picture = PictureVariant("picture", blank, build_shots({"visual": blank}, spans, audio.step, info.duration))
        return QueryFingerprint(info, [picture], shared, build_shots(shared, spans, audio.step, info.duration))

    def _with_shots(self, info: MediaInfo, tracks: dict[str, FeatureTrack]) -> VideoFingerprint:
        cfg = self.config
        spans = segment_shots(tracks["visual"], cut_distance=cfg.shot_cut_distance,
                              min_seconds=cfg.min_shot_seconds, max_seconds=cfg.max_shot_seconds)
        step = 1.0 / cfg.frame_rate
        return VideoFingerprint(info, tracks, build_shots(tracks, spans, step, info.duration))
