"""Decisions between titles: a look-alike stretch inside a copy of another title is outshone,
near-duplicate titles are all kept; each segment is judged by its length's threshold."""

import dataclasses

import pytest

from fp.matcher.align import AlignedSegment
from fp.config import Config
from fp.matcher.decisions import DecisionParams, chain, decide, dedupe, outshone, rival


def seg(q0: float, q1: float, score: float) -> AlignedSegment:
    return AlignedSegment(q0, q1, q0, q1, score, {"visual": score})


def test_look_alike_inside_a_stronger_copy_is_outshone():
    found = [("film", seg(0, 20, 0.90)), ("promo", seg(5, 8, 0.68))]
    best = rival("promo", found[1][1], found, 0.5)
    assert best == 0.90
    # 0.68 * (0.68 / 0.90) ** 4 = 0.2216
    assert outshone(0.68, best, 0.05, 4.0) == pytest.approx(0.2216, abs=1e-3)
    assert rival("film", found[0][1], found, 0.5) == 0.0  # the promo spans too little of the film's stretch


def test_near_duplicate_titles_keep_their_scores():
    found = [("cut", seg(0, 20, 0.90)), ("directors-cut", seg(0, 20, 0.87))]
    assert outshone(0.87, rival("directors-cut", found[1][1], found, 0.5), 0.05, 4.0) == 0.87
    assert outshone(0.90, rival("cut", found[0][1], found, 0.5), 0.05, 4.0) == 0.90


def test_a_title_elsewhere_in_the_suspect_is_no_rival():
    found = [("a", seg(0, 10, 0.95)), ("b", seg(12, 20, 0.60))]  # a compilation of two titles
    assert rival("b", found[1][1], found, 0.5) == 0.0
    assert outshone(0.60, 0.0, 0.05, 4.0) == 0.60


PARAMS = DecisionParams.from_config(Config())


def piece(q0: float, q1: float, r0: float, score: float = 0.8) -> AlignedSegment:
    return AlignedSegment(q0, q1, r0, r0 + (q1 - q0), score, {"visual": score})


def test_dedupe_keeps_the_best_alignment_of_a_title_per_stretch():
    kept = dedupe([("a", piece(0, 10, 5, 0.9)), ("a", piece(1, 9, 40, 0.6)), ("b", piece(1, 9, 0, 0.6))],
                  PARAMS.dedupe_overlap)
    assert [(t, s.ref_start) for t, s in kept] == [("a", 5), ("b", 0)]


def test_dedupe_leaves_out_the_stretch_another_title_explains_better():
    """A compilation: a periodic title aligned one period off reaches 2.25 s into the previous
    part, which another title explains better (0.768). With that stretch its score x duration
    outweighs the true alignment's (9.48 against 9.45); without it, it does not (7.78)."""
    true, off = piece(17.25, 27.56, 28.5, 0.917), piece(15.0, 27.56, 22.0, 0.755)
    previous = ("car", piece(9.25, 17.25, 10.0, 0.768))
    [(_, alone)] = dedupe([("bottle", off), ("bottle", true)], PARAMS.dedupe_overlap)
    assert alone.ref_start == 22.0
    kept = dedupe([("bottle", off), ("bottle", true), previous], PARAMS.dedupe_overlap)
    assert [(t, s.ref_start) for t, s in kept] == [("bottle", 28.5), ("car", 10.0)]
    weaker = ("car", piece(9.25, 17.25, 10.0, 0.70))  # a worse rival explains nothing
    assert dedupe([("bottle", off), ("bottle", true), weaker], PARAMS.dedupe_overlap)[0][1].ref_start == 22.0


