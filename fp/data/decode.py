"""Decode media by piping ffmpeg into numpy: frames at a fixed rate and size, mono audio.

Every ffmpeg call runs without a shell, reads no stdin, and is killed when it stalls or runs
past a deadline proportional to the media's duration.
"""

from __future__ import annotations

import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator

import ffmpeg
import numpy as np

from fp.data.probe import MediaInfo, require_tool
from fp.errors import MediaError

STALL_TIMEOUT = 60.0
"""Seconds without any decoded output after which ffmpeg is killed."""
FRAME_DECODER_OPTIONS = {"threads": "1", "skip_loop_filter": "all"}
"""ffmpeg input options for sampling frames (bench/throughput.py, 15 titles, 505 s):
* one decoding thread: frame threading over both cores cost 30 % more CPU for the same frames,
  and the encoders keep the other core busy;
* no deblocking (h264, vp8): 22 % less decoding CPU; frames differ by 1.2 grey levels on average
  at 224 px (at most 2.9), accuracy unchanged.
Measured and left out: `-skip_frame noref` (a further 10 %, but it moves samples by a frame),
keyframes only (too sparse for 2 samples/s), bilinear scaling or one filter thread (no gain: at
2 samples/s scaling costs almost nothing). Pictures blended 1:2:1 around each sample's instant
were tried (frames of five copies cut at exact instants: 0.786 against 0.755 on the instant,
0.675 against 0.63 an eighth of a second off) and lost on the accuracy benchmark (recall 0.823
against 0.835), but that trial decoded at 8/s, and the fps filter rounds frames to the ticks of
its own rate: sample k at 2/s shows the video at (k + 1/2) / 2 s, at 8/s at (k + 1/2) / 8 s, so
its blends were centred 3/16 s off the catalogue's instants. `iter_frame_phases` moves
timestamps instead, which keeps every phase on the 2/s rule; blending was not retried."""
FRAME_BATCH = 8
"""Frames (samples) per batch handed on to the encoders on the CPU: 4 s of video at 2 samples/s,
so that a file's encoding starts soon after its decoding and the two overlap. Interleaved runs
in one process on an AVX2 machine, against 32: 46 of the accuracy benchmark's queries (735 s),
two rounds, 11.6-11.7 s of compute per suspect minute against 12.4; its catalogue (15 titles,
505 s), three rounds, indexing at 21.0x against 19.9x on average; a 14-minute title at
24.3-27.9x against 24.4-24.6x. Starting at 8 and doubling up to 32 gained about half as much.
The encoders run 2 % slower per frame at 8 than at 32 (74 against 76 frames/s); 4 loses 10 %.
Batches are whole runs of the window finder (a multiple of `fp.fingerprint.insets.WINDOW`)."""
GPU_FRAME_DECODER_OPTIONS = {"skip_loop_filter": "all"}
"""`FRAME_DECODER_OPTIONS` when the encoders run on a GPU: ffmpeg's own thread count, since the
decoder alone is then the bottleneck. On an H200 machine with 16 cores (bench/gpu.py, 11 titles,
395 s), decoding ran at 201x real time against 80x on one thread, and fingerprinting at 116x against
64x; with deblocking as well (ffmpeg's defaults) 185x and 105x; NVDEC (`-hwaccel cuda`) at 60x and
47x, since the frames come back to the host to be scaled."""
GPU_FRAME_BATCH = 32
"""`FRAME_BATCH` when the encoders run on a GPU. Not a bottleneck: on an H200 the float16 picture
encoder runs at 9,100 frames/s at batch 64 (bench/gpu.py), where decoding delivers about 400."""
AUDIO_TIMELINE = "aresample=min_comp=0.001:min_hard_comp=0.02"
"""Audio filter that keeps the decoded sound on the file's timestamps: where the samples and the
timestamps part by more than 20 ms (pieces joined by stream copy, dropped packets, encoder
priming), silence fills the gap or the overlap is dropped, as a player does. Decoded as bare
samples, a two-hour title joined from pieces ran 8.3 s short and its sound at minute 95 lay 7 s
before its picture (a copy was placed 7 s off by its soundtrack); 20 three-second pieces ran
0.8 s long. Of 39 files of ../shared/media, 35 decode bit-identically with it, 4 by 1-77 ms."""
AUDIO_CHUNK_SECONDS = 30.0
"""Seconds of sound `iter_audio` hands over at a time. Fingerprinting streams the soundtrack in
such chunks: decoded whole, a two-hour title's soundtrack and its overlapping one-second windows
took 2.7 GB beside the rest of `fp index` (peak 4.0 GB against 1.3 GB)."""


