"""The configuration object: settings changed by name, parsed as their types."""

from __future__ import annotations

import pytest

from fp.config import Config


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
])
def test_a_setting_it_does_not_take_is_one_line(item, says):
    with pytest.raises(ValueError) as err:
        Config().with_settings([item])
    assert says in str(err.value) and "\n" not in str(err.value)
