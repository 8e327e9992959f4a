"""`fp index --ray`: a Ray local-mode run gives the same index as a local run."""

import shutil
import subprocess
import sys

import duckdb
import numpy as np
import pytest

from conftest import DATA, VIDEO
from fp.config import Config
from fp.data.probe import probe
from fp.index import IndexStore, index_catalogue, index_catalogue_ray
from fp.index.distributed import read_shard, write_shard
from fp.matcher import Matcher

CLIPS = ["mdn_flower.mp4", "videollama_boat.mp4", "mdn_friday_hisgirlfriday.mp4"]


@pytest.fixture(scope="module")
def small_catalogue(tmp_path_factory):
    root = tmp_path_factory.mktemp("raycat")
    for name in CLIPS:
        shutil.copy(VIDEO / name, root / name)
    shutil.copy(DATA / "documentary.srt", root / "mdn_flower.srt")  # a text track travels too
    (root / "videollama_boat.json").write_text('{"title": "Boat", "owner": "Studio"}')
    return root


@pytest.fixture(scope="module")
def ray_local():
    ray = pytest.importorskip("ray")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    yield ray
    ray.shutdown()


def rows(index_dir):
    con = duckdb.connect(str(index_dir / "fp.duckdb"), read_only=True)
    try:
        return {
            "titles": con.execute("SELECT * EXCLUDE (added_at) FROM titles ORDER BY title_id").fetchall(),
            "shots": con.execute("SELECT * FROM shots ORDER BY shot_id").fetchall(),
            "tracks": con.execute("SELECT * FROM tracks ORDER BY title_no, modality").fetchall(),
        }
    finally:
        con.close()


def assert_same_index(a, b):
    ra, rb = rows(a), rows(b)
    assert ra["titles"] == rb["titles"]
    assert ra["shots"] == rb["shots"]
    assert ra["tracks"] == rb["tracks"]
    with IndexStore.open(a) as sa, IndexStore.open(b) as sb:
        for key, record in sa.track_records().items():  # worker threads may sum in another order
            ta, tb = sa.read_track(record), sb.read_track(sb.track_records()[key])
            assert np.array_equal(ta.valid, tb.valid)
            assert np.all(np.einsum("ij,ij->i", ta.vectors, tb.vectors)[ta.valid] > 0.999)
        for modality in ("visual", "audio", "text"):
            va, vb = sa.vectors(modality), sb.vectors(modality)
            assert (va is None) == (vb is None)
            if va is not None:
                assert np.array_equal(np.sort(va.ids()), np.sort(vb.ids()))


def test_shard_round_trip(fingerprinter, tmp_path):
    fingerprint = fingerprinter.fingerprint(VIDEO / "mdn_flower.mp4")
    write_shard(tmp_path / "s.npz", fingerprint)
    back = read_shard(tmp_path / "s.npz")
    assert back.info == fingerprint.info
    assert [(s.start, s.end, sorted(s.vectors)) for s in back.shots] == \
        [(s.start, s.end, sorted(s.vectors)) for s in fingerprint.shots]
    for a, b in zip(back.shots, fingerprint.shots):
        for m in a.vectors:
            assert np.array_equal(a.vectors[m], b.vectors[m])
    for m, track in fingerprint.tracks.items():
        assert np.array_equal(back.tracks[m].vectors, track.vectors)
        assert np.array_equal(back.tracks[m].valid, track.valid)
        assert (back.tracks[m].step, back.tracks[m].start) == (track.step, track.start)


def test_ray_index_equals_local_index(small_catalogue, tmp_path, fingerprinter, ray_local):
    local, distributed = tmp_path / "local", tmp_path / "ray"
    assert not index_catalogue(small_catalogue, local, Config(), fingerprinter=fingerprinter).failed
    summary = index_catalogue_ray(small_catalogue, distributed, Config())
    assert sorted(summary.added) == sorted(CLIPS) and not summary.failed
    assert not (distributed / "shards").exists() or not any((distributed / "shards").iterdir())
    assert_same_index(local, distributed)

    # same answers to a query
    with Matcher(local, fingerprinter=fingerprinter) as ml, Matcher(distributed, fingerprinter=fingerprinter) as mr:
        query = fingerprinter.query_fingerprint(probe(VIDEO / "mdn_friday_hisgirlfriday.mp4"), match=ml.config)
        a, b = ml.match_fingerprint(query).to_dict(), mr.match_fingerprint(query).to_dict()
    assert [m["title_id"] for m in a["matches"]] == [m["title_id"] for m in b["matches"]] == [CLIPS[2]]
    assert a["matches"][0]["score"] == pytest.approx(b["matches"][0]["score"], abs=1e-3)

    # incremental as a local run: nothing changed, nothing dispatched; a new title is added
    again = index_catalogue_ray(small_catalogue, distributed, Config())
    assert sorted(again.unchanged) == sorted(CLIPS) and not again.added
    shutil.copy(VIDEO / "videollava_demo3_toddler.mp4", small_catalogue / "new.mp4")
    (small_catalogue / "broken.mp4").write_bytes(b"not a video")
    try:
        more = index_catalogue_ray(small_catalogue, distributed, Config())
        index_catalogue(small_catalogue, local, Config(), fingerprinter=fingerprinter)
    finally:
        (small_catalogue / "new.mp4").unlink()
        (small_catalogue / "broken.mp4").unlink()
    assert more.added == ["new.mp4"] and [t for t, _ in more.failed] == ["broken.mp4"]
    assert_same_index(local, distributed)


def test_cli_without_ray_is_one_error_line(small_catalogue, tmp_path):
    code = ("import sys; sys.modules['ray'] = None; sys.argv = ['fp', 'index', sys.argv[1], "
            "'--index', sys.argv[2], '--ray']; from fp.cli.main import main; main()")
    proc = subprocess.run([sys.executable, "-c", code, str(small_catalogue), str(tmp_path / "idx")],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == ["error: fp index --ray needs Ray: pip install 'fp-match[ray]'"]
    assert not (tmp_path / "idx").exists()


def test_ray_address_needs_ray(small_catalogue, tmp_path):
    proc = subprocess.run([sys.executable, "-m", "fp", "index", str(small_catalogue), "--index",
                           str(tmp_path / "idx"), "--ray-address", "auto"], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 2 and proc.stderr.strip().splitlines() == ["error: --ray-address needs --ray"]
    assert not (tmp_path / "idx").exists()
