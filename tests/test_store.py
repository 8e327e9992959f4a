import dataclasses
import fcntl

import numpy as np
import pytest

from fp.config import Config
from fp.data.probe import MediaInfo
from fp.errors import ConfigMismatchError, IndexStoreError
from fp.fingerprint.types import FeatureTrack, Shot, VideoFingerprint
from fp.index.codes import CODE_COSINE_TOLERANCE
from fp.index.store import DB_NAME, LOCK_NAME, TRACKS_DIR, IndexStore


def fake_fingerprint(seed: int, shots: int = 3, dim: int = 8) -> VideoFingerprint:
    rng = np.random.default_rng(seed)
    vecs = rng.normal(size=(shots * 4, dim)).astype(np.float32)
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    info = MediaInfo(f"/x/{seed}.mp4", 100, shots * 2.0, shots * 2.0, "mp4", 0, 64, 48, 25.0, 0,
                     "1:1", "h264", False, None, None, ())
    track = FeatureTrack("visual", 0.5, vecs, np.ones(len(vecs), bool))
    return VideoFingerprint(info, {"visual": track},
                            [Shot(2.0 * i, 2.0 * i + 2, {"visual": vecs[4 * i]}) for i in range(shots)])


def test_titles_are_added_replaced_removed_and_vectors_follow(tmp_path):
    with IndexStore.open_for_writing(tmp_path, Config()) as store:
        store.put_title("a", fake_fingerprint(1), "h1", 1)
        store.put_title("b", fake_fingerprint(2, shots=2), "h2", 1)
        store.put_title("a", fake_fingerprint(3, shots=4), "h3", 2)  # replaced
    with IndexStore.open(tmp_path) as store:
        assert [t.title_id for t in store.titles()] == ["a", "b"]
        assert store.title("a").content_hash == "h3"
        vectors, table = store.vectors("visual"), store.shot_table()
        assert len(vectors) == 6 and sorted(vectors.ids()) == sorted(table.shot_ids)
        track = store.track("a", "visual")
        original = fake_fingerprint(3, shots=4).tracks["visual"].vectors
        assert np.all(np.einsum("ij,ij->i", track.vectors, original) > 1 - CODE_COSINE_TOLERANCE)
        sims, ids = vectors.search(fake_fingerprint(2, shots=2).tracks["visual"].vectors[4:8].mean(0)[None], 1)
        assert table.title_ids[table.title_index[table.rows(ids[0])][0]] == "b"
    with IndexStore.open_for_writing(tmp_path, Config()) as store:
        store.remove_title("a")
    with IndexStore.open(tmp_path) as store:
        assert len(store.vectors("visual")) == 2 and store.counts()["titles"] == 1


def test_stale_or_damaged_faiss_file_is_rebuilt_from_the_tracks(tmp_path):
    with IndexStore.open_for_writing(tmp_path, Config()) as store:
        store.put_title("a", fake_fingerprint(1), "h1", 1)
    (tmp_path / "vectors-visual.faiss").write_bytes(b"garbage")
    with IndexStore.open(tmp_path) as store:
        assert len(store.vectors("visual")) == 3


def test_readers_trust_k_nn_files_saved_at_the_current_generation_and_check_others(tmp_path, monkeypatch):
    with IndexStore.open_for_writing(tmp_path, Config()) as store:
        store.put_title("a", fake_fingerprint(1), "h1", 1)
    calls = []
    shot_ids = IndexStore._shot_ids
    monkeypatch.setattr(IndexStore, "_shot_ids", staticmethod(lambda con, m: calls.append(m) or shot_ids(con, m)))
    with IndexStore.open(tmp_path) as store:
        assert len(store.vectors("visual")) == 3 and calls == []  # saved at this generation: no id check
    writer = IndexStore.open_for_writing(tmp_path, Config())
    writer.put_title("b", fake_fingerprint(2, shots=2), "h2", 1)  # committed; files not saved (a crash)
    writer._lock.close()
    with IndexStore.open(tmp_path) as store:
        assert len(store.vectors("visual")) == 5 and calls == ["visual"]  # checked and completed


