import numpy as np
import pytest

from fp.data.subtitles import Cue, decode_text, parse_cues, sidecar_files
from fp.fingerprint.text import ShingleEncoder, normalise

SRT = """1
00:00:01,000 --> 00:00:03,500
<i>Hello there,</i>
General Kenobi!

2
00:00:04,000 --> 00:00:02,000
end before start: dropped

3
not a time line
still garbage

4
00:00:05,250 --> 00:00:07,000
{\\an8}Second line
"""

VTT = """WEBVTT
Kind: captions

NOTE a comment

intro
00:01.000 --> 00:03.000 align:start position:10%
Bonjour à tous

00:00:04.5 --> 00:00:06.000
<v Roger>Ça va ?
"""


def test_srt_cues_are_parsed_and_malformed_ones_skipped():
    cues = parse_cues(SRT)
    assert cues == [Cue(1.0, 3.5, "Hello there, General Kenobi!"), Cue(5.25, 7.0, "Second line")]


def test_vtt_with_settings_headers_and_short_times():
    cues = parse_cues(VTT)
    assert [(c.start, c.end, c.text) for c in cues] == [(1.0, 3.0, "Bonjour à tous"), (4.5, 6.0, "Ça va ?")]


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "utf-16", "cp1252", "latin-1"])
def test_encodings_are_detected(encoding):
    text = VTT.replace("Bonjour à tous", "Café crème à l'été, déjà vu").replace("WEBVTT", "WEBVTT\n")
    cues = parse_cues(decode_text(text.encode(encoding)))
    assert cues[0].text == "Café crème à l'été, déjà vu"


def test_cyrillic_legacy_code_page():
    text = "1\n00:00:01,000 --> 00:00:02,000\nПривет, как дела? Это проверка русских субтитров.\n"
    assert parse_cues(decode_text(text.encode("cp1251")))[0].text.startswith("Привет, как дела?")


def test_negative_start_is_clamped_and_crlf_is_fine():
    cues = parse_cues("1\r\n-00:00:01,000 --> 00:00:02,000\r\nx\r\n\r\n2\r\n00:00:03,000 --> 00:00:04,000\r\ny\r\n")
    assert [c.text for c in cues] == ["y"] or cues[0].start >= 0


def test_sidecars_share_the_stem(tmp_path):
    for name in ["film.mp4", "film.srt", "film.en.vtt", "filmx.srt", "other.srt"]:
        (tmp_path / name).write_text("x")
    assert [p.name for p in sidecar_files(tmp_path / "film.mp4")] == ["film.en.vtt", "film.srt"]


def test_shingles_survive_retyping_but_not_other_lines():
    enc = ShingleEncoder()
    a, b, c = enc.encode(["Where are you going, Frodo?", "WHERE ARE YOU GOING FRODO", "The ring is mine."])
    assert normalise("Ça, VA?") == "ca va"
    assert a @ b > 0.9 and a @ c < 0.4 and np.isclose(np.linalg.norm(a), 1)


def test_overlapping_cues_are_kept_and_shown_together():
    from fp.config import Config
    from fp.data import probe
    from fp.fingerprint.extract import Fingerprinter

    from conftest import VIDEO

    cues = parse_cues("1\n00:00:01,000 --> 00:00:04,000\nfirst\n\n2\n00:00:02,000 --> 00:00:03,000\nsecond\n")
    assert [c.text for c in cues] == ["first", "second"]
    track = Fingerprinter(Config()).text_track(probe(VIDEO / "zwm_caminandes.mp4"), cues)
    enc = ShingleEncoder()
    both = enc.encode(["first  second"])[0]
    assert track.valid[2] and np.allclose(track.vectors[4], both)  # 2.25 s shows both cues
