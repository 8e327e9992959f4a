"""Subtitles: sidecar `.srt`/`.vtt` files and text subtitle streams inside the container.

The cue parser is tolerant by design: real-world subtitle files carry broken cues, odd
encodings, BOMs, overlapping or negative times. A bad cue is skipped, never the whole file.
(The `srt` and `webvtt-py` packages reject a whole file on one bad cue, hence this parser.)
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

from fp.data.probe import MediaInfo, require_tool

SIDECAR_SUFFIXES = (".srt", ".vtt")
_TIME = r"(?:(\d{1,3}):)?(\d{1,2}):(\d{1,2})[.,:](\d{1,3})"
_CUE_TIMES = re.compile(_TIME + r"\s*-->\s*" + _TIME)
_TAGS = re.compile(r"<[^>]{0,200}>|\{\\[^}]{0,200}\}")


@dataclass(frozen=True)
class Cue:
    start: float
    end: float
    text: str


def _seconds(h, m, s, frac) -> float:
    return int(h or 0) * 3600 + int(m) * 60 + int(s) + int(frac.ljust(3, "0")[:3]) / 1000


def decode_text(data: bytes) -> str:
    """Bytes of a subtitle file -> text, whatever its encoding (BOMs, UTF-16, legacy code pages)."""
    for bom, codec in ((b"\xef\xbb\xbf", "utf-8-sig"), (b"\xff\xfe", "utf-16"), (b"\xfe\xff", "utf-16")):
        if data.startswith(bom):
            return data.decode(codec, errors="replace")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    from charset_normalizer import from_bytes
    from charset_normalizer.md import mess_ratio

    # Short texts fit many code pages equally well: Western (cp1252) wins unless it reads as a mess.
    western = data.decode("cp1252", errors="replace")
    if mess_ratio(western) < 0.5:
        return western
    best = from_bytes(data).best()
    return str(best) if best is not None else western


def clean_text(text: str) -> str:
    text = _TAGS.sub(" ", text).replace("\\N", " ")
    return " ".join(text.split())


def parse_cues(text: str) -> list[Cue]:
    """Cues of an SRT or WebVTT document, sorted by start; malformed cues are dropped."""
    cues = []
    blocks = re.split(r"\n\s*\n", text.replace("\r\n", "\n").replace("\r", "\n"))
    for block in blocks:
        lines = block.strip("\n").split("\n")
        for i, line in enumerate(lines):
            found = _CUE_TIMES.search(line)
            if not found:
                continue
            g = found.groups()
            start, end = _seconds(*g[:4]), _seconds(*g[4:])
            body = clean_text(" ".join(lines[i + 1:]))
            if body and end > start and end > 0:
                cues.append(Cue(max(0.0, start), end, body))
            break
    return sorted(cues, key=lambda c: (c.start, c.end))


def sidecar_files(video: str | Path) -> list[Path]:
    """`NAME.srt`, `NAME.vtt` and language-tagged `NAME.xx.srt` beside `video`."""
    video = Path(video)
    try:
        siblings = list(video.parent.iterdir())
    except OSError:
        return []
    stem = video.stem
    return sorted(p for p in siblings if p.suffix.lower() in SIDECAR_SUFFIXES and p.is_file()
                  and (p.stem == stem or p.stem.startswith(stem + ".")))


def embedded_cues(info: MediaInfo, timeout: float = 120.0) -> list[Cue]:
    """Cues of the first text subtitle stream in the container (bitmap subtitles give none)."""
    for index in info.subtitle_streams:
        cmd = [require_tool("ffmpeg"), "-nostdin", "-v", "error", "-i", info.path,
               "-map", f"0:{index}", "-f", "srt", "pipe:"]
        try:
            proc = subprocess.run(cmd, capture_output=True, timeout=timeout, stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            continue
        if proc.returncode == 0 and proc.stdout:
            cues = parse_cues(decode_text(proc.stdout))
            if cues:
                return cues
    return []


def read_subtitles(info: MediaInfo) -> list[Cue]:
    """A sidecar file's cues when there is one, else the container's text subtitles."""
    for path in sidecar_files(info.path):
        try:
            cues = parse_cues(decode_text(path.read_bytes()[: 20 << 20]))
        except OSError:
            continue
        if cues:
            return cues
    return embedded_cues(info)
