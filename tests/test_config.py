"""The configuration object: settings changed by name, parsed as their types."""

from __future__ import annotations

import dataclasses
import json
import math
import re
import shutil

import pytest

from fp.config import Config
from fp.errors import ConfigError, ConfigMismatchError


def test_match_settings_are_set_by_name_and_parsed_as_their_types():
    cfg = Config().with_settings(["query_mirrored=false", "query_phases=2", "match_threshold=0.6"])
    assert (cfg.query_mirrored, cfg.query_phases, cfg.match_threshold) == (False, 2, 0.6)
    assert Config().with_settings([]) == Config()


@pytest.mark.parametrize("item, says", [
    ("frame_rate=1", "a match setting"),  # changes what a vector means: not free per query
    ("nonsense=1", "a match setting"),
    ("query_phases", "NAME=VALUE"),
    ("query_mirrored=yes", "takes a bool"),
    ("query_phases=two", "takes an int"),
    ("query_window_detail=0", "takes values from 1 to 16"),
    ("match_threshold=nan", "takes values from 0 to 2"),
])
def test_a_setting_it_does_not_take_is_one_line(item, says):
    with pytest.raises(ConfigError) as err:
        Config().with_settings([item])
    assert says in str(err.value) and "\n" not in str(err.value)


@pytest.mark.parametrize("change, says", [
    ({"frame_size": 8}, "frame_size=8: takes values from 32 to 1024"),
    ({"probe_fraction": 0.0}, "probe_fraction=0.0: takes values from 0.001 to 1"),
    ({"knn": 2.5}, "knn=2.5: takes an int"),
    ({"query_mirrored": 1}, "query_mirrored=1: takes a bool"),
    ({"min_shot_seconds": 8.0}, "min_shot_seconds=8 is above max_shot_seconds=6"),
])
def test_every_setting_is_checked_when_a_configuration_is_made(change, says):
    """A library caller's (or a stored index's) settings meet the same bounds as the command line's."""
    with pytest.raises(ConfigError, match="^" + re.escape(says) + "$"):
        dataclasses.replace(Config(), **change)


def test_every_number_has_bounds_that_hold_its_default():
    for f in dataclasses.fields(Config):
        if type(f.default) in (int, float):
            low, high = f.metadata["bounds"]
            assert low <= f.default <= high and not math.isnan(low + high), f.name


def test_an_index_recorded_before_a_fingerprint_setting_existed_reads_as_built():
    """Indexes recorded before `reframe_track` have no centre-square tracks, before
    `bars_judged_inside` bars judged across the whole frame alone: they read as built so, queries
    made for them are fingerprinted so, and an update fingerprinted otherwise is refused."""
    recorded = json.loads(Config().to_json())
    del recorded["reframe_track"], recorded["bars_judged_inside"]
    old = Config.from_json(json.dumps(recorded))
    assert old.reframe_track is False and old.bars_judged_inside is False
    assert Config.from_json(Config().to_json()) == Config()
    assert old.for_matching([]).bars_judged_inside is False
    with pytest.raises(ConfigMismatchError, match="bars_judged_inside=True.*reframe_track=True"):
        old.check_compatible(Config())


def test_an_index_built_without_the_reframe_track_takes_new_titles_as_it_was_built(tmp_path):
    """`fp index` (no configuration given) goes on fingerprinting an index the way it records;
    given today's defaults, it refuses them in one line."""
    from conftest import VIDEO
    from fp.index import IndexStore, index_catalogue

    catalogue, index = tmp_path / "catalogue", tmp_path / "index"
    catalogue.mkdir()
    shutil.copy(VIDEO / "zwm_sintel.mp4", catalogue)
    assert not index_catalogue(catalogue, index, dataclasses.replace(Config(), reframe_track=False)).failed
    shutil.copy(VIDEO / "zwm_caminandes.mp4", catalogue)
    with pytest.raises(ConfigMismatchError, match="reframe_track=True"):
        index_catalogue(catalogue, index, Config())
    summary = index_catalogue(catalogue, index)
    assert summary.added == ["zwm_caminandes.mp4"] and not summary.failed
    with IndexStore.open(index) as store:
        assert store.config.reframe_track is False
        assert {m for (_, m) in store.track_records()} == {"visual"}
