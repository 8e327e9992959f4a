"""The similarity-over-time plot of one matched title, as geometry for an inline SVG: one line per
modality along the suspect's timeline, the decision threshold applied along it (each segment's
own over its stretch, `match_threshold` elsewhere), the segments shaded with their reference
ranges (the template `plot.svg.j2` draws it)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from fp.report.view import MODALITY_NAMES, short_clock, span

WIDTH, HEIGHT = 900, 280
"""The SVG's own units (it is scaled to the page's width)."""
LEFT, RIGHT, TOP, BOTTOM = 62, 14, 56, 32
"""Margins around the plotting area: axis labels left and below, the legend's two rows above."""
MAX_POINTS = 1000
"""Samples drawn per line at most; longer series are averaged in equal buckets."""
STYLE = {"visual": ("#0072b2", ""), "audio": ("#d55e00", "9 4"), "text": ("#009e73", "3 3")}
"""Colour and dash per modality (colour-blind safe; told apart in grey print by the dash)."""
TICK_STEPS = (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200)
"""Candidate time-axis spacings in seconds; the first giving at most `MAX_TICKS` is used."""
MAX_TICKS = 12
Y_TICKS = (0.0, 0.25, 0.5, 0.75, 1.0)
"""The similarity axis: values are drawn clipped to 0-1."""


@dataclass(frozen=True)
class Line:
    modality: str
    label: str
    colour: str
    dash: str
    path: str
    """SVG path data; a gap where the modality has no value."""


@dataclass(frozen=True)
class Band:
    """A segment, shaded over the suspect's range."""

    x: float
    width: float
    query_start: float
    query_end: float
    label: str
    decision: str
    """`match` or `candidate`."""
    threshold: float | None
    """The decision threshold applied to it (None: not recorded)."""


@dataclass(frozen=True)
class Level:
    """A stretch of the suspect along which one decision threshold applies."""

    x: float
    width: float
    y: float
    threshold: float


@dataclass(frozen=True)
class Tick:
    at: float
    label: str


@dataclass(frozen=True)
class Plot:
    width: int
    height: int
    left: float
    top: float
    inner_width: float
    inner_height: float
    lines: list[Line]
    bands: list[Band]
    threshold: float
    """`match_threshold`: the decision threshold outside every segment."""
    levels: list[Level]
    x_ticks: list[Tick]
    y_ticks: list[Tick]


def similarity_plot(similarity: dict | None, segments: list[dict], duration: float) -> Plot | None:
    """The plot of one title's `similarity` entry (see `fp.report.similarity`) and its segments
    (matches and candidates) over a suspect of `duration` seconds; None without series."""
    if not similarity or not similarity.get("series") or duration <= 0:
        return None
    inner_w, inner_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def x(seconds: float) -> float:
        return LEFT + inner_w * min(max(seconds, 0.0), duration) / duration

    def y(value: float) -> float:
        return TOP + inner_h * (1.0 - min(max(value, 0.0), 1.0))

    step = similarity["step"]
    lines = []
    for modality, values in similarity["series"].items():
        times, points = _buckets(np.array([np.nan if v is None else v for v in values], float), step)
        parts, pen_down = [], False
        for t, v in zip(times, points):
            if np.isnan(v) or t > duration:
                pen_down = False
                continue
            parts.append(f"{'L' if pen_down else 'M'}{x(t):.1f} {y(v):.1f}")
            pen_down = True
        colour, dash = STYLE.get(modality, ("#555555", ""))
        lines.append(Line(modality, MODALITY_NAMES.get(modality, modality), colour, dash, " ".join(parts)))
    bands = [Band(x(m["query_start"]), max(1.0, x(m["query_end"]) - x(m["query_start"])), m["query_start"],
                  m["query_end"], f"ref {span(m['ref_start'], m['ref_end'])}", m["decision"], m.get("threshold"))
             for m in sorted(segments, key=lambda m: m["query_start"])]
    threshold = similarity["threshold"]
    # runs of equal per-sample thresholds; one run where a stored run has none per sample
    applied = np.array(similarity.get("thresholds", [threshold]), float)
    cuts = np.flatnonzero(np.diff(applied)) + 1
    edges = [0.0, *(cuts * step), duration]
    levels = [Level(x(a), x(b) - x(a), y(t), float(t)) for a, b, t in zip(edges, edges[1:], applied[np.r_[0, cuts]])]
    every = next((s for s in TICK_STEPS if duration / s <= MAX_TICKS), math.ceil(duration / MAX_TICKS))
    x_ticks = [Tick(x(t), short_clock(t)) for t in np.arange(0.0, duration + 1e-6, every)]
    y_ticks = [Tick(y(v), f"{v:.2f}") for v in Y_TICKS]
    return Plot(WIDTH, HEIGHT, LEFT, TOP, inner_w, inner_h, lines, bands, threshold, levels, x_ticks, y_ticks)


def _buckets(values: np.ndarray, step: float) -> tuple[np.ndarray, np.ndarray]:
    """Sample times and values, averaged in equal buckets down to `MAX_POINTS` (NaN where a
    bucket has no value)."""
    size = max(1, math.ceil(len(values) / MAX_POINTS))
    if size == 1:
        return np.arange(len(values)) * step, values
    padded = np.full(math.ceil(len(values) / size) * size, np.nan)
    padded[:len(values)] = values
    grouped = padded.reshape(-1, size)
    with np.errstate(all="ignore"):
        counts = (~np.isnan(grouped)).sum(axis=1)
        means = np.where(counts > 0, np.nansum(grouped, axis=1) / np.maximum(counts, 1), np.nan)
    return (np.arange(len(means)) * size + (size - 1) / 2) * step, means
