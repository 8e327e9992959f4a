"""bench.metrics and the frame benchmark's resamples on hand-made cases; expected values worked
out in the comments and docstrings."""

import math
from dataclasses import astuple

import numpy as np
import pytest

from bench.frames import TitleCounts, score_sims
from bench.frames_folds import pooled
from bench.metrics import (Prediction, Segment, decision_prf, false_positive_queries, micro_ap, segment_ap,
                           start_errors)
from bench.projection import average_precision


def seg(q, r, qs, qe, rs, re):
    return Segment(q, r, qs, qe, rs, re)


def pred(q, r, qs, qe, rs, re, score, decision=True):
    return Prediction(q, r, qs, qe, rs, re, score=score, decision=decision)


TRUTH = [seg("q1", "r1", 0, 10, 20, 30), seg("q2", "r2", 5, 15, 0, 10)]


def test_perfect_predictions_score_one():
    preds = [pred(*astuple(t), score=s) for t, s in zip(TRUTH, (0.9, 0.8))]
    assert micro_ap(preds, TRUTH) == pytest.approx(1.0)
    assert segment_ap(preds, TRUTH) == pytest.approx(1.0)
    assert decision_prf(preds, TRUTH) == pytest.approx((1.0, 1.0, 1.0))
    assert start_errors(preds, TRUTH) == pytest.approx([0.0, 0.0])


def test_false_pair_ranked_above_true_ones():
    preds = [pred("q1", "rX", 0, 10, 20, 30, 0.9),  # wrong reference, ranked first
             pred(*astuple(TRUTH[0]), score=0.8), pred(*astuple(TRUTH[1]), score=0.7)]
    # micro-AP: rank 1 wrong; rank 2 right, P = 1/2, ΔR = 1/2; rank 3 right, P = 2/3, ΔR = 1/2
    # -> 1/4 + 1/3 = 7/12
    assert micro_ap(preds, TRUTH) == pytest.approx(7 / 12)
    # segment AP, 10 s boxes: after the wrong one P = 0, R = 0; after the 2nd: intersection 10 s of
    # 20 s predicted, 20 s of truth -> P = 1/2, R = 1/2 (both axes alike); after the 3rd: 20/30, 20/20
    # -> 1/2 · 1/2 + 2/3 · 1/2 = 7/12
    assert segment_ap(preds, TRUTH) == pytest.approx(7 / 12)
    # at the decision: P = 20/30, R = 1, F1 = 2·(2/3)/(5/3) = 0.8
    assert decision_prf(preds, TRUTH) == pytest.approx((2 / 3, 1.0, 0.8))


def test_half_overlapping_box():
    truth = [seg("q1", "r1", 0, 10, 100, 110)]
    preds = [pred("q1", "r1", 5, 15, 105, 115, 1.0)]
    # 5 s of 10 s on each axis: Pq = Rq = Pr = Rr = 1/2 -> P = R = 1/2, AP = 1/2 · 1/2
    assert segment_ap(preds, truth) == pytest.approx(0.25)
    assert decision_prf(preds, truth) == pytest.approx((0.5, 0.5, 0.5))
    assert micro_ap(preds, truth) == pytest.approx(1.0)  # the pair itself is right
    assert start_errors(preds, truth) == pytest.approx([5.0])  # 105 vs 100


def test_missed_pair_costs_recall():
    preds = [pred(*astuple(TRUTH[0]), score=0.9)]
    # one of two truth pairs found, first rank: P = 1, R = 1/2
    assert micro_ap(preds, TRUTH) == pytest.approx(0.5)
    assert segment_ap(preds, TRUTH) == pytest.approx(0.5)
    # F1 = 2 · 1 · 1/2 / (3/2) = 2/3
    assert decision_prf(preds, TRUTH) == pytest.approx((1.0, 0.5, 2 / 3))
    assert start_errors(preds, TRUTH) == pytest.approx([0.0])  # the missed one is skipped


