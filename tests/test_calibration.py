"""The false-match tail (fp/matcher/calibration.py): the fit recovers a known process of segment
lengths and scores, the per-length thresholds it implies meet the target, only rise with the
catalogue and never fall below `match_threshold`, and the Matcher holds them for its index's size."""

import dataclasses
import math
from types import SimpleNamespace

import numpy as np
import pytest
from scipy.stats import genpareto

from fp.config import Config
from fp.fingerprint.identity import encode_digests
from fp.matcher.align import AlignedSegment
from fp.matcher.calibration import (TailModel, exposure, false_match_probability, fit_tail, length_classes,
                                    length_thresholds)
from fp.matcher.decisions import DecisionParams, decide
from fp.matcher.matcher import Matcher

HOURS = [1e-5, 1.0, 10.0, 100.0, 1_000.0, 10_000.0, 100_000.0, 1_000_000.0]
STEP, SHORTEST = 0.5, 4.0
TRUTH = TailModel(u=0.45, rate=20.0, xi=-0.1, sigma=0.05, length_scale=1.5, min_seconds=SHORTEST, step=STEP)
"""The synthetic process: a steep length tail and a score tail that needs raising at scale."""
ABOVE_U = 0.2
"""Share of the synthetic segments scoring above u."""


def synthetic(seed: int = 0):
    """Segments of a Poisson process with `TRUTH`'s intensity over pairs of two modalities
    (different rates and content), and the pairs' content: what bench/false_matches.py measures."""
    rng = np.random.default_rng(seed)
    content = {m: np.column_stack([rng.uniform(5, 60, n), rng.uniform(60, 600, n)])
               for m, n in (("audio", 2000), ("visual", 1000))}
    rates = {"audio": 0.7 * TRUTH.rate, "visual": 0.3 * TRUTH.rate}  # above u, per unit of exposure
    grid = TRUTH.lengths(60.0)
    scores, lengths, strata = [], [], []
    for m, rows in content.items():
        counts = rng.poisson(rates[m] / ABOVE_U * TRUTH.length_shares(grid) * exposure(rows, grid))
        for d, n in zip(grid, counts):
            tail = rng.random(n) < ABOVE_U
            scores += list(np.where(tail, TRUTH.u + genpareto.rvs(TRUTH.xi, scale=TRUTH.sigma, size=n,
                                                                  random_state=rng), rng.uniform(0.3, TRUTH.u, n)))
            lengths += list(d + rng.uniform(0, STEP, n))  # measured lengths fall anywhere in a sample
            strata += [m] * n
    return scores, lengths, strata, content


def tail_config(tail: TailModel, enforced: bool = True, **more) -> Config:
    return dataclasses.replace(Config(), false_match_u=tail.u, false_match_rate=tail.rate,
                               false_match_xi=tail.xi, false_match_sigma=tail.sigma,
                               false_match_length_scale=tail.length_scale, false_match_enforced=enforced,
                               min_match_seconds=tail.min_seconds, frame_rate=1 / tail.step, **more)


@pytest.fixture(scope="module")
def fitted() -> TailModel:
    scores, lengths, strata, content = synthetic()
    return fit_tail(scores, lengths, strata, content, min_seconds=SHORTEST, step=STEP, u=TRUTH.u, pairs=5000)


def test_fit_recovers_the_known_process(fitted):
    assert fitted.pairs == 5000 and fitted.exceedances > 1000
    assert fitted.length_scale == pytest.approx(TRUTH.length_scale, rel=0.05)
    assert fitted.rate == pytest.approx(TRUTH.rate, rel=0.08)
    assert fitted.xi == pytest.approx(TRUTH.xi, abs=0.06)
    assert fitted.sigma == pytest.approx(TRUTH.sigma, rel=0.1)


def test_u_defaults_to_the_quantile():
    scores, lengths, strata, content = synthetic(seed=1)
    tail = fit_tail(scores, lengths, strata, content, min_seconds=SHORTEST, step=STEP, quantile=0.9)
    assert tail.u == pytest.approx(np.quantile(scores, 0.9))
    assert tail.exceedances == pytest.approx(0.1 * len(scores), abs=1)