def _deadline(duration: float, realtime_factor: float = 0.5) -> float:
    """Generous overall limit: at least ten minutes, or twice real time (slow CPUs, 4K)."""
    return max(600.0, duration / realtime_factor)


def stream_ffmpeg(args: list[str], chunk_bytes: int, *, label: str, duration: float) -> Iterator[bytes]:
    """Run ffmpeg (`args` without the binary) and yield stdout in chunks of `chunk_bytes` (the
    last one may be shorter). Raises MediaError when ffmpeg fails, stalls or overruns."""
    with tempfile.TemporaryFile() as errfile:
        proc = subprocess.Popen(
            [require_tool("ffmpeg"), *args], stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=errfile, bufsize=0,
        )
        state = {"last": time.monotonic(), "killed": None, "done": False}
        start = time.monotonic()
        limit = _deadline(duration)

        def watchdog() -> None:
            while not state["done"]:
                now = time.monotonic()
                if now - state["last"] > STALL_TIMEOUT:
                    state["killed"] = f"stalled for {STALL_TIMEOUT:.0f} s"
                elif now - start > limit:
                    state["killed"] = f"timed out after {limit:.0f} s"
                if state["killed"]:
                    proc.kill()
                    return
                time.sleep(0.5)

        guard = threading.Thread(target=watchdog, daemon=True)
        guard.start()
        try:
            buf = bytearray()
            while True:
                data = proc.stdout.read(max(chunk_bytes - len(buf), 65536))
                if not data:
                    break
                state["last"] = time.monotonic()
                buf += data
                while len(buf) >= chunk_bytes:
                    yield bytes(buf[:chunk_bytes])
                    del buf[:chunk_bytes]
            code = proc.wait()
            tail = bytes(buf)
        finally:
            state["done"] = True
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            proc.stdout.close()
        if state["killed"]:
            raise MediaError(f"{label}: decoding {state['killed']}")
        if code != 0:
            errfile.seek(0)
            lines = errfile.read().decode(errors="replace").strip().splitlines()
            raise MediaError(f"{label}: ffmpeg could not decode it ({lines[-1] if lines else f'exit {code}'})")
        if tail:
            yield tail


def iter_frames(
    info: MediaInfo,
    fps: float,
    size: int,
    *,
    honour_rotation: bool = True,
    batch: int = FRAME_BATCH,
    decoder_options: dict[str, str] | None = None,
) -> Iterator[np.ndarray]:
    """Yield batches of RGB frames, shape (n, size, size, 3) uint8, sampled at `fps`.

    Frame k of the whole sequence shows the video at k / fps seconds (variable frame rate is
    resampled by ffmpeg's fps filter). Frames are squashed to a square: the encoders see the
    full picture whatever its aspect ratio, which keeps anamorphic and letterboxed copies alike.
    `decoder_options`: ffmpeg's input options (default `FRAME_DECODER_OPTIONS`).
    """
    for frames in _frame_batches(info, fps, size, honour_rotation, batch, 1, decoder_options):
        yield frames[0]


