"""One intact modality is enough: soundtrack-only and picture-only copies, subtitles, and
silence, black or unrelated music never matching on their own."""

import shutil
import subprocess
import threading
from collections import Counter

import pytest

from conftest import AUDIO, DATA, VIDEO
from fp.data.edits import Clip, black_picture, pirate, swap_soundtrack
from fp.config import Config
from fp.errors import Cancelled
from fp.matcher import Matcher

DOC = "psd_tv_documentary.mp4"
ECHO = "mejs_echo-hereweare.webm"


def best_for(report, title):
    found = [m for m in report.matches if m.title_id == title and m.decision == "match"]
    assert found, report.to_dict()
    return found[0]


@pytest.mark.parametrize("title, start, duration", [(DOC, 3.0, 15.0), (ECHO, 10.0, 20.0)])
def test_audio_only_copy_with_black_picture_is_found_in_place(matcher, tmp_path, title, start, duration):
    copy = black_picture(Clip(str(VIDEO / title), start, duration), tmp_path / "black.mp4")
    m = best_for(matcher.match(copy), title)
    assert m.query_start == pytest.approx(0.0, abs=1.0) and m.query_end == pytest.approx(duration, abs=1.0)
    assert m.ref_start == pytest.approx(start, abs=1.0) and m.ref_end == pytest.approx(start + duration, abs=1.0)
    assert m.modalities["visual"] is None and m.modalities["audio"] > 0.5


def test_picture_only_copy_with_unrelated_music_is_found(matcher, tmp_path):
    copy = swap_soundtrack(Clip(str(VIDEO / ECHO), 5.0, 20.0),
                           str(AUDIO / "librosa_Kevin_MacLeod_-_Vibe_Ace.ogg"), tmp_path / "swap.mp4")
    m = best_for(matcher.match(copy), ECHO)
    assert m.ref_start == pytest.approx(5.0, abs=1.0)
    assert m.modalities["visual"] > 0.5 and m.modalities["audio"] < 0.3


def test_pal_speedup_with_noise_on_the_soundtrack_is_found(matcher, tmp_path):
    copy = black_picture(Clip(str(VIDEO / ECHO), 12.0, 20.0), tmp_path / "pal.mp4",
                         audio_filter="asetrate=44100*25/24,aresample=44100", noise_snr_db=10.0)
    m = best_for(matcher.match(copy), ECHO)
    assert m.modalities["audio"] is not None
    assert 11.0 <= m.ref_start <= 21.0


def test_sidecar_subtitles_give_a_text_score_and_are_searched_once(index_dir, fingerprinter, tmp_path, monkeypatch):
    # the mirrored pass on (a match setting: the shared fingerprinter's own is off), so that the
    # picture has more than one variant
    matcher = Matcher(index_dir, Config().with_settings(["query_mirrored=true"]), fingerprinter)
    copy = pirate(Clip(str(VIDEO / DOC), 4.0, 16.0), tmp_path / "fansub.mp4", edits=["crop10"])
    shutil.copy(DATA / "documentary-fansub.srt", tmp_path / "fansub.srt")
    searches = Counter()
    for modality, index in matcher.reader.indexes.items():
        def counted(vectors, k, modality=modality, search=index.search):
            searches[modality] += 1
            return search(vectors, k)
        monkeypatch.setattr(index, "search", counted)
    variants = []
    real = matcher.fingerprinter.query_fingerprint
    monkeypatch.setattr(matcher.fingerprinter, "query_fingerprint",
                        lambda *a, **kw: variants.append(real(*a, **kw)) or variants[-1])
    m = best_for(matcher.match(copy), DOC)
    # the soundtrack and the subtitles once per suspect; the picture once per variant
    assert searches["audio"] == searches["text"] == 1
    assert searches["visual"] == len(variants[0].variants) >= 2
    assert m.modalities["text"] is not None and m.modalities["text"] > 0.6
    assert m.ref_start == pytest.approx(4.0, abs=1.0)


def test_soundtrack_ripped_alone_is_found_in_place_and_unrelated_sound_is_not(matcher, tmp_path):
    """A suspect with no picture at all (a soundtrack rip) is matched on its sound, in place;
    unrelated music alone matches nothing."""
    rip, music = tmp_path / "rip.m4a", tmp_path / "music.mp3"
    for src, start, dst in ((VIDEO / DOC, 3.0, rip), (AUDIO / "librosa_Karissa_Hobbs_-_Lets_Go_Fishin.ogg", 30.0, music)):
        subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-ss", str(start), "-t", "15", "-i", str(src), "-vn",
                        "-b:a", "64k", str(dst)], check=True)
    m = best_for(matcher.match(rip), DOC)
    assert m.query_start == pytest.approx(0.0, abs=1.0) and m.query_end == pytest.approx(15.0, abs=1.0)
    assert m.ref_start == pytest.approx(3.0, abs=1.0) and m.ref_end == pytest.approx(18.0, abs=1.0)
    assert m.modalities["visual"] is None and m.modalities["audio"] > 0.5
    assert not matcher.match(music).found
    stop = threading.Event()
    stop.set()
    with pytest.raises(Cancelled):  # a long soundtrack alone stops at its next chunk too
        matcher.match(rip, cancel=stop)


@pytest.mark.parametrize("kind", ["silence", "music"])
def test_silence_black_and_unrelated_music_give_no_match(matcher, tmp_path, kind):
    if kind == "silence":
        path = black_picture(None, tmp_path / "silence.mp4", duration=20.0)
    else:
        path = black_picture(Clip(str(AUDIO / "librosa_Karissa_Hobbs_-_Lets_Go_Fishin.ogg"), 30.0, 25.0),
                             tmp_path / "music.mp4")
    assert not matcher.match(path).found


def test_content_shared_by_many_titles_is_no_proof(tmp_path):
    """A studio logo at the head of four titles: the logo alone matches none of them, and a copy
    of one title matches that title only."""
    from fp.data.edits import splice
    from fp.index import index_catalogue

    logo = Clip(str(VIDEO / "mdn_flower.mp4"), 0.0, 5.0)
    bodies = ["zwm_caminandes.mp4", "askany_yoga.mp4", "videollama_boat.mp4", "imageio_cockatoo.mp4"]
    catalogue = tmp_path / "cat"
    catalogue.mkdir()
    for name in bodies:
        splice([logo, Clip(str(VIDEO / name), 0.0, 6.0)], catalogue / name)
    index_catalogue(catalogue, tmp_path / "idx")
    only_logo = pirate(logo, tmp_path / "logo.mp4", edits=["crop10"])
    copy = splice([logo, Clip(str(VIDEO / "askany_yoga.mp4"), 0.0, 6.0)], tmp_path / "copy.mp4")
    with Matcher(tmp_path / "idx") as matcher:
        assert not matcher.match(only_logo).found
        found = [m for m in matcher.match(copy).matches if m.decision == "match"]
        assert {m.title_id for m in found} == {"askany_yoga.mp4"}
