"""The hard edits of the public benchmark (fp/data/edits.py, bench/accuracy.py) make decodable
copies of the expected shape and length, from real media in ../shared/media."""

import random
import subprocess

import numpy as np
import pytest

from bench.accuracy import SPLICE_FPS, make_hard_query
from conftest import VIDEO
from fp.data import probe
from fp.data.decode import decode_audio
from fp.data.edits import Clip, black_picture, blurred_fill, camcord, pirate, pitch_shift, vertical

VOICED = "psd_tv_documentary.mp4"  # has a soundtrack
SILENT = "zwm_sintel.mp4"  # has none
SECONDS = 4.0
RATE = 16000


def clip(name: str = VOICED, start: float = 2.0) -> Clip:
    return Clip(str(VIDEO / name), start, SECONDS)


def video_shape(path) -> tuple[int, int, float]:
    info = probe(path)
    return info.width, info.height, info.duration


@pytest.mark.parametrize("name", [VOICED, SILENT])
def test_camcord_keeps_length_and_always_has_sound(tmp_path, name):
    info = probe(camcord(clip(name), tmp_path / "cam.mp4"))
    assert info.has_audio and abs(info.duration - SECONDS) < 0.1
    assert info.width > info.height


def test_camcord_sound_is_band_limited(tmp_path):
    pcm = decode_audio(probe(camcord(clip(), tmp_path / "cam.mp4", room_noise=0.0)), RATE)
    spectrum = np.abs(np.fft.rfft(pcm)) ** 2
    freqs = np.fft.rfftfreq(len(pcm), 1 / RATE)
    assert spectrum[freqs > 6000].sum() < 0.01 * spectrum[(freqs > 200) & (freqs < 3000)].sum()


@pytest.mark.parametrize("offset", [0.5, 0.1])
def test_vertical_reframe_is_portrait_9_16(tmp_path, offset):
    width, height, duration = video_shape(pirate(clip(), tmp_path / "v.mp4", filters=[vertical(offset)]))
    assert height > width and abs(width / height - 9 / 16) < 0.02
    assert abs(duration - SECONDS) < 0.1


def test_blurred_fill_keeps_the_frame(tmp_path):
    filled = video_shape(pirate(clip(), tmp_path / "f.mp4", filters=[blurred_fill(0.6)]))
    plain = video_shape(pirate(clip(), tmp_path / "p.mp4"))
    assert filled[:2] == plain[:2] and abs(filled[2] - SECONDS) < 0.1


def test_greyscale_has_no_colour(tmp_path):
    out = pirate(clip(), tmp_path / "g.mp4", edits=["grey"])
    raw = subprocess.run(["ffmpeg", "-v", "error", "-i", str(out), "-frames:v", "1", "-f", "rawvideo",
                          "-pix_fmt", "rgb24", "-"], capture_output=True, check=True).stdout
    rgb = np.frombuffer(raw, np.uint8).reshape(-1, 3).astype(int)
    assert np.abs(rgb[:, 0] - rgb[:, 1]).mean() < 3 and np.abs(rgb[:, 1] - rgb[:, 2]).mean() < 3


@pytest.mark.parametrize("factor", [0.95, 1.06])
def test_pitch_shift_keeps_the_duration(tmp_path, factor):
    info = probe(black_picture(clip(), tmp_path / "p.mp4", audio_filter=pitch_shift(factor)))
    assert info.has_audio
    assert abs(len(decode_audio(info, RATE)) / RATE - SECONDS) < 0.02 * SECONDS


def test_compilation_truth_has_one_segment_per_part(tmp_path):
    names = ["psd_tv_documentary.mp4", "zwm_sintel.mp4", "videohash_nasa_rocket.mkv"]
    durations = {name: probe(VIDEO / name).duration for name in names}
    query = make_hard_query(random.Random(5), tmp_path, "h5", ["compilation"], names, True, durations)
    assert [s.ref_id for s in query.truth] == names
    assert query.truth[0].query_start == 0.0
    for before, after in zip(query.truth, query.truth[1:]):
        assert after.query_start == pytest.approx(before.query_end)
    for s in query.truth:
        assert s.query_end - s.query_start == pytest.approx(s.ref_end - s.ref_start)
        assert round((s.query_end - s.query_start) * SPLICE_FPS, 6).is_integer()
    assert abs(probe(query.path).duration - query.truth[-1].query_end) < 0.1


def test_hard_negative_has_no_truth(tmp_path):
    names = ["askany_yoga.mp4"]
    query = make_hard_query(random.Random(6), tmp_path, "hn6", ["vertical"], names, False,
                            {names[0]: probe(VIDEO / names[0]).duration})
    width, height, _ = video_shape(query.path)
    assert query.negative and height > width
