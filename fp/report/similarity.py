"""Similarity over the suspect's timeline, per matched title: the series the report's plot is
drawn from, carried by the JSON and CSV reports so that another tool can draw it too.

    "similarity": {"step": 0.5, "threshold": 0.55, "thresholds": [0.55, 0.69, 0.69, ...],
                   "series": {"visual": [0.12, 0.71, null, ...], "audio": [...]}}

Value i of a series is the suspect's sample at i * step seconds against the title, on the
common (picture's) scale that the matcher maps every modality onto, so that a decision
threshold reads for all of them. Samples inside a segment are read at that segment's
alignment; samples outside every segment at the nearest segment's. `null`: that modality has no
content there on either side (a black picture, silence, no cue shown) or the reference has no
sample at that alignment. A modality with no value at all is left out.

Value i of `thresholds` is the decision threshold applied to the segment holding sample i
(`Match.threshold`: raised by the segment's length and the catalogue's size), `threshold`
(`match_threshold`, a segment's threshold whatever its length) outside every segment.
"""

from __future__ import annotations

import numpy as np

from fp.index.store import EVIDENCE
from fp.matcher.types import Match

DECIMALS = 3
"""Per-sample values are rounded to this many decimals: far finer than a plot shows, and the
stored evidence of a long suspect stays small."""
THRESHOLD_DECIMALS = 4
"""Per-sample thresholds are rounded as `Match.to_dict` rounds a segment's."""


def title_similarity(segments: list[Match], threshold: float) -> dict | None:
    """The similarity entry of one title from its segments (where two overlap, the first listed
    holds the sample), `threshold` being `match_threshold`; None when none of them carries
    per-sample similarities (a report rebuilt from JSON)."""
    carried = [m for m in segments if m.series is not None]
    if not carried:
        return None
    step = carried[0].series.step
    length = max(len(v) for m in carried for v in m.series.values.values())
    centres = (np.arange(length) + 0.5) * step
    starts = np.array([m.query_start for m in carried])[:, None]
    ends = np.array([m.query_end for m in carried])[:, None]
    distance = np.maximum(np.maximum(starts - centres, centres - ends), 0.0)
    owner = distance.argmin(axis=0)  # ties: first
    applied = np.array([threshold if m.threshold is None else m.threshold for m in carried])
    thresholds = np.where(distance.min(axis=0) == 0.0, applied[owner], threshold)
    series = {}
    for modality in EVIDENCE:
        values = np.full(length, np.nan)
        for j, m in enumerate(carried):
            own = m.series.values.get(modality)
            if own is not None:
                mine = np.flatnonzero(owner[:len(own)] == j)
                values[mine] = own[mine]
        if not np.isnan(values).all():
            series[modality] = [None if np.isnan(v) else round(float(v), DECIMALS) for v in values]
    return {"step": step, "threshold": threshold,
            "thresholds": [round(float(t), THRESHOLD_DECIMALS) for t in thresholds], "series": series}
