"""Long titles: a copy deep inside a feature-length title is found at the right offset, reading
only windows of it; stored codes keep real tracks' similarities."""

import numpy as np
import pytest

from bench.catalogue_scale import COPY_CLIP, COPY_EDITS, COPY_SOURCE, PLANT_MINUTE, TrackModel, synthetic_title
from conftest import VIDEO
from fp.config import Config
from fp.data import probe
from fp.data.edits import Clip, pirate
from fp.index import codes
from fp.index.reader import IndexReader
from fp.index.store import IndexStore
from fp.matcher import Matcher

LONG_MINUTES = 60.0


@pytest.fixture(scope="module")
def long_index(tmp_path_factory, fingerprinter):
    """Two 60-minute titles of synthetic footage shaped like real clips' tracks; the first holds
    the real fingerprint of a clip from minute 40."""
    root = tmp_path_factory.mktemp("long")
    shape = [fingerprinter.fingerprint(VIDEO / name) for name in ("mejs_echo-hereweare.webm", "videollava_demo22_drums.mp4")]
    models = {m: TrackModel(np.concatenate([f.tracks[m].vectors[f.tracks[m].valid] for f in shape]))
              for m in ("visual", "audio")}
    planted = fingerprinter.fingerprint(VIDEO / COPY_SOURCE)
    rng = np.random.default_rng(0)
    with IndexStore.open_for_writing(root / "idx", Config()) as store:
        for i in range(2):
            title = synthetic_title(f"feature{i}", LONG_MINUTES * 60, models, Config(), rng, planted if i == 0 else None)
            store.put_title(f"feature{i}", title, f"h{i}", 0)
    copy = pirate(Clip(str(VIDEO / COPY_SOURCE), *COPY_CLIP), root / "copy.mp4", edits=COPY_EDITS)
    return root / "idx", copy, planted


def test_a_copy_from_minute_40_of_a_60_minute_title_is_found_at_its_offset(long_index, fingerprinter):
    index, copy, _ = long_index
    with Matcher(index, fingerprinter=fingerprinter) as matcher:
        report = matcher.match(copy)
    assert [m.title_id for m in report.matches] == ["feature0"]
    m = report.matches[0]
    assert m.query_start == pytest.approx(0.0, abs=1.0)
    assert m.ref_start == pytest.approx(PLANT_MINUTE * 60 + COPY_CLIP[0] + m.query_start, abs=1.0)


def test_windowed_reads_give_the_alignment_of_whole_track_reads(long_index, fingerprinter, monkeypatch):
    index, copy, _ = long_index
    with Matcher(index, fingerprinter=fingerprinter) as matcher:
        query = fingerprinter.query_fingerprint(probe(copy))
        windowed = matcher.match_fingerprint(query, min_score=0.0)
        reads = []
        whole_tracks = matcher.reader.store.tracks

        def whole(title_id, first, stop):
            reads.append(stop - first)
            return whole_tracks(title_id)

        monkeypatch.setattr(matcher.reader, "window", whole)
        assert matcher.match_fingerprint(query, min_score=0.0).matches == windowed.matches
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
        assert set(window) == {"visual", "audio"} and len(window["visual"]) == 40
        assert reader.window("not-a-title", 0, 10) == {}
    finally:
        reader.close()
