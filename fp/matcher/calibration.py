"""The false-match tail: how often a clean suspect aligns with an unrelated title above a score,
as a function of catalogue size and segment length, and the decision thresholds that keep it rare.

A catalogue 100 times larger gives a clean suspect 100 times more places to resemble something,
so a fixed threshold lets false matches grow with the catalogue. Unrelated media rarely stay
alike for long, though: look-alike segments are mostly a few seconds long. So the threshold
depends on both, the catalogue's hours H and the segment's length D.

**Model.** The segments of unrelated media (at least L = `min_match_seconds` long; lengths on
the sample grid L, L + d, ..., d = 1 / `frame_rate`) arrive as a Poisson process over (length,
score) whose intensity is proportional to the places a segment of that length can sit: for a
q-second suspect and an r-second title, (q - D)(r - D) / (60 * 3600) suspect-minutes x
catalogue-hours (the *exposure* at length D). Length and score are taken as independent
(bench/false_matches.py shows the check, class by class), so the intensity factorises::

    rate * p(D) * S(score - u)
    p(D) = (1 - rho) * rho ** ((D - L) / d),  rho = exp(-d / length_scale)
    S(x) = (1 + xi * x / sigma) ** (-1 / xi)   (exp(-x / sigma) when xi = 0; 0 past the end
                                                point u - sigma / xi when xi < 0)

p is geometric: a run of look-alike samples goes on with the same chance at every sample, as
runs in a weakly dependent sequence do. S is the generalised Pareto distribution (GPD) of the
score's excess over a high level u (peaks over threshold). For a clean suspect of T seconds
against H hours of titles much longer than a segment, the expected false matches among
segments of lengths [a, b) decided at threshold t are::

    H * rate * S(t - u) * sum over D in [a, b) of p(D) * (T - D) / 60

**Thresholds.** Lengths fall into classes starting at L and growing by `false_match_length_ratio`
(snapped up to the sample grid). The budget of expected false matches, -log(1 - target) for a
probability `false_match_target` per clean `false_match_suspect_seconds` suspect, is split
evenly among them; each class's threshold is the lowest at or above `match_threshold` that keeps
its expected false matches within its share (raised, if need be, to the next longer class's:
a longer segment never faces a higher bar). Thresholds only rise with H and never fall below
`match_threshold`; one above every reachable score means that class decides nothing.

`bench/false_matches.py` measures every suspect-title alignment of unrelated real media and fits
them with `fit_tail`; the fitted numbers are `Config.false_match_*`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from fp.config import Config

LENGTH_SCALE_BOUNDS = (0.01, 1_000.0)
"""Seconds within which the length fit searches `length_scale` (a numerical bracket only)."""


@dataclass(frozen=True)
class TailModel:
    """A fitted false-match tail (see the module docstring; fitted by `fit_tail`)."""

    u: float
    """Score above which the score tail is modelled (common, visual scale)."""
    rate: float
    """Segments scoring above `u` per suspect minute x catalogue hour of exposure (exposure
    weighted by `p(D)`)."""
    xi: float
    """GPD shape: < 0 a bounded tail (end point u - sigma / xi), 0 exponential, > 0 heavy."""
    sigma: float
    """GPD scale (score units)."""
    length_scale: float
    """Seconds over which the share of longer segments falls by a factor e."""
    min_seconds: float
    """L: the shortest segment modelled (`min_match_seconds`)."""
    step: float
    """d: the sample step, seconds (segment lengths are multiples of it)."""
    pairs: int = 0
    """Suspect-title pairs measured (0: unknown, as when read from a `Config`)."""
    exceedances: int = 0
    """Segments above `u` the GPD was fitted on (0: unknown)."""

    @classmethod
    def from_config(cls, cfg: Config) -> TailModel:
        return cls(cfg.false_match_u, cfg.false_match_rate, cfg.false_match_xi, cfg.false_match_sigma,
                   cfg.false_match_length_scale, cfg.min_match_seconds, 1.0 / cfg.frame_rate)

    def survival(self, excess: float) -> float:
        """GPD P(score - u > excess | score > u), for excess >= 0."""
        x = max(float(excess), 0.0)
        if abs(self.xi) < 1e-12:
            return math.exp(-x / self.sigma)
        base = 1.0 + self.xi * x / self.sigma
        if base <= 0.0:  # past the end point of a bounded tail
            return 0.0
        return math.exp(-math.log(base) / self.xi)

    def lengths(self, longest: float) -> np.ndarray:
        """The grid of segment lengths from L up to `longest` seconds."""
        n = math.floor((longest - self.min_seconds) / self.step + 1e-9) + 1
        return self.min_seconds + self.step * np.arange(max(n, 0))

    def length_shares(self, lengths: np.ndarray) -> np.ndarray:
        """p(D) of grid lengths D."""
        rho = math.exp(-self.step / self.length_scale)
        return (1.0 - rho) * rho ** np.round((lengths - self.min_seconds) / self.step)

    def places(self, shortest: float, longest: float, suspect_seconds: float) -> float:
        """Sum over grid lengths D in [shortest, longest) of p(D) * (T - D) / 60: the share of a
        clean T-second suspect's exposure per catalogue hour that segments of those lengths get."""
        d = self.lengths(min(longest, suspect_seconds) - 1e-9)
        d = d[d >= shortest - 1e-9]
        return float(np.sum(self.length_shares(d) * (suspect_seconds - d) / 60.0))

    def expected(self, threshold: float, hours: float, shortest: float, longest: float = math.inf,
                 suspect_seconds: float = 60.0) -> float:
        """Expected false matches at `threshold` among segments of lengths [shortest, longest) for a
        clean suspect of `suspect_seconds` against `hours` of catalogue. Defined for thresholds
        at or above `u` only: below it the fit says nothing."""
        if threshold < self.u:
            raise ValueError(f"threshold {threshold} is below the tail's fitted level u = {self.u}")
        return hours * self.rate * self.places(shortest, longest, suspect_seconds) * self.survival(threshold - self.u)

    def threshold(self, hours: float, budget: float, shortest: float, longest: float = math.inf,
                  base: float = 0.0, suspect_seconds: float = 60.0) -> float:
        """The lowest threshold at or above `base` at which segments of lengths [shortest, longest)
        of a clean `suspect_seconds` suspect against `hours` of catalogue give at most `budget`
        expected false matches: `base` where they already do at max(base, u) (below u the fit
        says nothing, so `base` is kept), else the threshold that gives exactly `budget`."""
        level = max(base, self.u)
        exposure = hours * self.rate * self.places(shortest, longest, suspect_seconds)
        if exposure * self.survival(level - self.u) <= budget:
            return base
        share = budget / exposure  # the survival S(t - u) that meets the budget
        if abs(self.xi) < 1e-12:
            excess = -self.sigma * math.log(share)
        else:
            excess = self.sigma / self.xi * math.expm1(-self.xi * math.log(share))
        return max(level, self.u + excess)