def test_rates_of_strata_add_up():
    content = {"visual": np.array([[60.0, 3600.0]]), "audio": np.array([[30.0, 7200.0]])}
    lengths = [4.0] * 6  # all of the shortest length
    strata = ["visual", "visual", "audio", "audio", "audio", "audio"]
    tail = fit_tail([0.6, 0.7, 0.8, 0.65, 0.9, 0.1], lengths, strata, content, min_seconds=4.0, step=0.5, u=0.5)
    assert tail.exceedances == 5 and tail.length_scale < 0.05  # no longer segment seen
    at_shortest = {m: float(exposure(rows, [4.0])[0]) for m, rows in content.items()}
    assert tail.rate == pytest.approx(2 / at_shortest["visual"] + 3 / at_shortest["audio"], rel=1e-3)


@pytest.mark.parametrize("xi", [-0.3, 0.0, 0.2])
def test_survival_is_the_gpd(xi):
    tail = dataclasses.replace(TRUTH, xi=xi, sigma=0.04)
    for x in [0.0, 0.01, 0.05, 0.1, 0.13, 0.2]:
        assert tail.survival(x) == pytest.approx(genpareto.sf(x, xi, scale=0.04), abs=1e-12)


def test_expected_false_matches_count_places_by_length():
    e = TRUTH.expected(0.5, 1000.0, 4.0, 4.5)  # the shortest grid length only
    p0 = 1 - math.exp(-STEP / TRUTH.length_scale)
    survival = genpareto.sf(0.05, TRUTH.xi, scale=TRUTH.sigma)
    assert e == pytest.approx(1000 * TRUTH.rate * p0 * (60 - 4) / 60 * survival)
    total = TRUTH.expected(0.5, 1000.0, 4.0)
    assert total == pytest.approx(sum(TRUTH.expected(0.5, 1000.0, a, a + 5) for a in np.arange(4, 60, 5)))
    assert TRUTH.expected(0.5, 1000.0, 60.0) == 0.0  # longer than the suspect
    with pytest.raises(ValueError):
        TRUTH.expected(0.40, 1000.0, 4.0)  # below u the fit says nothing


@pytest.mark.parametrize("xi", [-0.3, 0.0, 0.2])
def test_class_threshold_meets_its_budget_exactly_and_grows_with_the_catalogue(xi):
    tail = dataclasses.replace(TRUTH, xi=xi)
    for a, b in [(4.0, 5.0), (10.0, 12.5), (24.0, 30.0)]:
        thresholds = [tail.threshold(h, 1e-4, a, b, base=0.55) for h in HOURS]
        assert all(t2 >= t1 >= 0.55 for t1, t2 in zip(thresholds, thresholds[1:]))
        for h, t in zip(HOURS, thresholds):
            if t > 0.55:
                assert tail.expected(t, h, a, b) == pytest.approx(1e-4, rel=1e-9)
            else:
                assert tail.expected(0.55, h, a, b) <= 1e-4


def test_length_classes_start_at_the_shortest_match_on_the_sample_grid():
    classes = length_classes(Config())
    assert classes[0] == Config().min_match_seconds and classes[-1] < Config().false_match_suspect_seconds
    assert all(b > a and (a * Config().frame_rate).is_integer() for a, b in zip(classes, classes[1:]))


def test_per_length_thresholds_are_monotone_and_never_below_the_base():
    cfg = tail_config(TRUTH)
    rows = [length_thresholds(cfg, h) for h in HOURS]
    for small, large in zip(rows, rows[1:]):  # monotone in catalogue hours, class by class
        assert all(t2 >= t1 >= cfg.match_threshold for (_, t1), (_, t2) in zip(small, large))
    for row in rows:  # a longer segment never faces a higher bar
        assert all(t1 >= t2 for (_, t1), (_, t2) in zip(row, row[1:]))
    assert all(t == cfg.match_threshold for _, t in rows[0])  # seconds of catalogue keep the base
    assert rows[-1][0][1] > cfg.match_threshold  # a huge one raises it for short segments


