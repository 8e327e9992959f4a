"""A catalogue sharded by title, matched through Ray actors (fp.index.shards), answers as one
index holding every title: same neighbours, same matches; bad shard sets are one error line."""

import dataclasses
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from conftest import DATA, VIDEO
from fp.config import Config
from fp.data.catalogue import scan_catalogue
from fp.data.edits import Clip, pirate, splice
from fp.data.probe import probe
from fp.errors import FPError
from fp.index import IndexStore, index_catalogue
from fp.index.history import RunHistory
from fp.matcher import Matcher

ray = pytest.importorskip("ray")

from fp.index.shards import NAMESPACE, ShardedReader, actor_name, shard_of, split_catalogue  # noqa: E402

CLIPS = ["intel_car-detection.mp4", "moviepy_big_buck_bunny_0_30.webm", "psd_tv_documentary.mp4",
         "zwm_caminandes.mp4"]
SHARDS = [[c for c in CLIPS if shard_of(c, 2) == i] for i in range(2)]
"""The titles of each shard: caminandes (silent) in shard 0, the rest (the documentary with its
subtitles) in shard 1, so sound and subtitles are searchable in shard 1 only."""


@pytest.fixture(scope="module")
def ray_local():
    """A local Ray instance whose one node offers both shards' placement resources."""
    if ray.is_initialized():  # left by another module: this one needs its resources
        ray.shutdown()
    ray.init(num_cpus=2, resources={"fp_shard_0": 1, "fp_shard_1": 1}, include_dashboard=False,
             log_to_driver=False, configure_logging=False)
    yield ray
    ray.shutdown()


@pytest.fixture(scope="module")
def catalogue(tmp_path_factory):
    root = tmp_path_factory.mktemp("catalogue")
    for name in CLIPS:
        shutil.copy(VIDEO / name, root / name)
    shutil.copy(DATA / "documentary.srt", root / "psd_tv_documentary.srt")
    return root


class OncePerFile:
    """A fingerprinter that fingerprints each file once: a shard's titles are links to the
    catalogue's files, which the unsharded index has fingerprinted already."""

    def __init__(self, fingerprinter):
        self.inner, self.done = fingerprinter, {}

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def fingerprint(self, info, **options):
        key = Path(info.path).resolve()
        if key not in self.done:
            self.done[key] = self.inner.fingerprint(info, **options)
        return dataclasses.replace(self.done[key], info=info)


@pytest.fixture(scope="module")
def indexes(tmp_path_factory, catalogue, fingerprinter):
    """`fp index` over the whole catalogue, and over each shard of it as an operator makes them."""
    root = tmp_path_factory.mktemp("sharded")
    unsharded, shards = root / "index", [root / f"shard-{i}" for i in range(len(SHARDS))]
    parts = split_catalogue(catalogue, len(SHARDS), root / "split")
    once = OncePerFile(fingerprinter)
    for folder, index in [(catalogue, unsharded), *zip(parts, shards)]:
        assert not index_catalogue(folder, index, fingerprinter.config, fingerprinter=once).failed
    assert len(once.done) == len(CLIPS)
    return unsharded, shards


def test_split_catalogue_links_each_title_once_under_its_own_id(catalogue, tmp_path):
    assert SHARDS == [["zwm_caminandes.mp4"], CLIPS[:3]]  # a stable hash: the same split everywhere
    parts = split_catalogue(catalogue, 2, tmp_path)
    assert parts == [tmp_path / "shard-0", tmp_path / "shard-1"]
    assert [[e.title_id for e in scan_catalogue(p)] for p in parts] == SHARDS
    assert (parts[1] / "psd_tv_documentary.srt").resolve() == (catalogue / "psd_tv_documentary.srt").resolve()
    (parts[1] / "old.mp4").symlink_to(tmp_path / "gone.mp4")  # a title since removed
    assert split_catalogue(catalogue, 2, tmp_path) == parts
    assert [[e.title_id for e in scan_catalogue(p)] for p in parts] == SHARDS
    with pytest.raises(FPError, match="cannot split a catalogue into 0 shards"):
        split_catalogue(catalogue, 0, tmp_path)