def length_classes(cfg: Config) -> tuple[float, ...]:
    """The shortest length of each segment-length class, seconds: from `min_match_seconds`,
    growing by `false_match_length_ratio`, snapped up to the sample grid, below
    `false_match_suspect_seconds`."""
    step, shortest = 1.0 / cfg.frame_rate, cfg.min_match_seconds
    out, edge = [], shortest
    while edge < cfg.false_match_suspect_seconds:
        snapped = shortest + math.ceil((edge - shortest) / step - 1e-9) * step
        if not out or snapped > out[-1]:
            out.append(snapped)
        edge *= cfg.false_match_length_ratio
    return tuple(out)


def length_thresholds(cfg: Config, catalogue_hours: float | None = None) -> tuple[tuple[float, float], ...]:
    """(shortest length, decision threshold) per segment-length class (`length_classes`) for a
    catalogue of the larger of `false_match_hours` and `catalogue_hours` (the index's size,
    when known): each class's threshold keeps its share of the false-match budget (see the
    module docstring). Empty when `false_match_enforced` is off or there is nothing to hold."""
    hours = max(cfg.false_match_hours, catalogue_hours or 0.0)
    if not cfg.false_match_enforced or hours <= 0.0 or cfg.false_match_rate <= 0.0:
        return ()
    tail, classes = TailModel.from_config(cfg), length_classes(cfg)
    budget = -math.log1p(-cfg.false_match_target) / len(classes)
    thresholds = [tail.threshold(hours, budget, a, b, cfg.match_threshold, cfg.false_match_suspect_seconds)
                  for a, b in zip(classes, classes[1:] + (math.inf,))]
    for j in range(len(thresholds) - 2, -1, -1):  # a longer segment never faces a higher bar
        thresholds[j] = max(thresholds[j], thresholds[j + 1])
    return tuple(zip(classes, thresholds))


