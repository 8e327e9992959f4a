"""Make pirated copies with ffmpeg: excerpts through chains of edits, and splices into other
footage. Used by the demo, the tests and the benchmarks."""

from __future__ import annotations

import os
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

from fp.data.probe import require_tool
from fp.errors import MediaError

EDIT_TIMEOUT = 600.0
SEEK_CHECK_SECONDS = 0.5
"""How much of a clip is decoded after seeking to its start, to check that the file seeks cleanly."""

# Named video edits (ffmpeg filter chains), as pirates apply them.
EDITS = {
    "crop10": "crop=iw*0.9:ih*0.9",
    "crop20": "crop=iw*0.8:ih*0.8:iw*0.15:ih*0.05",
    "letterbox": "scale=iw:ih*0.75,pad=iw:ih/0.75:0:(oh-ih)/2",
    "pillarbox": "scale=iw*0.75:ih,pad=iw/0.75:ih:(ow-iw)/2:0",
    "logo": "drawbox=x=iw*0.04:y=ih*0.04:w=iw*0.18:h=ih*0.1:color=white@0.85:t=fill",
    "colour": "eq=brightness=0.08:contrast=1.25:saturation=1.4:gamma=0.9",
    "blur": "gblur=sigma=2.5",
    "noise": "noise=alls=18:allf=t",
    "flip": "hflip",
    "rotate": "rotate=3*PI/180:fillcolor=black",
    "grey": "hue=s=0",
}

# Camcord defaults: a phone filming a screen in a room.
CAMCORD_BAND = (150.0, 4000.0)  # Hz: what a phone microphone keeps of a cinema's sound
CAMCORD_ECHO = (60.0, 0.35)  # ms, decay: the room's first reflection
CAMCORD_ROOM_NOISE = 0.03  # amplitude of the room's pink noise, mixed under the sound
CAMCORD_SHAKE_HZ = (1.3, 0.9)  # frequencies of the horizontal and vertical hand shake
SAMPLE_RATE = 44100


@dataclass(frozen=True)
class Clip:
    """`duration` seconds of `path` from `start`."""

    path: str
    start: float
    duration: float


