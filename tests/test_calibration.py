"""The false-match tail (fp/matcher/calibration.py): the peaks-over-threshold fit recovers known
parameters, the threshold it implies meets the target exactly and grows with the catalogue, and
the decision threshold never falls below the configured one."""

import dataclasses
import math

import numpy as np
import pytest
from scipy.stats import genpareto

from fp.config import Config
from fp.matcher.calibration import TailModel, decision_threshold, fit_tail
from fp.matcher.decisions import DecisionParams

HOURS = [1.0, 10.0, 100.0, 1_000.0, 10_000.0, 100_000.0, 1_000_000.0]


def synthetic(xi: float, sigma: float, u: float = 0.5, n_tail: int = 4000, n_body: int = 36_000, seed: int = 0):
    """Scores whose excess over `u` is exactly GPD(xi, sigma), under a body of lower scores."""
    rng = np.random.default_rng(seed)
    tail = u + genpareto.rvs(xi, scale=sigma, size=n_tail, random_state=rng)
    body = rng.uniform(0.30, u, size=n_body)
    return np.concatenate([body, tail])


@pytest.mark.parametrize("xi,sigma", [(-0.25, 0.05), (0.0, 0.04), (0.15, 0.03)])
def test_fit_recovers_known_gpd(xi, sigma):
    scores = synthetic(xi, sigma)
    tail = fit_tail(scores, exposure=2.0, u=0.5, pairs=123)
    assert tail.exceedances == 4000 and tail.pairs == 123
    assert tail.rate == pytest.approx(4000 / 2.0)
    assert tail.xi == pytest.approx(xi, abs=0.05)
    assert tail.sigma == pytest.approx(sigma, rel=0.08)


def test_u_defaults_to_the_quantile():
    scores = synthetic(-0.2, 0.05)
    tail = fit_tail(scores, exposure=1.0, quantile=0.9)
    assert tail.u == pytest.approx(np.quantile(scores, 0.9))
    assert tail.exceedances == pytest.approx(0.1 * len(scores), abs=1)


def test_rates_of_strata_add_up():
    scores = np.array([0.1, 0.2, 0.6, 0.7, 0.8, 0.9, 0.65])
    strata = ["visual", "audio", "visual", "visual", "audio", "audio", "audio"]
    tail = fit_tail(scores, {"visual": 2.0, "audio": 0.5}, strata=strata, u=0.5)
    assert tail.exceedances == 5
    assert tail.rate == pytest.approx(2 / 2.0 + 3 / 0.5)


@pytest.mark.parametrize("xi", [-0.3, 0.0, 0.2])
def test_survival_is_the_gpd(xi):
    tail = TailModel(u=0.5, rate=10.0, xi=xi, sigma=0.04)
    for x in [0.0, 0.01, 0.05, 0.1, 0.13, 0.2]:
        assert tail.survival(x) == pytest.approx(genpareto.sf(x, xi, scale=0.04), abs=1e-12)


@pytest.mark.parametrize("xi", [-0.3, -1e-13, 0.0, 0.2])
@pytest.mark.parametrize("target", [1e-3, 1e-2])
def test_threshold_meets_the_target_exactly_and_grows_with_the_catalogue(xi, target):
    tail = TailModel(u=0.45, rate=50.0, xi=xi, sigma=0.03)
    thresholds = [tail.threshold(h, target) for h in HOURS]
    assert all(b >= a for a, b in zip(thresholds, thresholds[1:]))
    assert thresholds[-1] > thresholds[0]
    for h, t in zip(HOURS, thresholds):
        if t > tail.u:  # at u itself the target is met with room to spare
            assert tail.probability(t, h) == pytest.approx(target, abs=1e-9)
            assert tail.probability(t + 1e-4, h) < target
        else:
            assert tail.probability(t, h) <= target
    if xi < -1e-12:  # a bounded tail: no threshold past its end point
        assert thresholds[-1] < tail.u - tail.sigma / xi


def test_probability_and_expectation():
    tail = TailModel(u=0.45, rate=2.0, xi=-0.2, sigma=0.05)
    e = tail.expected(0.5, 1000.0)
    assert e == pytest.approx(1000 * 2.0 * genpareto.sf(0.05, -0.2, scale=0.05))
    assert tail.probability(0.5, 1000.0) == pytest.approx(1 - math.exp(-e))
    assert tail.expected(0.5, 1000.0, suspect_minutes=3.0) == pytest.approx(3 * e)
    with pytest.raises(ValueError):
        tail.expected(0.40, 1000.0)  # below u the fit says nothing
    assert tail.threshold(1e-9) == tail.u  # so small a catalogue needs nothing above u


def tail_config(enforced: bool = True, **tail) -> Config:
    return dataclasses.replace(Config(), false_match_enforced=enforced,
                               **{f"false_match_{k}": v for k, v in tail.items()})


@pytest.mark.parametrize("u,rate,xi,sigma", [(0.40, 1e-3, -0.3, 0.02), (0.45, 10.0, -0.2, 0.05),
                                             (0.50, 500.0, 0.1, 0.04), (0.30, 0.0, 0.0, 0.1)])
def test_decision_threshold_never_falls_below_match_threshold(u, rate, xi, sigma):
    cfg = tail_config(u=u, rate=rate, xi=xi, sigma=sigma)
    tail = TailModel.from_config(cfg)
    for hours in [None, 1.0, 1_000.0, 100_000.0]:
        t = decision_threshold(cfg, hours)
        assert t >= cfg.match_threshold
        assert DecisionParams.from_config(cfg, hours).match_threshold == t
        if rate > 0:
            at = max(cfg.false_match_hours, hours or 0.0)
            assert t == max(cfg.match_threshold, tail.threshold(at, cfg.false_match_target))


def test_threshold_is_held_at_false_match_hours_and_rises_past_them():
    cfg = tail_config(u=0.45, rate=20.0, xi=-0.1, sigma=0.05)
    held = decision_threshold(cfg)
    assert held > cfg.match_threshold  # this tail needs more than the configured threshold
    assert decision_threshold(cfg, 50.0) == held  # a small catalogue keeps the threshold of 10k hours
    assert decision_threshold(cfg, cfg.false_match_hours * 10) > held


def test_an_unenforced_tail_leaves_the_threshold_alone():
    cfg = tail_config(enforced=False, u=0.45, rate=20.0, xi=-0.1, sigma=0.05)
    assert decision_threshold(cfg) == decision_threshold(cfg, 1e6) == cfg.match_threshold
    assert decision_threshold(dataclasses.replace(cfg, false_match_enforced=True)) > cfg.match_threshold


def test_default_configuration():
    cfg = Config()
    tail = TailModel.from_config(cfg)
    params = DecisionParams.from_config(cfg)
    assert params.match_threshold == decision_threshold(cfg) >= cfg.match_threshold
    if tail.rate > 0 and params.match_threshold > tail.u:
        held = max(params.match_threshold, tail.threshold(cfg.false_match_hours, cfg.false_match_target))
        assert tail.probability(held, cfg.false_match_hours) <= cfg.false_match_target + 1e-9
