"""Probe media files with ffprobe: duration, frame rate, streams, rotation, aspect ratio."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from dataclasses import asdict, dataclass
from fractions import Fraction
from pathlib import Path

from fp.errors import MediaError

PROBE_TIMEOUT = 60.0


def require_tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise MediaError(f"{name} not found on PATH; install ffmpeg (Debian/Ubuntu: apt-get install ffmpeg)")
    return path


@dataclass(frozen=True)
class MediaInfo:
    path: str
    size_bytes: int
    duration: float
    """Container duration in seconds."""
    video_duration: float
    """Duration of the video stream (the container's when the stream does not say)."""
    format_name: str
    video_stream: int | None
    """Absolute stream index of the main video stream (cover art excluded), or None."""
    width: int
    height: int
    fps: float
    rotation: int
    """Clockwise display rotation in degrees (0, 90, 180, 270) from the display matrix."""
    sample_aspect_ratio: str
    video_codec: str | None
    variable_frame_rate: bool
    audio_stream: int | None
    audio_codec: str | None
    subtitle_streams: tuple[int, ...]

    @property
    def has_video(self) -> bool:
        return self.video_stream is not None

    @property
    def has_audio(self) -> bool:
        return self.audio_stream is not None

    @property
    def display_size(self) -> tuple[int, int]:
        """Width and height as a player shows them (rotation honoured)."""
        return (self.height, self.width) if self.rotation in (90, 270) else (self.width, self.height)

    def to_dict(self) -> dict:
        return asdict(self)


def _rate(text: str | None) -> float:
    try:
        value = Fraction(text or "0")
    except (ValueError, ZeroDivisionError):
        return 0.0
    return float(value) if value > 0 else 0.0


def _rotation(stream: dict) -> int:
    angle = 0.0
    for side in stream.get("side_data_list", []) or []:
        if "rotation" in side:
            angle = float(side["rotation"])
    if not angle and "rotate" in (stream.get("tags") or {}):
        angle = -float(stream["tags"]["rotate"])
    # The display matrix rotation is counter-clockwise; report clockwise degrees.
    return int(round(-angle / 90.0)) % 4 * 90


def _float(value) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return 0.0


def _stream_duration(stream: dict | None) -> float:
    if not stream:
        return 0.0
    value = _float(stream.get("duration"))
    tag = next((v for k, v in (stream.get("tags") or {}).items() if k.upper() == "DURATION"), None)
    if not value and tag:  # Matroska: "00:00:10.381000000"
        try:
            h, m, sec = tag.split(":")
            value = int(h) * 3600 + int(m) * 60 + float(sec)
        except ValueError:
            value = 0.0
    return value


def probe(path: str | os.PathLike) -> MediaInfo:
    """Probe `path`; raise MediaError with one clear line for anything unreadable."""
    path = Path(path)
    if not path.exists():
        raise MediaError(f"{path}: no such file")
    if not path.is_file():
        raise MediaError(f"{path}: not a regular file")
    if not os.access(path, os.R_OK):
        raise MediaError(f"{path}: permission denied")
    size = path.stat().st_size
    if size == 0:
        raise MediaError(f"{path}: file is empty")
    cmd = [require_tool("ffprobe"), "-v", "error", "-print_format", "json",
           "-show_format", "-show_streams", "--", str(path)]
    try:
        proc = subprocess.run(cmd, capture_output=True, timeout=PROBE_TIMEOUT, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired as exc:
        raise MediaError(f"{path}: ffprobe timed out after {PROBE_TIMEOUT:.0f} s") from exc
    if proc.returncode != 0:
        reason = (proc.stderr.decode(errors="replace").strip().splitlines() or ["unknown error"])[-1]
        raise MediaError(f"{path}: not a readable media file ({reason.removeprefix(str(path) + ': ')})")
    data = json.loads(proc.stdout or b"{}")
    streams = data.get("streams", [])
    fmt = data.get("format", {})
    video = next((s for s in streams if s.get("codec_type") == "video"
                  and not (s.get("disposition") or {}).get("attached_pic")), None)
    audio = next((s for s in streams if s.get("codec_type") == "audio"), None)
    duration = _float(fmt.get("duration")) or max(
        (_float(s.get("duration")) for s in streams), default=0.0)
    if not streams or duration <= 0:
        raise MediaError(f"{path}: not a readable media file (no streams or no duration)")
    fps = r_fps = 0.0
    if video is not None:
        fps = _rate(video.get("avg_frame_rate")) or _rate(video.get("r_frame_rate"))
        r_fps = _rate(video.get("r_frame_rate"))
    return MediaInfo(
        path=str(path),
        size_bytes=size,
        duration=duration,
        video_duration=_stream_duration(video) or (duration if video else 0.0),
        format_name=fmt.get("format_name", ""),
        video_stream=None if video is None else int(video["index"]),
        width=int(video.get("width", 0)) if video else 0,
        height=int(video.get("height", 0)) if video else 0,
        fps=fps,
        rotation=_rotation(video) if video else 0,
        sample_aspect_ratio=(video or {}).get("sample_aspect_ratio", "1:1"),
        video_codec=(video or {}).get("codec_name"),
        variable_frame_rate=bool(video) and abs(fps - r_fps) > 0.01 * max(fps, 1.0),
        audio_stream=None if audio is None else int(audio["index"]),
        audio_codec=(audio or {}).get("codec_name"),
        subtitle_streams=tuple(int(s["index"]) for s in streams if s.get("codec_type") == "subtitle"),
    )