def false_match_probability(tail: TailModel, thresholds: Sequence[tuple[float, float]], hours: float,
                            suspect_seconds: float = 60.0) -> float:
    """The estimated probability that a clean `suspect_seconds` suspect against `hours` of
    catalogue gets at least one false match under `thresholds` ((shortest length, threshold)
    per class, as `length_thresholds` gives)."""
    bounds = [a for a, _ in thresholds][1:] + [math.inf]
    expected = sum(tail.expected(max(t, tail.u), hours, a, b, suspect_seconds)
                   for (a, t), b in zip(thresholds, bounds))
    return -math.expm1(-expected)


def exposure(content: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Suspect-minutes x catalogue-hours of places for a segment of each of `lengths`, summed over
    pairs: `content` holds one (suspect seconds, title seconds) row per pair."""
    q, r = np.asarray(content, float).reshape(-1, 2).T
    d = np.asarray(lengths, float)[:, None]
    return (np.clip(q - d, 0, None) * np.clip(r - d, 0, None)).sum(axis=1) / (60 * 3600)


def fit_tail(scores: Sequence[float], lengths: Sequence[float], strata: Sequence[str],
             content: Mapping[str, np.ndarray], *, min_seconds: float, step: float,
             u: float | None = None, quantile: float = 0.8, pairs: int = 0) -> TailModel:
    """Fit the false-match tail to the segments of unrelated media.

    `scores`, `lengths` (seconds), `strata`: one per measured segment (every segment that could
    be decided, see bench/false_matches.py); `strata` names the modality that carried it, whose
    exposure it counts against. `content`: per modality, one (suspect seconds, title seconds)
    row per pair compared in it (seconds with content).

    Lengths: `length_scale` by maximum likelihood of the Poisson process over the length grid
    (all segments; each modality's intensity profiled out), p(D) weighted by the exposure at D.
    Scores: `u` is the `quantile` of `scores` unless given; the excesses above it are fitted with
    a GPD of location 0 by maximum likelihood (`scipy.stats.genpareto.fit(excess, floc=0)`).
    `rate`: the sum over modalities of exceedances / that modality's p-weighted exposure (rare
    events of independent modalities add up).
    """
    from scipy.optimize import minimize_scalar
    from scipy.stats import genpareto

    values, labels = np.asarray(scores, float), np.asarray(strata)
    if len(values) == 0:
        raise ValueError("no scores to fit a tail to")
    if u is None:
        u = float(np.quantile(values, quantile))
    above = values > u
    excess = values[above] - u
    if len(excess) < 3:
        raise ValueError(f"only {len(excess)} scores above u = {u:.4f}: too few to fit a tail")
    k = np.floor((np.asarray(lengths, float) - min_seconds) / step + 1e-6)
    if (k < 0).any():
        raise ValueError(f"segments shorter than min_seconds = {min_seconds}")
    grid = min_seconds + step * np.arange(int(max(float(np.max(c[:, 0])) for c in content.values()) / step) + 1)
    weights = {m: exposure(content[m], grid) for m in set(labels.tolist())}
    counts = {m: int((labels == m).sum()) for m in weights}

    def neg_log_likelihood(log_scale: float) -> float:
        rho = math.exp(-step / math.exp(log_scale))
        return -k.sum() * math.log(rho) + sum(n * math.log(np.sum(rho ** np.arange(len(grid)) * weights[m]))
                                              for m, n in counts.items())

    best = minimize_scalar(neg_log_likelihood, bounds=tuple(math.log(b) for b in LENGTH_SCALE_BOUNDS),
                           method="bounded", options={"xatol": 1e-6})
    length_scale = math.exp(best.x)
    rho = math.exp(-step / length_scale)
    shares = (1 - rho) * rho ** np.arange(len(grid))
    rate = sum(int((labels[above] == m).sum()) / float(np.sum(shares * weights[m])) for m in weights)
    xi, _, sigma = genpareto.fit(excess, floc=0)
    return TailModel(float(u), float(rate), float(xi), float(sigma), length_scale, min_seconds, step,
                     pairs, int(len(excess)))
