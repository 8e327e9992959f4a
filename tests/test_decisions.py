"""Decisions between titles: a look-alike stretch inside a copy of another title is outshone,
near-duplicate titles are all kept."""

import pytest

from fp.matcher.align import AlignedSegment
from fp.matcher.matcher import _rival, outshone


def seg(q0: float, q1: float, score: float) -> AlignedSegment:
    return AlignedSegment(q0, q1, q0, q1, score, {"visual": score})


def test_look_alike_inside_a_stronger_copy_is_outshone():
    found = [("film", seg(0, 20, 0.90)), ("promo", seg(5, 8, 0.68))]
    rival = _rival("promo", found[1][1], found)
    assert rival == 0.90
    # 0.68 * (0.68 / 0.90) ** 4 = 0.2216
    assert outshone(0.68, rival, 0.05) == pytest.approx(0.2216, abs=1e-3)
    assert _rival("film", found[0][1], found) == 0.0  # the promo spans too little of the film's stretch


def test_near_duplicate_titles_keep_their_scores():
    found = [("cut", seg(0, 20, 0.90)), ("directors-cut", seg(0, 20, 0.87))]
    assert outshone(0.87, _rival("directors-cut", found[1][1], found), 0.05) == 0.87
    assert outshone(0.90, _rival("cut", found[0][1], found), 0.05) == 0.90


def test_a_title_elsewhere_in_the_suspect_is_no_rival():
    found = [("a", seg(0, 10, 0.95)), ("b", seg(12, 20, 0.60))]  # a compilation of two titles
    assert _rival("b", found[1][1], found) == 0.0
    assert outshone(0.60, 0.0, 0.05) == 0.60
