"""Long titles: a copy deep inside a feature-length title is found at the right offset, reading
only windows of it; stored codes keep real tracks' similarities."""

import numpy as np
import pytest

from bench.catalogue_scale import (COPY_CLIP, PLANT_MINUTE, PLANTED_CLIPS, copy_suspect, drop_cache, read_bytes,
                                   spliced, synthetic_title, track_models)
from conftest import VIDEO
from fp.config import Config
from fp.data import probe
from fp.index import codes
from fp.index.reader import IndexReader
from fp.index.store import IndexStore
from fp.matcher import Matcher

LONG_MINUTES = 60.0
SHAPE_CLIPS = ("bower_bbb_480p_30s.mp4", "psd_goldeneye_rotated_audio.mp4", "videollava_demo1_baby.mp4")
"""Real footage with picture and sound, other than the planted clips: what the synthetic
footage is modelled on."""
WINDOW_READ_LIMIT = 1 << 20
"""Most bytes a window of a track may read from disk (the device's read-ahead is 8 MB here)."""


@pytest.fixture(scope="module")
def long_index(tmp_path_factory, fingerprinter):
    """Two 60-minute titles of synthetic footage shaped like real clips' tracks; the first holds
    the real fingerprint of real footage (picture and sound) from minute 40."""
    root = tmp_path_factory.mktemp("long")
    planted_path = spliced(root, "planted", PLANTED_CLIPS)
    planted = fingerprinter.fingerprint(planted_path)
    models = track_models([fingerprinter.fingerprint(VIDEO / name) for name in SHAPE_CLIPS], planted.tracks)
    rng = np.random.default_rng(0)
    with IndexStore.open_for_writing(root / "idx", Config()) as store:
        for i in range(2):
            title = synthetic_title(f"feature{i}", LONG_MINUTES * 60, models, Config(), rng, planted if i == 0 else None)
            store.put_title(f"feature{i}", title, f"h{i}", 0)
    return root / "idx", copy_suspect(root, planted_path), planted


@pytest.fixture(scope="module")
def copy_query(long_index, fingerprinter):
    """The copy's query fingerprint, made once for the tests that match it."""
    return fingerprinter.query_fingerprint(probe(long_index[1]))


def test_a_copy_from_minute_40_of_a_60_minute_title_is_found_at_its_offset(long_index, copy_query, fingerprinter):
    with Matcher(long_index[0], fingerprinter=fingerprinter) as matcher:
        report = matcher.match_fingerprint(copy_query)
    assert [m.title_id for m in report.matches] == ["feature0"]
    m = report.matches[0]
    assert m.query_start == pytest.approx(0.0, abs=1.0)
    assert m.ref_start == pytest.approx(PLANT_MINUTE * 60 + COPY_CLIP[0] + m.query_start, abs=1.0)


def test_windowed_reads_give_the_alignment_of_whole_track_reads(long_index, copy_query, fingerprinter, monkeypatch):
    with Matcher(long_index[0], fingerprinter=fingerprinter) as matcher:
        windowed = matcher.match_fingerprint(copy_query, min_score=0.0)
        reads = []
        whole_tracks = matcher.reader.store.tracks

        def whole(title_id, first, stop):
            reads.append(stop - first)
            return whole_tracks(title_id)

        monkeypatch.setattr(matcher.reader, "window", whole)
        assert matcher.match_fingerprint(copy_query, min_score=0.0).matches == windowed.matches
    assert windowed.matches and reads
    assert max(reads) < 0.05 * LONG_MINUTES * 60 * Config().frame_rate  # a window is not the title


def test_stored_codes_keep_real_similarities(long_index):
    _, _, planted = long_index
    for modality, track in planted.tracks.items():
        stored, valid = codes.decode(codes.encode(track.vectors, track.valid))
        assert np.array_equal(valid, track.valid)
        v = track.vectors[valid]
        exact, compact = v @ v.T, stored[valid] @ stored[valid].T
        assert np.abs(exact - compact).max() < codes.CODE_COSINE_TOLERANCE, modality


def test_a_reader_reads_windows_of_titles_it_knows(long_index):
    index, _, _ = long_index
    reader = IndexReader(index)
    try:
        assert {t.title_id for t in reader.titles} == {"feature0", "feature1"}
        assert reader.hours == pytest.approx(2 * LONG_MINUTES / 60)
        window = reader.window("feature0", 100, 140)
        assert set(window) == {"visual", "audio", "reframe"} and len(window["visual"]) == 40
        assert reader.window("not-a-title", 0, 10) == {}
    finally:
        reader.close()


def test_a_window_reads_its_own_pages_not_the_track(long_index):
    index, _, _ = long_index
    reader = IndexReader(index)
    try:
        drop_cache(index)
        before = read_bytes()
        window = reader.window("feature1", 3000, 3040)
        assert len(window["visual"]) == 40
        assert read_bytes() - before < WINDOW_READ_LIMIT
    finally:
        reader.close()