def test_another_fingerprint_configuration_is_refused(tmp_path):
    with IndexStore.open_for_writing(tmp_path, Config()):
        pass
    other = dataclasses.replace(Config(), frame_rate=1.0)
    with pytest.raises(ConfigMismatchError, match="frame_rate=1.0"):
        IndexStore.open_for_writing(tmp_path, other)
    # thresholds are query-time settings and may differ
    with IndexStore.open_for_writing(tmp_path, dataclasses.replace(Config(), match_threshold=0.9)):
        pass


def test_a_recorded_configuration_out_of_bounds_is_one_line_naming_the_index(tmp_path):
    import duckdb

    with IndexStore.open_for_writing(tmp_path, Config()):
        pass
    con = duckdb.connect(str(tmp_path / DB_NAME))
    con.execute("UPDATE meta SET value = ? WHERE key = 'config'", [Config().to_json().replace(
        '"frame_size": 224', '"frame_size": 8')])
    con.close()
    with pytest.raises(IndexStoreError, match=r"out of this fp's bounds \(frame_size=8: takes values from 32"):
        IndexStore.open(tmp_path)


def test_a_second_writer_is_refused(tmp_path):
    with IndexStore.open_for_writing(tmp_path, Config()):
        pass
    with open(tmp_path / LOCK_NAME, "a") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        with pytest.raises(IndexStoreError, match="another fp process is writing"):
            IndexStore.open_for_writing(tmp_path, Config())


def test_missing_index_is_a_clear_error(tmp_path):
    with pytest.raises(IndexStoreError, match="no fp index here"):
        IndexStore.open(tmp_path / "nothing")


def test_track_files_no_commit_references_are_removed_and_replaced_ones_go(tmp_path):
    with IndexStore.open_for_writing(tmp_path, Config()) as store:
        store.put_title("a", fake_fingerprint(1), "h1", 1)
        first = sorted(p.name for p in (tmp_path / TRACKS_DIR).iterdir())
        store.put_title("a", fake_fingerprint(2), "h2", 2)  # replaced: new files, the old ones gone
        second = sorted(p.name for p in (tmp_path / TRACKS_DIR).iterdir())
    assert len(first) == len(second) == 1 and first != second
    (tmp_path / TRACKS_DIR / "99-visual.npy").write_bytes(b"left by a run killed before its commit")
    with IndexStore.open_for_writing(tmp_path, Config()):
        pass
    assert sorted(p.name for p in (tmp_path / TRACKS_DIR).iterdir()) == second


def test_windows_are_the_whole_track_sliced(tmp_path):
    with IndexStore.open_for_writing(tmp_path, Config()) as store:
        store.put_title("a", fake_fingerprint(1, shots=6), "h1", 1)
    with IndexStore.open(tmp_path) as store:
        record = store.track_records()["a", "visual"]
        whole = store.read_track(record)
        for first, stop in ((0, 5), (7, 24), (20, 99), (-3, 2)):
            part = store.read_track(record, first, stop)
            lo = max(first, 0)
            assert part.start == lo * record.step
            assert np.array_equal(part.vectors, whole.vectors[lo:stop])
            assert np.array_equal(part.valid, whole.valid[lo:stop])


def test_an_index_of_the_previous_format_is_refused_with_one_line(tmp_path):
    import duckdb

    con = duckdb.connect(str(tmp_path / DB_NAME))
    con.execute("CREATE TABLE meta (key VARCHAR PRIMARY KEY, value VARCHAR)")
    con.executemany("INSERT INTO meta VALUES (?, ?)", [("config", Config().to_json()), ("schema_version", "1")])
    con.close()
    for opening in (lambda: IndexStore.open(tmp_path), lambda: IndexStore.open_for_writing(tmp_path, Config())):
        with pytest.raises(IndexStoreError, match=r"older fp \(index format 1.*re-index") as caught:
            opening()
        assert "\n" not in str(caught.value)