@pytest.fixture(scope="module")
def matchers(indexes, fingerprinter, ray_local):
    unsharded, shards = indexes
    with Matcher(unsharded, fingerprinter=fingerprinter) as one, \
            Matcher(reader=ShardedReader(shards), fingerprinter=fingerprinter) as sharded:
        yield one, sharded


@pytest.fixture(scope="module")
def suspects(tmp_path_factory, fingerprinter):
    """Fingerprinted once, matched by both matchers: a copy from shard 1, a compilation of
    titles of both shards, and footage outside the catalogue."""
    root = tmp_path_factory.mktemp("suspects")
    copy = pirate(Clip(str(VIDEO / "psd_tv_documentary.mp4"), 5.0, 12.0), root / "copy.mp4",
                  edits=["crop10"], height=360, crf=35)
    both = splice([Clip(str(VIDEO / "intel_car-detection.mp4"), 14.0, 8.0),
                   Clip(str(VIDEO / "zwm_caminandes.mp4"), 1.0, 7.0),
                   Clip(str(VIDEO / "moviepy_big_buck_bunny_0_30.webm"), 10.0, 8.0)],
                  root / "both.mp4", audio=True)
    return {path.stem: fingerprinter.query_fingerprint(probe(path))
            for path in (copy, both, VIDEO / "mdn_flower.mp4")}


def test_sharded_reader_is_the_union_of_its_shards(matchers):
    one, sharded = matchers
    reader = sharded.reader
    assert [t.title_id for t in reader.titles] == [t.title_id for t in one.reader.titles] \
        == sorted(sum(SHARDS, []))
    assert [dataclasses.replace(t, added_at=None, path="", mtime_ns=0) for t in reader.titles] == \
        [dataclasses.replace(t, added_at=None, path="", mtime_ns=0) for t in one.reader.titles]
    assert reader.modalities == one.reader.modalities == ["visual", "audio", "text", "reframe"]
    # caminandes is silent: sound and subtitles are searched in shard 1 alone
    assert [s.modalities for s in reader.shards] == [["visual", "reframe"], ["visual", "audio", "text", "reframe"]]
    assert reader.hours == pytest.approx(one.reader.hours)
    assert reader.config == one.reader.config
    assert str(reader.root) == reader.shards[0].folder and Config.from_json(reader.meta()["config"]) == reader.config


def test_merged_neighbours_equal_unsharded_neighbours(matchers, suspects):
    one, sharded = matchers
    k = one.votes.knn
    for query in suspects.values():
        vectors = {"visual": [s.vectors["visual"] for v in query.variants for s in v.shots if "visual" in s.vectors]}
        for m in ("audio", "text"):
            vectors[m] = [s.vectors[m] for s in query.shots if m in s.vectors]
        for modality, rows in vectors.items():
            if not rows:
                continue
            q = np.stack(rows)
            a, b = one.reader.neighbours(modality, q, k), sharded.reader.neighbours(modality, q, k)
            assert a.sims.shape == b.sims.shape
            np.testing.assert_allclose(b.sims, a.sims, atol=1e-6)
            assert np.array_equal(a.titles, b.titles)
            assert np.array_equal(a.starts, b.starts) and np.array_equal(a.ends, b.ends)


def test_sharded_matches_equal_unsharded_matches(matchers, suspects):
    one, sharded = matchers
    found = {}
    for name, query in suspects.items():
        a = one.match_fingerprint(query, min_score=0.0)  # candidates too: every segment compared
        b = sharded.match_fingerprint(query, min_score=0.0)
        assert len(a.matches) == len(b.matches), name
        for x, y in zip(a.matches, b.matches):
            assert (x.title_id, x.decision) == (y.title_id, y.decision)
            for field in ("query_start", "query_end", "ref_start", "ref_end", "score"):
                assert getattr(y, field) == pytest.approx(getattr(x, field), abs=1e-6), (name, field)
            assert x.modalities.keys() == y.modalities.keys()
            for m, score in x.modalities.items():
                assert (score is None) == (y.modalities[m] is None)
                if score is not None:
                    assert y.modalities[m] == pytest.approx(score, abs=1e-6)
        found[name] = {m.title_id for m in b.matches if m.decision == "match"}
    assert found["copy"] == {"psd_tv_documentary.mp4"}
    assert found["both"] == set(CLIPS) - {"psd_tv_documentary.mp4"}  # both shards answer one suspect
    assert found["mdn_flower"] == set()


