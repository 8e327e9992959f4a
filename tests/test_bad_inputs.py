"""A corpus of awkward and broken inputs, made by the tests: each gives one clear error line and
exit 2, or a correct answer; never a traceback, never a hang."""

import re
import shutil
import subprocess
import sys

import pytest

from conftest import AUDIO, VIDEO

TITLE = "zwm_caminandes.mp4"  # in the test catalogue


def ffmpeg(*args):
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", *map(str, args)], check=True, timeout=300)


def excerpt(dst, *extra, src=VIDEO / TITLE):
    ffmpeg("-ss", 1, "-t", 7, "-i", src, *extra, dst)
    return dst


def make(kind, d):
    """Build one input; return (path, expected) with expected 'match', 'no match' or an error regex."""
    if kind == "zero-byte":
        (d / "zero.mp4").write_bytes(b"")
        return d / "zero.mp4", "file is empty"
    if kind == "truncated-head":
        data = (VIDEO / TITLE).read_bytes()
        (d / "cut.mp4").write_bytes(data[: len(data) // 3])
        return d / "cut.mp4", "truncated|not a readable media file|could not decode"
    if kind == "garbage-tail":
        data = (VIDEO / "mdn_flower.mp4").read_bytes()
        (d / "junk.mp4").write_bytes(data[:2000] + bytes(range(256)) * 200)
        return d / "junk.mp4", "truncated|not a readable media file|could not decode|no decodable"
    if kind == "text-as-mp4":
        (d / "notes.mp4").write_text("hello\n" * 500)
        return d / "notes.mp4", "not a readable media file"
    if kind == "wrong-extension":
        return excerpt(d / "really_mp4.mkv.tmp.mp4", "-c", "copy", "-f", "mp4") .rename(d / "really_mp4.avi"), "match"
    if kind == "no-video-stream":  # a soundtrack alone is matched on its sound
        shutil.copy(AUDIO / "whisper_jfk.flac", d / "speech.mp4")
        return d / "speech.mp4", "no match"
    if kind == "subtitles-only":
        srt = d / "cues.srt"
        srt.write_text("1\n00:00:01,000 --> 00:00:03,000\nHello\n")
        ffmpeg("-i", srt, d / "cues.mkv")
        return d / "cues.mkv", "has no video stream and no decodable soundtrack"
    if kind == "no-audio-stream":
        return excerpt(d / "silent.mp4", "-an", "-c:v", "libx264", "-crf", "30"), "match"
    if kind == "single-frame":
        ffmpeg("-i", VIDEO / TITLE, "-frames:v", 1, "-c:v", "libx264", d / "one.mp4")
        return d / "one.mp4", "no match"
    if kind == "huge-dimensions":
        ffmpeg("-f", "lavfi", "-i", "testsrc2=s=7680x4320:r=5:d=2", "-c:v", "libx264", "-preset",
               "ultrafast", d / "8k.mp4")
        return d / "8k.mp4", "no match"
    if kind == "yuv444p":
        return excerpt(d / "444.mp4", "-c:v", "libx264", "-pix_fmt", "yuv444p", "-crf", "30"), "match"
    if kind == "gray-ffv1":
        return excerpt(d / "gray.mkv", "-c:v", "ffv1", "-pix_fmt", "gray", "-an"), "match"
    if kind == "10-bit":
        return excerpt(d / "10bit.mkv", "-c:v", "libx265", "-pix_fmt", "yuv420p10le", "-crf", "30",
                       "-x265-params", "log-level=error"), "match"
    if kind == "gif":
        return excerpt(d / "anim.gif", "-vf", "fps=10,scale=320:-1"), "match"
    if kind == "rotated-tag":
        return excerpt(d / "rot.mp4", "-c", "copy", "-metadata:s:v:0", "rotate=90"), "match"
    if kind == "variable-frame-rate":
        return excerpt(d / "vfr.mp4", "-vf", "setpts='PTS+0.02*sin(N)/TB'", "-fps_mode", "vfr",
                       "-c:v", "libx264", "-crf", "28"), "match"
    if kind == "malformed-subtitles":
        path = excerpt(d / "subbed.mp4", "-c:v", "libx264", "-crf", "30")
        (d / "subbed.srt").write_bytes(b"\xff\xfe\x00garbage\n00:00:05,000 --> 00:00:01,000\n\x00\x00x\n\n"
                                       b"1\n-1:00:00,000 --> 99:99:99,999\nok?\n")
        return path, "match"
    if kind == "spaces-and-unicode":
        folder = d / "dossier été 日本"
        folder.mkdir()
        return excerpt(folder / "copie n°1 — final.mp4", "-c", "copy"), "match"
    if kind == "missing-path":
        return d / "nowhere" / "x.mp4", "no such file"
    if kind == "empty-folder":
        (d / "empty").mkdir()
        return d / "empty", "no video or sound files in this folder"
    raise AssertionError(kind)


KINDS = ["zero-byte", "truncated-head", "garbage-tail", "text-as-mp4", "wrong-extension", "no-video-stream",
         "subtitles-only", "no-audio-stream", "single-frame", "huge-dimensions", "yuv444p", "gray-ffv1", "10-bit", "gif",
         "rotated-tag", "variable-frame-rate", "malformed-subtitles", "spaces-and-unicode", "missing-path",
         "empty-folder"]


@pytest.mark.parametrize("kind", KINDS)
def test_awkward_input(index_dir, tmp_path, kind):
    path, expected = make(kind, tmp_path)
    result = subprocess.run([sys.executable, "-m", "fp", "match", str(path), "--index", str(index_dir)],
                            capture_output=True, text=True, timeout=600)
    assert "Traceback" not in result.stderr + result.stdout
    if expected == "match":
        assert result.returncode == 0, result.stdout + result.stderr
        assert TITLE in result.stdout
    elif expected == "no match":
        assert result.returncode == 1, result.stdout + result.stderr
    else:
        assert result.returncode == 2
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: "), lines
        assert re.search(expected, lines[0]), lines[0]
