"""Shot segmentation on a feature track, and per-shot fingerprints."""

from __future__ import annotations

import numpy as np

from fp.fingerprint.types import FeatureTrack, Shot


def find_cuts(track: FeatureTrack, cut_distance: float, min_len: int) -> list[int]:
    """Sample indices where a new shot starts (0 first).

    A cut is a local peak of the cosine distance between consecutive samples above
    `cut_distance`, or a change between blank and non-blank; no shot is shorter than `min_len`
    samples unless blankness changes.
    """
    n = len(track)
    if n == 0:
        return []
    v, valid = track.vectors, track.valid
    dist = np.zeros(n)
    dist[1:] = 1.0 - np.einsum("ij,ij->i", v[1:], v[:-1])
    cuts = [0]
    for t in range(1, n):
        if valid[t] != valid[t - 1]:
            cuts.append(t)
            continue
        if not valid[t] or t - cuts[-1] < min_len:
            continue
        peak = dist[t] >= dist[t - 1] and (t + 1 >= n or dist[t] >= dist[t + 1])
        if dist[t] >= cut_distance and peak:
            cuts.append(t)
    return cuts


def segment_shots(
    track: FeatureTrack,
    *,
    cut_distance: float,
    min_seconds: float,
    max_seconds: float,
) -> list[tuple[int, int]]:
    """Half-open sample ranges of shots; shots longer than `max_seconds` are sliced evenly."""
    n = len(track)
    min_len = max(1, round(min_seconds / track.step))
    max_len = max(1, round(max_seconds / track.step))
    bounds = find_cuts(track, cut_distance, min_len) + [n]
    spans = []
    for a, b in zip(bounds[:-1], bounds[1:]):
        pieces = -(-(b - a) // max_len)
        edges = np.linspace(a, b, pieces + 1).round().astype(int)
        spans.extend((int(x), int(y)) for x, y in zip(edges[:-1], edges[1:]) if y > x)
    return spans


def shot_vector(track: FeatureTrack, a: int, b: int) -> np.ndarray | None:
    """Mean of the valid samples in [a, b), L2-normalised; None when none is valid."""
    keep = track.valid[a:b]
    if not keep.any():
        return None
    mean = track.vectors[a:b][keep].mean(axis=0)
    norm = np.linalg.norm(mean)
    return (mean / norm).astype(np.float32) if norm > 1e-6 else None


def build_shots(tracks: dict[str, FeatureTrack], spans: list[tuple[int, int]], step: float,
                duration: float) -> list[Shot]:
    """Shots over sample ranges `spans`, each with a fingerprint per modality that has content."""
    shots = []
    for a, b in spans:
        vectors = {}
        for modality, track in tracks.items():
            vec = shot_vector(track, a, min(b, len(track))) if a < len(track) else None
            if vec is not None:
                vectors[modality] = vec
        shots.append(Shot(a * step, min(duration, b * step), vectors))
    return shots