def test_thresholds_reach_the_target_on_a_synthetic_tail():
    """Clean suspects drawn from `TRUTH`'s process: the share with a false match under the
    thresholds `TRUTH` implies is the estimated probability, within the target and close to it."""
    hours, target, suspects = 1.0, 0.1, 20_000
    cfg = tail_config(TRUTH, false_match_target=target)
    rows = length_thresholds(cfg, hours)
    raised = sum(t > cfg.match_threshold for _, t in rows)
    assert 0 < raised < len(rows)  # short segments raised, long ones at the base
    p = false_match_probability(TRUTH, rows, hours)
    budget = -math.log1p(-target) / len(rows)
    assert -math.expm1(-raised * budget) <= p <= target * (1 + 1e-9)
    rng = np.random.default_rng(0)
    grid = TRUTH.lengths(60.0)
    applied = DecisionParams.from_config(cfg, hours)
    hit = np.zeros(suspects, bool)
    mean = hours * TRUTH.rate * TRUTH.length_shares(grid) * (60 - grid) / 60  # above u, per suspect and length
    for d, n in zip(grid, rng.poisson(mean, (suspects, len(grid))).T):
        scores = TRUTH.u + genpareto.rvs(TRUTH.xi, scale=TRUTH.sigma, size=(suspects, n.max()), random_state=rng)
        best = np.where(np.arange(n.max()) < n[:, None], scores, -np.inf).max(axis=1, initial=-np.inf)
        hit |= best >= applied.threshold(d)
    assert hit.mean() == pytest.approx(p, abs=4 * math.sqrt(p * (1 - p) / suspects))
    at_base = false_match_probability(TRUTH, ((SHORTEST, cfg.match_threshold),), hours)
    assert at_base > 3 * target  # without the raise the target would be far off


def test_false_match_hours_is_a_floor_and_enforcement_a_switch():
    cfg = tail_config(TRUTH)
    assert length_thresholds(dataclasses.replace(cfg, false_match_hours=10_000), 1.0) == \
        length_thresholds(cfg, 10_000)
    assert length_thresholds(dataclasses.replace(cfg, false_match_enforced=False), 1e6) == ()
    params = DecisionParams.from_config(dataclasses.replace(cfg, false_match_enforced=False), 1e6)
    assert params.threshold(4.0) == params.threshold(60.0) == cfg.match_threshold


def test_decision_params_apply_the_threshold_of_the_segments_length_class():
    cfg = tail_config(TRUTH)
    params = DecisionParams.from_config(cfg, 10_000)
    for (a, t), (b, _) in zip(params.length_thresholds, params.length_thresholds[1:]):
        assert params.threshold(a) == params.threshold((a + b) / 2) == params.threshold(b - 0.01) == t
    assert params.threshold(1e4) == params.length_thresholds[-1][1]


class FakeReader(SimpleNamespace):
    """Just what `Matcher.__init__` reads of an index."""

    def meta(self):
        return {"weights": encode_digests(self.config)}

    def close(self):
        pass


def seg(seconds: float, score: float) -> AlignedSegment:
    return AlignedSegment(0.0, seconds, 0.0, seconds, score, {"visual": score})


def test_matcher_holds_the_thresholds_for_its_catalogues_hours():
    cfg = tail_config(TRUTH)
    small, large = (Matcher(config=cfg, fingerprinter=object(), reader=FakeReader(config=Config(), titles=[], hours=h))
                    for h in (505 / 3600, 10_000))
    assert small.decisions == DecisionParams.from_config(cfg, 505 / 3600)
    assert large.decisions == DecisionParams.from_config(cfg, 10_000)
    seconds = 20.0
    assert small.decisions.threshold(seconds) == cfg.match_threshold < large.decisions.threshold(seconds)
    score = (cfg.match_threshold + large.decisions.threshold(seconds)) / 2
    assert [m.decision for m in decide([("t", seg(seconds, score))], small.decisions)] == ["match"]
    assert [m.decision for m in decide([("t", seg(seconds, score))], large.decisions)] == ["candidate"]
    long = 58.0  # a long copy at the base threshold is still decided at 10k hours
    assert [m.decision for m in decide([("t", seg(long, cfg.match_threshold))], large.decisions)] == ["match"]


def test_default_configuration_meets_the_target_up_to_100k_hours():
    cfg = Config()
    tail = TailModel.from_config(cfg)
    if not cfg.false_match_enforced:
        pytest.skip("the false-match tail is not enforced")
    for hours in (1_000, 10_000, 100_000):
        rows = length_thresholds(cfg, hours)
        assert all(t >= cfg.match_threshold for _, t in rows)
        assert false_match_probability(tail, rows, hours, cfg.false_match_suspect_seconds) <= \
            cfg.false_match_target * (1 + 1e-9)
    # bench/accuracy.py's catalogue (505 s): only short segments are raised
    assert DecisionParams.from_config(cfg, 505 / 3600).threshold(30.0) == cfg.match_threshold
