"""The false-match tail: how often a clean suspect aligns with an unrelated title above a score,
as a function of catalogue size, and the decision threshold that keeps it rare.

A catalogue 100 times larger gives a clean suspect 100 times more places to resemble
something, so a fixed threshold lets false matches grow with the catalogue. The tail of the
score distribution of real non-copies is modelled by peaks over threshold (extreme-value
theory): segments scoring above a high level `u` arrive as a Poisson process whose intensity
is proportional to the number of places a suspect can align with the catalogue, suspect
minutes x catalogue hours, and their excess over `u` follows a generalised Pareto
distribution (GPD). So, for a clean suspect of one minute against H catalogue hours::

    expected false matches above t  =  H * rate * S(t - u)
    S(x) = (1 + xi * x / sigma) ** (-1 / xi)    (exp(-x / sigma) when xi = 0; 0 past the
                                                 end point u - sigma / xi when xi < 0)
    P(at least one)  =  1 - exp(-expected)

`bench/false_matches.py` measures the scores (every suspect-title alignment of unrelated real
media, exactly the segment score that the decision threshold is compared with) and fits them
with `fit_tail`; the fitted numbers are `Config.false_match_*`, and `decision_threshold` turns
them into the threshold `DecisionParams` uses.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from fp.config import Config


@dataclass(frozen=True)
class TailModel:
    """A fitted false-match tail (peaks over threshold, see the module docstring).

    Fitted by `fit_tail`: `u` is a high quantile of the measured non-copy segment scores; the
    excesses (score - u) of the segments scoring above it are fitted by maximum likelihood with
    a generalised Pareto distribution whose location is fixed at 0
    (`scipy.stats.genpareto.fit(excess, floc=0)`), giving `xi` (shape) and `sigma` (scale);
    `rate` is the number of those exceedances divided by the exposure they arose from, in
    suspect minutes x catalogue hours (see `fit_tail`).
    """

    u: float
    """Score above which the tail is modelled (common, visual scale)."""
    rate: float
    """Segments scoring above `u` per suspect minute per catalogue hour."""
    xi: float
    """GPD shape: < 0 a bounded tail (end point u - sigma / xi), 0 exponential, > 0 heavy."""
    sigma: float
    """GPD scale (score units)."""
    pairs: int = 0
    """Suspect-title pairs measured (0: unknown, as when read from a `Config`)."""
    exceedances: int = 0
    """Segments above `u` the GPD was fitted on (0: unknown)."""

    @classmethod
    def from_config(cls, cfg: Config) -> TailModel:
        return cls(cfg.false_match_u, cfg.false_match_rate, cfg.false_match_xi, cfg.false_match_sigma)

    def survival(self, excess: float) -> float:
        """GPD P(score - u > excess | score > u), for excess >= 0."""
        x = max(float(excess), 0.0)
        if abs(self.xi) < 1e-12:
            return math.exp(-x / self.sigma)
        base = 1.0 + self.xi * x / self.sigma
        if base <= 0.0:  # past the end point of a bounded tail
            return 0.0
        return math.exp(-math.log(base) / self.xi)

    def expected(self, threshold: float, hours: float, suspect_minutes: float = 1.0) -> float:
        """Expected false matches scoring at least `threshold` for a clean suspect of
        `suspect_minutes` against `hours` of catalogue. Defined for thresholds at or above `u`
        only: below it the fit says nothing."""
        if threshold < self.u:
            raise ValueError(f"threshold {threshold} is below the tail's fitted level u = {self.u}")
        return suspect_minutes * hours * self.rate * self.survival(threshold - self.u)

    def probability(self, threshold: float, hours: float, suspect_minutes: float = 1.0) -> float:
        """Probability that a clean suspect (one minute by default) gets at least one false
        match at `threshold` against `hours` of catalogue: 1 - exp(-expected)."""
        return -math.expm1(-self.expected(threshold, hours, suspect_minutes))

    def threshold(self, hours: float, target: float = 1e-3, suspect_minutes: float = 1.0) -> float:
        """The lowest score threshold at which a clean suspect (one minute by default) against
        `hours` of catalogue gets a false match with probability at most `target`; exactly
        `target` at the returned threshold unless that falls below `u`, which is then returned
        (the fit says nothing under it, and there the probability is lower than `target`)."""
        if not 0.0 < target < 1.0:
            raise ValueError(f"target probability must lie in (0, 1), not {target}")
        exposure = suspect_minutes * hours * self.rate
        if exposure <= 0.0:
            return self.u
        share = -math.log1p(-target) / exposure  # the survival S(t - u) that meets the target
        if share >= 1.0:
            return self.u
        if abs(self.xi) < 1e-12:
            excess = -self.sigma * math.log(share)
        else:
            excess = self.sigma / self.xi * math.expm1(-self.xi * math.log(share))
        return self.u + excess


def decision_threshold(cfg: Config, catalogue_hours: float | None = None) -> float:
    """The decision threshold: `match_threshold`, raised, when `false_match_enforced`, where the
    false-match tail needs it to keep the probability of a false match on a clean one-minute
    suspect at or under `false_match_target` against the larger of `false_match_hours` and
    `catalogue_hours` (the index's actual size, when known) of catalogue. A tail threshold above 1
    (no score reaches it) is returned as it is: nothing is then decided a match."""
    hours = max(cfg.false_match_hours, catalogue_hours or 0.0)
    if not cfg.false_match_enforced or hours <= 0.0 or cfg.false_match_rate <= 0.0:
        return cfg.match_threshold
    tail = TailModel.from_config(cfg).threshold(hours, cfg.false_match_target)
    return max(cfg.match_threshold, tail)


def fit_tail(scores: Sequence[float] | np.ndarray, exposure: float | Mapping[str, float], *,
             strata: Sequence[str] | None = None, u: float | None = None, quantile: float = 0.9,
             pairs: int = 0) -> TailModel:
    """Fit the false-match tail to measured non-copy segment scores.

    `scores`: every measured segment that could be decided (see bench/false_matches.py).
    `u`: the tail's level; by default the `quantile` of `scores`. The excesses of the scores
    above `u` are fitted by maximum likelihood with a generalised Pareto distribution of
    location 0 (`scipy.stats.genpareto.fit(excess, floc=0)`).
    `exposure`: suspect minutes x catalogue hours the scores arose from; the rate is the number
    of exceedances divided by it. With `strata` (one label per score, such as the modality that
    carried the segment) `exposure` maps each label to its own exposure, and the rate is the sum
    over labels of exceedances / exposure: rare events of independent sources add up.
    """
    from scipy.stats import genpareto

    values = np.asarray(scores, float)
    if len(values) == 0:
        raise ValueError("no scores to fit a tail to")
    if u is None:
        u = float(np.quantile(values, quantile))
    above = values > u
    excess = values[above] - u
    if len(excess) < 3:
        raise ValueError(f"only {len(excess)} scores above u = {u:.4f}: too few to fit a tail")
    if strata is None:
        if not isinstance(exposure, (int, float)):
            raise TypeError("exposure must be a number without strata")
        rate = len(excess) / float(exposure)
    else:
        labels = np.asarray(strata)[above]
        rate = sum(int((labels == s).sum()) / exposure[s] for s in set(labels.tolist()))
    xi, _, sigma = genpareto.fit(excess, floc=0)
    return TailModel(float(u), float(rate), float(xi), float(sigma), pairs, int(len(excess)))