def test_chain_joins_drifting_pieces_of_one_copy_only():
    pal = [("a", piece(0, 10, 0)), ("a", piece(10.5, 20, 10.9))]  # the reference runs 4 % ahead
    [(_, joined)] = chain(pal, PARAMS)
    assert (joined.query_start, joined.query_end, joined.ref_start, joined.ref_end) == (0, 20, 0, 20.4)
    too_fast = [("a", piece(0, 10, 0)), ("a", piece(10.5, 20, 13.0))]  # 25 % ahead: two copies
    far = [("a", piece(0, 10, 0)), ("a", piece(10 + PARAMS.gap_seconds + 0.5, 20, 12.5))]
    backwards = [("a", piece(0, 10, 30)), ("a", piece(10.5, 20, 0))]
    for pieces in (too_fast, far, backwards):
        assert len(chain(pieces, PARAMS)) == 2


def test_decide_shared_content_and_short_segments_are_candidates():
    logo = [(f"t{k}", piece(0, 8, 0, 0.95)) for k in range(PARAMS.shared_content_titles)]
    assert {m.decision for m in decide(logo, PARAMS)} == {"candidate"}
    short = decide([("a", piece(0, PARAMS.min_match_seconds - 0.5, 0, 0.95))], PARAMS)
    weak = decide([("a", piece(0, 20, 0, PARAMS.match_threshold - 0.01))], PARAMS)
    strong = decide([("a", piece(0, 20, 3, PARAMS.match_threshold))], PARAMS)
    assert [m.decision for m in short + weak + strong] == ["candidate", "candidate", "match"]
    assert (strong[0].ref_start, strong[0].ref_end) == (3, 23)
    assert {m.threshold for m in short + weak + strong} == {PARAMS.match_threshold}  # no length classes here


def test_a_short_segment_above_the_match_threshold_but_below_its_lengths_is_a_candidate():
    params = dataclasses.replace(PARAMS, length_thresholds=((4.0, 0.69), (10.0, 0.62), (15.0, PARAMS.match_threshold)))
    score = 0.65  # above `match_threshold` (0.55) and the 10 s class's 0.62, below the 4 s class's 0.69
    [short] = decide([("a", piece(0, 6, 0, score))], params)
    [longer] = decide([("a", piece(0, 12, 0, score))], params)
    assert (short.decision, short.threshold) == ("candidate", 0.69)
    assert (longer.decision, longer.threshold) == ("match", 0.62)
    assert short.to_dict()["threshold"] == 0.69 and short.to_dict()["decision"] == "candidate"


def _dedupe_pairwise(segments, overlap):
    """dedupe as first written: every segment weighed against every other."""
    from fp.matcher.decisions import _evidence, _overlap

    evidence = {id(s): _evidence(t, s, segments) for t, s in segments}
    kept = []
    for t, s in sorted(segments, key=lambda item: (-evidence[id(item[1])], item[1].query_start)):
        if not any(u == t and _overlap(s, k) > overlap for u, k in kept):
            kept.append((t, s))
    return kept


def test_decisions_over_overlapping_stretches_only_equal_the_pairwise_ones():
    import random

    from fp.matcher.decisions import judge

    rng = random.Random(7)
    params = dataclasses.replace(PARAMS, length_thresholds=((4.0, 0.6), (10.0, 0.55)))
    for trial in range(20):
        found = []
        for _ in range(rng.randint(1, 150)):
            q0 = round(rng.uniform(0, 300), 1)
            q1 = q0 + round(rng.choice([0.0, rng.uniform(0.5, 8), rng.uniform(4, 90)]), 1)
            r0 = round(rng.uniform(0, 300), 1)
            found.append((f"t{rng.randrange(6)}", AlignedSegment(q0, q1, r0, r0 + q1 - q0, round(rng.uniform(0.3, 0.95), 2),
                                                                   {"visual": 0.5})))
        kept = dedupe(found, PARAMS.dedupe_overlap)
        assert kept == _dedupe_pairwise(found, PARAMS.dedupe_overlap), trial
        chained = chain(kept, params)
        assert decide(found, params) == [judge(t, s, chained, params) for t, s in chained], trial