def test_both_axes_misaligned():
    truth = [seg("q1", "r1", 0, 10, 0, 10)]
    # shifted by 2 s on the query axis and 4 s on the reference axis:
    # Pq = Rq = 8/10, Pr = Rr = 6/10 -> P = R = sqrt(0.48), AP = P · R = 0.48
    preds = [pred("q1", "r1", 2, 12, 4, 14, 1.0)]
    assert segment_ap(preds, truth) == pytest.approx(0.48)
    p, r, f1 = decision_prf(preds, truth)
    assert (p, r, f1) == pytest.approx((math.sqrt(0.48),) * 3)
    assert start_errors(preds, truth) == pytest.approx([4.0])
    # right query range, wrong place in the reference: the boxes do not overlap, so nothing counts
    # (VSC22 ignores truth boxes no prediction box overlaps), though the start error is measured
    wrong_place = [pred("q1", "r1", 0, 10, 50, 60, 1.0)]
    assert segment_ap(wrong_place, truth) == 0.0
    assert decision_prf(wrong_place, truth) == (0.0, 0.0, 0.0)
    assert start_errors(wrong_place, truth) == pytest.approx([50.0])


def test_tied_scores_form_one_threshold():
    truth = [seg("q1", "r1", 0, 10, 0, 10)]
    preds = [pred("q1", "rX", 0, 10, 0, 10, 0.5), pred("q1", "r1", 0, 10, 0, 10, 0.5)]
    # one threshold holding one right and one wrong pair: P = 1/2, ΔR = 1, whatever the order
    assert micro_ap(preds, truth) == pytest.approx(0.5)
    assert micro_ap(preds[::-1], truth) == pytest.approx(0.5)
    # segment AP likewise: 10 s right of 20 s predicted -> P = 1/2, R = 1
    assert segment_ap(preds, truth) == pytest.approx(0.5)


def test_duplicates_count_once_and_pair_score_is_the_maximum():
    truth = [seg("q1", "r1", 0, 10, 0, 10)]
    preds = [pred("q1", "r1", 0, 10, 0, 10, 0.9), pred("q1", "r1", 0, 10, 0, 10, 0.8),
             pred("q2", "rX", 0, 10, 0, 10, 0.85)]
    # pair (q1, r1) scores 0.9 and ranks first -> micro-AP 1
    assert micro_ap(preds, truth) == pytest.approx(1.0)
    # the duplicate adds no predicted length; the wrong pair comes after full recall -> AP 1
    assert segment_ap(preds, truth) == pytest.approx(1.0)
    # at the decision the wrong pair costs precision: 10 of 20 s -> P = 1/2, R = 1, F1 = 2/3
    assert decision_prf(preds, truth) == pytest.approx((0.5, 1.0, 2 / 3))


def test_decision_flag_and_false_positive_queries():
    truth = [seg("q1", "r1", 0, 10, 0, 10)]
    preds = [pred("q1", "r1", 0, 10, 0, 10, 0.9), pred("n1", "r1", 0, 5, 0, 5, 0.7),
             pred("n2", "r2", 0, 5, 0, 5, 0.6, decision=False), pred("n2", "r3", 0, 5, 0, 5, 0.4, decision=False)]
    assert false_positive_queries(preds, ["n1", "n2", "n3"]) == 1
    # n2's predictions are below the decision: only n1's 5 s is a wrong prediction
    # -> P = 10/15, R = 1, F1 = 0.8
    assert decision_prf(preds, truth) == pytest.approx((2 / 3, 1.0, 0.8))
    # start errors only use predictions at the decision
    assert start_errors([pred("q1", "r1", 0, 10, 3, 13, 0.9, decision=False)], truth) == []