def _run(args: list[str], dst: Path) -> Path:
    cmd = [require_tool("ffmpeg"), "-nostdin", "-v", "error", "-y", *args, str(dst)]
    try:
        proc = subprocess.run(cmd, capture_output=True, timeout=EDIT_TIMEOUT, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired as exc:
        raise MediaError(f"{dst}: ffmpeg timed out") from exc
    if proc.returncode != 0:
        lines = proc.stderr.decode(errors="replace").strip().splitlines()
        raise MediaError(f"{dst}: ffmpeg failed ({lines[-1] if lines else proc.returncode})")
    return dst


def seeks_cleanly(clip: Clip) -> bool:
    """Whether ffmpeg decodes `clip` without errors when it seeks to its start (decoding from the
    keyframe before it): some files' keyframes are no random-access points (../shared/media's
    imageio_cockatoo.mp4 past 3.8 s decodes to green blocks)."""
    if clip.start <= 0:
        return True
    cmd = [require_tool("ffmpeg"), "-nostdin", "-v", "quiet", "-xerror", "-ss", f"{clip.start:.3f}",
           "-t", f"{min(clip.duration, SEEK_CHECK_SECONDS):.3f}", "-i", clip.path, "-f", "null", "-"]
    try:
        return subprocess.run(cmd, capture_output=True, timeout=EDIT_TIMEOUT, stdin=subprocess.DEVNULL).returncode == 0
    except subprocess.TimeoutExpired as exc:
        raise MediaError(f"{clip.path}: ffmpeg timed out") from exc


@contextmanager
def readable(clip: Clip, dst: Path) -> Iterator[Clip]:
    """`clip` as the edits read it: itself where it seeks cleanly (`seeks_cleanly`), else its
    stretch decoded from the file's first frame into a lossless file beside `dst` (removed after)."""
    if seeks_cleanly(clip):
        yield clip
        return
    handle, name = tempfile.mkstemp(prefix=f"{dst.stem}.", suffix=".cut.mkv", dir=dst.parent)
    os.close(handle)
    cut = Path(name)
    try:
        _run(["-i", clip.path, "-ss", f"{clip.start:.3f}", "-t", f"{clip.duration:.3f}", "-map", "0:v:0?",
              "-map", "0:a:0?", "-c:v", "libx264", "-qp", "0", "-preset", "ultrafast", "-c:a", "pcm_s16le"], cut)
        yield Clip(str(cut), 0.0, clip.duration)
    finally:
        cut.unlink(missing_ok=True)


def pirate(clip: Clip, dst: str | Path, *, edits: list[str] = (), filters: list[str] = (),
           height: int = 360, crf: int = 35, audio: bool = True, audio_kbps: int = 48,
           speed: float = 1.0, fps: float | None = None) -> Path:
    """Cut `clip`, apply the named `edits` then the raw ffmpeg `filters` in order, rescale to
    `height`, re-encode hard (`crf`, `audio_kbps`); with `speed`, play picture and sound that much
    faster (25/24: PAL speed-up, pitch kept); with `fps`, change the frame rate."""
    square = "scale=trunc(ih*dar/2)*2:ih,setsar=1"  # square pixels first: keep the picture's shape
    chain = [square] + [EDITS[e] for e in edits] + list(filters) \
        + [f"scale=-2:{height}", "setsar=1", "format=yuv420p"]
    if speed != 1.0:
        chain.append(f"setpts=PTS/{speed:.6f}")
    if fps:
        chain.append(f"fps={fps:g}")
    with readable(clip, Path(dst)) as clip:
        args = ["-ss", f"{clip.start:.3f}", "-t", f"{clip.duration:.3f}", "-i", clip.path,
                "-vf", ",".join(chain), "-c:v", "libx264", "-preset", "veryfast", "-crf", str(crf)]
        if audio:
            args += (["-af", f"atempo={speed:.6f}"] if speed != 1.0 else []) + ["-c:a", "aac", "-b:a", f"{audio_kbps}k"]
        else:
            args += ["-an"]
        return _run(args, Path(dst))


def picture_in_picture(copy: str | Path, host: str | Path, dst: str | Path, *, scale: float = 0.5,
                       x: float = 0.25, y: float = 0.25, size: tuple[int, int] = (640, 360),
                       crf: int = 30) -> Path:
    """`copy` shrunk to `scale` of the frame's width and laid over `host` (looped, fitted into
    `size`) with its top-left corner at (`x`, `y`) of the frame; the sound is `copy`'s."""
    w, h = size
    graph = (f"[1:v:0]scale={w}:{h}:force_original_aspect_ratio=decrease,pad={w}:{h}:(ow-iw)/2:(oh-ih)/2,"
             f"setsar=1[bg];[0:v:0]scale={int(w * scale) // 2 * 2}:-2,setsar=1[fg];"
             f"[bg][fg]overlay=x=W*{x:.4f}:y=H*{y:.4f}:shortest=1,format=yuv420p[out]")
    args = ["-i", str(copy), "-stream_loop", "-1", "-i", str(host), "-filter_complex", graph,
            "-map", "[out]", "-map", "0:a?", "-c:v", "libx264", "-preset", "veryfast", "-crf", str(crf),
            "-c:a", "aac", "-b:a", "64k", "-shortest"]
    return _run(args, Path(dst))


def splice(clips: list[Clip], dst: str | Path, *, size: tuple[int, int] = (640, 360), fps: int = 25,
           crf: int = 28, audio: bool = False) -> Path:
    """Concatenate `clips` (each fitted into `size`, padded) into one video; silent unless
    `audio`, then with each clip's sound (silence for a clip without)."""
    from fp.data.probe import probe

    args, chains, pads = [], [], []
    w, h = size
    with ExitStack() as stack:
        for i, clip in enumerate(stack.enter_context(readable(clip, Path(dst))) for clip in clips):
            args += ["-ss", f"{clip.start:.3f}", "-t", f"{clip.duration:.3f}", "-i", clip.path]
            chains.append(f"[{i}:v:0]scale={w}:{h}:force_original_aspect_ratio=decrease,"
                          f"pad={w}:{h}:(ow-iw)/2:(oh-ih)/2,setsar=1,fps={fps},format=yuv420p[v{i}]")
            pads.append(f"[v{i}]")
            if audio:
                info = probe(clip.path)
                length = min(clip.duration, max(info.duration - clip.start, 0.0))
                source = f"[{i}:a:0]" if info.has_audio else "anullsrc=r=44100:cl=mono,"
                chains.append(f"{source}aresample=44100,aformat=channel_layouts=mono,apad,"
                              f"atrim=duration={length:.3f}[a{i}]")
                pads.append(f"[a{i}]")
        graph = ";".join(chains) + ";" + "".join(pads) \
            + f"concat=n={len(clips)}:v=1:a={int(audio)}[out]" + ("[aout]" if audio else "")
        args += ["-filter_complex", graph, "-map", "[out]", "-c:v", "libx264", "-preset", "veryfast",
                 "-crf", str(crf)]
        args += ["-map", "[aout]", "-c:a", "aac", "-b:a", "64k"] if audio else ["-an"]
        return _run(args, Path(dst))


def keystone(top: float, bottom: float = 0.0, tilt: float = 0.0) -> str:
    """A trapezoid view of the frame (ffmpeg `perspective`): the top edge inset by `top`, the
    bottom by `bottom` (fractions of the width), the top-left corner lowered by `tilt` of the height."""
    return (f"perspective=x0=W*{top:.4f}:y0=H*{tilt:.4f}:x1=W*{1 - top:.4f}:y1=0:"
            f"x2=W*{bottom:.4f}:y2=H:x3=W*{1 - bottom:.4f}:y3=H")


def shake(pixels: int) -> str:
    """A hand-held camera: a crop `pixels` smaller on each side, wandering by up to `pixels`."""
    fx, fy = CAMCORD_SHAKE_HZ
    return (f"crop=iw-{2 * pixels}:ih-{2 * pixels}:{pixels}+{pixels}*sin(2*PI*t*{fx}):"
            f"{pixels}+{pixels}*cos(2*PI*t*{fy})")


def vertical(offset: float = 0.5) -> str:
    """A 9:16 vertical reframe: the full height, a strip `offset` of the way across (0.5: centred)."""
    return f"crop=trunc(ih*9/16/2)*2:ih:(iw-ow)*{offset:.4f}:0"


def blurred_fill(scale: float, sigma: float = 20.0) -> str:
    """The frame shrunk to `scale` and centred over a blurred blow-up of itself (filtergraph for `-vf`)."""
    return (f"split[fill_bg][fill_fg];[fill_bg]gblur=sigma={sigma:g}[fill_blur];"
            f"[fill_fg]scale=trunc(iw*{scale:.4f}/2)*2:trunc(ih*{scale:.4f}/2)*2[fill_small];"
            f"[fill_blur][fill_small]overlay=(W-w)/2:(H-h)/2")


def phone_fill(sigma: float = 20.0, width: int = 360, height: int = 640) -> str:
    """The whole frame, its width kept, over a blurred copy of itself that fills a `width` x
    `height` phone frame (9:16: the picture a band across the middle; filtergraph for `-vf`)."""
    return (f"split[fill_bg][fill_fg];[fill_bg]scale={width}:{height}:force_original_aspect_ratio=increase,"
            f"crop={width}:{height},gblur=sigma={sigma:g}[fill_blur];[fill_fg]scale={width}:-2[fill_band];"
            f"[fill_blur][fill_band]overlay=(W-w)/2:(H-h)/2")


def pitch_shift(factor: float) -> str:
    """Audio filter: the pitch raised by `factor` (0.95: 5 % down), the tempo kept."""
    return (f"aresample={SAMPLE_RATE},asetrate={SAMPLE_RATE * factor:.2f},aresample={SAMPLE_RATE},"
            f"atempo={1 / factor:.6f}")


def room_sound(source: str, band: tuple[float, float] = CAMCORD_BAND, echo: tuple[float, float] = CAMCORD_ECHO,
               room_noise: float = CAMCORD_ROOM_NOISE, seed: int = 0, speed: float = 1.0) -> str:
    """Filter graph: the sound at `source` (a pad such as "[0:a:0]", or a source filter and a
    comma) as a phone records it off a screen, labelled [aout]: mono, band-limited to `band`,
    echoed (`echo`: delay in ms, decay), sped up by `speed` (tempo), mixed with pink room noise of
    amplitude `room_noise` drawn with `seed`."""
    delay, decay = echo
    return (f"{source}aresample={SAMPLE_RATE},aformat=channel_layouts=mono,highpass=f={band[0]:g},"
            f"lowpass=f={band[1]:g},aecho=0.8:0.7:{delay:g}:{decay:g}"
            + (f",atempo={speed:.6f}" if speed != 1.0 else "") + "[voice];"
            f"anoisesrc=color=pink:amplitude={room_noise:g}:seed={seed}:r={SAMPLE_RATE}[room];"
            "[voice][room]amix=inputs=2:duration=first:normalize=0[aout]")


def camcord(clip: Clip, dst: str | Path, *, keystone_filter: str = keystone(0.05, 0.01, 0.02),
            shake_px: int = 6, grain: int = 20, gamma: float = 1.2, filters: list[str] = (),
            band: tuple[float, float] = CAMCORD_BAND, echo: tuple[float, float] = CAMCORD_ECHO,
            room_noise: float = CAMCORD_ROOM_NOISE, seed: int = 0, height: int = 360, crf: int = 30,
            audio_kbps: int = 64, speed: float = 1.0, fps: float | None = None) -> Path:
    """`clip` filmed off a screen: the picture through `keystone_filter`, shake, grain and
    `gamma`, then the raw ffmpeg `filters`; the sound band-limited to `band`, echoed (`echo`: delay
    in ms, decay) and mixed with pink room noise of amplitude `room_noise`. `speed`, `fps`,
    `height`, `crf` and `audio_kbps` as in `pirate`. A clip without sound gets the room alone."""
    from fp.data.probe import probe

    square = "scale=trunc(ih*dar/2)*2:ih,setsar=1"
    picture = [square, keystone_filter, shake(shake_px), f"noise=alls={grain}:allf=t", f"eq=gamma={gamma:.3f}",
               *filters, f"scale=-2:{height}", "setsar=1", "format=yuv420p"]
    if speed != 1.0:
        picture.append(f"setpts=PTS/{speed:.6f}")
    if fps:
        picture.append(f"fps={fps:g}")
    with readable(clip, Path(dst)) as clip:
        source = "[0:a:0]" if probe(clip.path).has_audio else f"anullsrc=r={SAMPLE_RATE}:cl=mono:d={clip.duration:.3f},"
        sound = room_sound(source, band, echo, room_noise, seed, speed)
        graph = f"[0:v:0]{','.join(picture)}[vout];{sound}"
        args = ["-ss", f"{clip.start:.3f}", "-t", f"{clip.duration:.3f}", "-i", clip.path, "-filter_complex", graph,
                "-map", "[vout]", "-map", "[aout]", "-t", f"{clip.duration / speed:.3f}", "-c:v", "libx264",
                "-preset", "veryfast", "-crf", str(crf), "-c:a", "aac", "-b:a", f"{audio_kbps}k"]
        return _run(args, Path(dst))


def write_wav(path: str | Path, pcm, rate: int) -> Path:
    """Mono float samples in [-1, 1] as a 16-bit WAV file."""
    import wave

    import numpy as np

    with wave.open(str(path), "wb") as handle:
        handle.setnchannels(1), handle.setsampwidth(2), handle.setframerate(rate)
        handle.writeframes((np.clip(pcm, -1, 1) * 32767).astype(np.int16).tobytes())
    return Path(path)


def black_picture(clip: Clip | None, dst: str | Path, *, duration: float | None = None,
                  audio_filter: str | None = None, noise_snr_db: float | None = None,
                  seed: int = 0) -> Path:
    """A black picture over `clip`'s soundtrack (filtered by `audio_filter`, with white noise at
    `noise_snr_db`), or over silence when `clip` is None."""
    import numpy as np

    from fp.data.decode import decode_audio
    from fp.data.probe import probe

    dst = Path(dst)
    length = clip.duration if clip is not None else duration
    args = ["-f", "lavfi", "-i", f"color=black:s=640x360:r=25:d={length:.3f}"]
    if clip is None:
        args += ["-f", "lavfi", "-i", f"anullsrc=r=44100:cl=mono:d={length:.3f}"]
    else:
        with readable(clip, dst) as part:
            cut = _run(["-ss", f"{part.start:.3f}", "-t", f"{part.duration:.3f}", "-i", part.path, "-vn",
                        *(["-af", audio_filter] if audio_filter else []), "-ac", "1", "-ar", "44100"],
                       dst.with_suffix(".cut.wav"))
        if noise_snr_db is not None:
            pcm = decode_audio(probe(cut), 44100)
            noise = np.random.default_rng(seed).normal(size=len(pcm)).astype(np.float32)
            scale = np.sqrt(np.mean(pcm ** 2) / (np.mean(noise ** 2) * 10 ** (noise_snr_db / 10)))
            write_wav(cut, pcm + scale * noise, 44100)
        args += ["-i", str(cut)]
    args += ["-map", "0:v", "-map", "1:a", "-shortest", "-c:v", "libx264", "-preset", "veryfast",
             "-crf", "30", "-c:a", "aac", "-b:a", "96k"]
    out = _run(args, dst)
    dst.with_suffix(".cut.wav").unlink(missing_ok=True)
    return out


def swap_soundtrack(clip: Clip, music: str, dst: str | Path, *, height: int = 360) -> Path:
    """`clip`'s picture (rescaled, re-encoded) over another soundtrack."""
    with readable(clip, Path(dst)) as clip:
        args = ["-ss", f"{clip.start:.3f}", "-t", f"{clip.duration:.3f}", "-i", clip.path, "-i", music,
                "-map", "0:v:0", "-map", "1:a:0", "-shortest", "-vf", f"scale=-2:{height},setsar=1,format=yuv420p",
                "-c:v", "libx264", "-preset", "veryfast", "-crf", "32", "-c:a", "aac", "-b:a", "64k"]
        return _run(args, Path(dst))