def one_line(exc_info) -> str:
    text = str(exc_info.value)
    assert "\n" not in text, text
    return text


def test_a_title_in_two_shards_is_one_error_line(indexes, ray_local, tmp_path):
    _, shards = indexes
    twin = tmp_path / "twin"
    shutil.copytree(shards[0], twin)
    with pytest.raises(FPError) as caught:
        ShardedReader([shards[0], twin])
    assert one_line(caught).startswith(f"title 'zwm_caminandes.mp4' is in two shards, {shards[0]} and {twin}")


def test_shards_of_another_configuration_are_one_error_line(indexes, fingerprinter, ray_local, tmp_path):
    _, shards = indexes
    other = tmp_path / "other"
    IndexStore.open_for_writing(other, dataclasses.replace(fingerprinter.config, frame_rate=1.0)).close()
    with pytest.raises(FPError) as caught:
        ShardedReader([shards[0], other])
    line = one_line(caught)
    assert line.startswith(f"shard {other} uses another fingerprint configuration") and "frame_rate=1.0" in line


def test_a_missing_shard_is_one_error_line(ray_local, tmp_path):
    with pytest.raises(FPError) as caught:
        ShardedReader([tmp_path / "nowhere"])
    assert "no fp index here" in one_line(caught) and one_line(caught).startswith("shard 0 on ")
    with pytest.raises(FPError, match="shard given twice"):
        ShardedReader([tmp_path, tmp_path])


def test_kept_shards_serve_the_next_driver_and_follow_changes(indexes, ray_local, tmp_path):
    _, shards = indexes
    copies = [tmp_path / f"kept-{i}" for i in range(len(shards))]
    for shard, copy in zip(shards, copies):
        shutil.copytree(shard, copy)
    first = ShardedReader(copies, keep=True)
    pids = [ray.get(s.actor.describe.remote())["pid"] for s in first.shards]
    first.close()  # the actors stay
    with IndexStore.open(copies[1]) as store:
        config = store.config
    with IndexStore.open_for_writing(copies[1], config) as store:
        store.remove_title(SHARDS[1][0])
    again = ShardedReader(copies, keep=True)
    try:
        assert [ray.get(s.actor.describe.remote())["pid"] for s in again.shards] == pids
        assert [t.title_id for t in again.titles] == sorted(SHARDS[0] + SHARDS[1][1:])
        ray.kill(again.shards[1].actor)  # a shard lost mid-query: one line naming it
        query = np.ones((3, again.config.visual_dim), np.float32) / np.sqrt(again.config.visual_dim)
        with pytest.raises(FPError) as caught:
            again.neighbours("visual", query, 5)
        assert one_line(caught).startswith(f"shard 1 ({copies[1]}): searching failed on Ray (")
        with pytest.raises(FPError) as caught:
            again.window(SHARDS[1][1], 0, 10)
        assert one_line(caught).startswith(f"shard 1 ({copies[1]}): reading {SHARDS[1][1]} failed on Ray (")
    finally:
        again.close(stop=True)
    for position, copy in enumerate(copies):
        with pytest.raises(ValueError):
            ray.get_actor(actor_name(position, str(copy)), namespace=NAMESPACE)


def test_cli_matches_through_shards_and_records_the_run_in_the_first(indexes, ray_local, tmp_path):
    from typer.testing import CliRunner

    from fp.cli.main import app

    _, shards = indexes
    copy = pirate(Clip(str(VIDEO / "zwm_caminandes.mp4"), 1.0, 8.0), tmp_path / "copy.mp4", edits=["crop10"])
    runs = len(RunHistory(shards[0]).runs(100))
    result = CliRunner().invoke(app, ["match", str(copy), "--shard", str(shards[0]), "--shard", str(shards[1]),
                                      "--format", "json"])
    assert result.exit_code == 0, result.output
    answer = json.loads(result.stdout.strip().splitlines()[-1])
    assert [m["title_id"] for m in answer["matches"]] == ["zwm_caminandes.mp4"]
    assert len(RunHistory(shards[0]).runs(100)) == runs + 1

    result = CliRunner().invoke(app, ["match", str(copy), "--ray-address", "auto"])
    assert result.exit_code == 2 and result.stderr.strip() == "error: --ray-address needs --shard"