def test_empty_inputs():
    assert micro_ap([], []) == 0.0
    assert micro_ap([], TRUTH) == 0.0
    assert micro_ap([pred("q1", "r1", 0, 1, 0, 1, 1.0)], []) == 0.0
    assert segment_ap([], TRUTH) == 0.0
    assert segment_ap([], []) == 0.0
    assert decision_prf([], TRUTH) == (0.0, 0.0, 0.0)
    assert decision_prf([], []) == (0.0, 0.0, 0.0)
    assert false_positive_queries([], ["n1"]) == 0
    assert start_errors([], TRUTH) == []


def test_title_resamples_of_the_frame_benchmark_recompute_its_figures():
    """bench.frames.TitleCounts: every title drawn once gives score_sims' micro-AP and recall@1;
    a title drawn 0 times drops its queries (its frames stay references); drawn twice, its
    queries weigh double (worked out from the definition: each positive's precision among the
    weighted pairs scoring at least as high)."""
    rng = np.random.default_rng(0)
    titles = np.repeat(np.arange(4), 6)
    sims = rng.normal(0.0, 0.3, (24, 24)) + 0.5 * np.eye(24)
    counts = TitleCounts.of(sims, titles)
    ap, r1, pos, _ = score_sims(sims, titles)
    assert np.allclose(counts.scores(np.ones((1, 4))), [[ap], [r1]])

    kept = titles != 2
    other = titles[kept, None] != titles[None, :]
    first = pos[kept] > np.where(other, sims[kept], -np.inf).max(axis=1)
    dropped = counts.scores(np.array([[1.0, 1.0, 0.0, 1.0]]))
    assert np.allclose(dropped, [[average_precision(pos[kept], sims[kept][other])], [first.mean()]])

    weight = np.where(titles == 0, 2.0, 1.0)
    negatives = np.where(titles[:, None] != titles[None, :], sims, np.nan)
    precision = [(weight * (pos >= p)).sum() / ((weight * (pos >= p)).sum()
                                                + (weight[:, None] * (negatives > p)).sum()) for p in pos]
    doubled = counts.scores(np.array([[2.0, 1.0, 1.0, 1.0]]))
    assert doubled[0][0] == pytest.approx((weight * precision).sum() / weight.sum())
    first_all = pos > np.where(titles[:, None] != titles[None, :], sims, -np.inf).max(axis=1)
    assert doubled[1][0] == pytest.approx((weight * first_all).sum() / weight.sum())


def test_folds_pooled_rank_each_query_among_its_own_folds_pairs():
    """bench.frames_folds.pooled: recall@1 is the folds' mean weighted by their queries; micro-AP
    ranks every fold's positives and negatives together (a later fold's against its frames and
    fold 0's), the pairs left out (-inf) never outranking a positive; the title resamples agree;
    score_sims takes a fold's rectangular block (its queries against its frames and fold 0's)."""
    rng = np.random.default_rng(1)
    sizes = (6, 10)
    titles = [np.arange(6) // 2, np.arange(10) // 2 + 3]
    all_titles = np.concatenate(titles)
    blocks = [rng.normal(0.0, 0.3, (6, 6)) + 0.4 * np.eye(6), rng.normal(0.0, 0.3, (10, 16))]
    blocks[1][:, :10] += 0.4 * np.eye(10)
    folds = [score_sims(blocks[0], titles[0]), score_sims(blocks[1], np.concatenate([titles[1], titles[0]]))]
    both = pooled(blocks)
    assert both.shape == (16, 16) and np.isneginf(both[:6, 6:]).all()
    assert np.allclose(both[6:, :6], blocks[1][:, 10:])
    ap, r1, pos, neg = score_sims(both, all_titles)
    assert r1 == pytest.approx(sum(f[1] * n for f, n in zip(folds, sizes)) / sum(sizes))
    finite = neg[np.isfinite(neg)]
    assert len(finite) == sum(len(f[3]) for f in folds) == 6 * 4 + 10 * 14
    assert ap == pytest.approx(average_precision(pos, finite))
    assert np.allclose(TitleCounts.of(both, all_titles).scores(np.ones((1, 8))), [[ap], [r1]])
