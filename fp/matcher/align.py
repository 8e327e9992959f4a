"""Localisation: align a query track with a reference track near a hypothesised offset.

For every integer sample shift in a band around the offset, the similarity of the diagonal
(query sample t against reference sample t + shift) is measured; the best shift's diagonal is
cut into segments where the similarity holds, gaps bridged. Found query times are then taken
out and the band searched again, so several segments at nearby offsets are all found.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fp.fingerprint.types import FeatureTrack


@dataclass(frozen=True)
class AlignedSegment:
    query_start: float
    query_end: float
    ref_start: float
    ref_end: float
    score: float
    """Mean similarity of the aligned samples that carry content."""


def diagonal(query: FeatureTrack, ref: FeatureTrack, shift: int) -> np.ndarray:
    """Similarity of query sample t with reference sample t + shift; NaN without content."""
    out = np.full(len(query), np.nan, np.float32)
    t0, t1 = max(0, -shift), min(len(query), len(ref) - shift)
    if t1 > t0:
        sims = np.einsum("ij,ij->i", query.vectors[t0:t1], ref.vectors[t0 + shift:t1 + shift])
        usable = query.valid[t0:t1] & ref.valid[t0 + shift:t1 + shift]
        out[t0:t1] = np.where(usable, sims, np.nan)
    return out


def runs(profile: np.ndarray, threshold: float, max_gap: int) -> list[tuple[int, int]]:
    """Inclusive index ranges whose samples reach `threshold`, bridging gaps up to `max_gap`."""
    hits = np.flatnonzero(np.nan_to_num(profile, nan=-1.0) >= threshold)
    if len(hits) == 0:
        return []
    out, start, last = [], hits[0], hits[0]
    for t in hits[1:]:
        if t - last - 1 > max_gap:
            out.append((int(start), int(last)))
            start = t
        last = t
    out.append((int(start), int(last)))
    return out


def align(
    query: FeatureTrack,
    ref: FeatureTrack,
    offset: float,
    *,
    radius: float,
    frame_threshold: float,
    gap_seconds: float,
    min_seconds: float,
    min_score: float,
    ref_duration: float,
    query_duration: float,
    max_segments: int = 8,
) -> list[AlignedSegment]:
    step = query.step
    center, width = int(round(offset / step)), int(np.ceil(radius / step))
    shifts = range(center - width, center + width + 1)
    profiles = {s: diagonal(query, ref, s) for s in shifts}
    free = np.ones(len(query), bool)
    found: list[AlignedSegment] = []
    max_gap = int(round(gap_seconds / step))
    min_len = int(round(min_seconds / step))
    while len(found) < max_segments:
        def strength(shift: int) -> float:
            p = np.where(free, profiles[shift], np.nan)
            return float(np.nansum(np.clip(p - frame_threshold, 0.0, None)))
        shift = max(shifts, key=strength)
        if strength(shift) <= 0:
            break
        profile = np.where(free, profiles[shift], np.nan)
        for a, b in runs(profile, frame_threshold, max_gap):
            free[a:b + 1] = False
            values = profile[a:b + 1]
            if b - a + 1 < min_len or np.isnan(values).all():
                continue
            score = float(np.nanmean(values))
            if score < min_score:
                continue
            q0 = query.start + a * step
            q1 = min(query.start + (b + 1) * step, query_duration)
            r0 = q0 + shift * step + ref.start - query.start
            found.append(AlignedSegment(q0, q1, max(0.0, r0), min(ref_duration, r0 + (q1 - q0)), score))
    return found