def iter_frame_phases(
    info: MediaInfo,
    fps: float,
    size: int,
    phases: int,
    *,
    honour_rotation: bool = True,
    batch: int = FRAME_BATCH,
    decoder_options: dict[str, str] | None = None,
) -> Iterator[np.ndarray]:
    """Yield batches of shape (phases, n, size, size, 3) from one decoding pass: phase 0 exactly
    as :func:`iter_frames` gives the frames, and frame k of phase p showing the video p / phases
    of a sample later, at (k + p / phases) / fps seconds (the last may repeat the video's last
    frame). Each phase is the same fps filter over timestamps moved p / phases of a sample
    earlier, so every phase picks frames by the rule phase 0 (and the catalogue) picks them by."""
    yield from _frame_batches(info, fps, size, honour_rotation, batch, phases, decoder_options)


def _frame_batches(info: MediaInfo, fps: float, size: int, honour_rotation: bool, batch: int,
                   phases: int, decoder_options: dict[str, str] | None) -> Iterator[np.ndarray]:
    """Batches of (phases, n, size, size, 3) frames (one decoder, the stream split after it, the
    phases side by side in one picture)."""
    if phases < 1:
        raise ValueError(f"phases must be at least 1, not {phases}")
    if not info.has_video:
        raise MediaError(f"{info.path}: has no video stream")
    options = FRAME_DECODER_OPTIONS if decoder_options is None else decoder_options
    source = ffmpeg.input(info.path, **options, **({} if honour_rotation else {"noautorotate": None}))
    video = source[str(info.video_stream)]

    def sampled(stream):  # eof_action: a single-frame video still yields its frame
        return stream.filter("fps", fps=fps, eof_action="pass").filter("scale", size, size, flags="area")

    if phases > 1:  # later phases padded by a step of their last frame: every sample has them all
        split = video.split()
        video = ffmpeg.filter([sampled(split[0])] + [
            sampled(split[p].filter("tpad", stop_mode="clone", stop_duration=1 / fps)
                    .filter("setpts", f"PTS-{p / (phases * fps)}/TB")) for p in range(1, phases)],
            "hstack", inputs=phases, shortest=1)
    else:
        video = sampled(video)
    args = video.output("pipe:", format="rawvideo", pix_fmt="rgb24").global_args("-nostdin", "-v", "error").get_args()
    frame_bytes = size * size * phases * 3
    pending: list[np.ndarray] = []

    def stacked() -> np.ndarray:  # (n, size, phases, size, 3) -> (phases, n, size, size, 3)
        return np.ascontiguousarray(np.stack(pending).reshape(len(pending), size, phases, size, 3)
                                    .transpose(2, 0, 1, 3, 4))

    for chunk in stream_ffmpeg(args, frame_bytes, label=info.path, duration=info.duration):
        if len(chunk) < frame_bytes:  # a torn last frame
            break
        pending.append(np.frombuffer(chunk, np.uint8))
        if len(pending) == batch:
            yield stacked()
            pending = []
    if pending:
        yield stacked()


def iter_audio(info: MediaInfo, sample_rate: int = 16000,
               chunk_seconds: float = AUDIO_CHUNK_SECONDS) -> Iterator[np.ndarray]:
    """The main audio stream as mono float32 in [-1, 1] at `sample_rate`, in chunks of
    `chunk_seconds` (the last one shorter): a feature-length soundtrack is never held whole."""
    if not info.has_audio:
        raise MediaError(f"{info.path}: has no audio stream")
    args = [
        "-nostdin", "-v", "error", "-i", info.path, "-map", f"0:{info.audio_stream}",
        "-vn", "-sn", "-dn", "-af", AUDIO_TIMELINE, "-ac", "1", "-ar", str(sample_rate), "-f", "s16le", "pipe:",
    ]
    chunk_bytes = 2 * max(1, round(chunk_seconds * sample_rate))
    for chunk in stream_ffmpeg(args, chunk_bytes, label=info.path, duration=info.duration):
        yield np.frombuffer(chunk[: len(chunk) // 2 * 2], np.int16).astype(np.float32) / 32768.0


def decode_audio(info: MediaInfo, sample_rate: int = 16000) -> np.ndarray:
    """Decode the main audio stream to mono float32 in [-1, 1] at `sample_rate`, whole."""
    chunks = list(iter_audio(info, sample_rate))
    return np.concatenate(chunks) if chunks else np.zeros(0, np.float32)
