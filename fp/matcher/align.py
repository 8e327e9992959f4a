"""Localisation: align a query's tracks with a reference's near a hypothesised offset.

For every integer sample shift in a band around the offset, each modality's diagonal (query
sample t against reference sample t + shift) is measured and mapped onto one common scale; a
sample's fused score is its best modality's, raised when further modalities agree. Where the
query's picture was also sampled between its samples (at p / phases of a step later), the
fractional shifts between are measured too, with those samples and the picture alone (the sound
and subtitles, sampled on the whole grid, are aligned at the whole shifts: half shifts of their
own only gave unrelated speech and music more chances to look alike), and a sample's picture
may take its best at the neighbouring fractional shifts (`AlignParams.jitter`). The best shift's
fused diagonal is cut into segments where the score holds, gaps bridged. Found query times are
then taken out and the band searched again, so several segments at nearby offsets are all found.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from fp.config import Config
from fp.fingerprint.types import REFRAME, FeatureTrack

PRIMARY = "visual"
"""The modality whose blank frames (black, text cards) may widen a segment at its edges."""


@dataclass(frozen=True)
class Scale:
    """Maps a modality's raw cosine similarity onto the common (visual) scale: `frame` goes to
    `to_frame` and `match` to `to_match`."""

    frame: float
    match: float
    to_frame: float
    to_match: float

    def __call__(self, sims: np.ndarray) -> np.ndarray:
        return self.to_frame + (sims - self.frame) * (self.to_match - self.to_frame) / (self.match - self.frame)


@dataclass(frozen=True)
class SimilaritySeries:
    """Each modality's per-sample similarity along the whole query at one alignment, on the
    common (visual) scale, so that one decision threshold reads for every modality: value i is
    query sample i (at i * step seconds) against reference sample i + shift; NaN where either
    side has no content or the reference has no sample. At a fractional shift only the picture
    is measured, its value i being its sample that fraction of a step later."""

    step: float
    values: dict[str, np.ndarray]

    def placed(self, first: int, length: int) -> SimilaritySeries:
        """This series of a part of the query that starts at sample `first`, along the whole
        query of `length` samples (NaN outside the part)."""
        values = {}
        for m, v in self.values.items():
            out = np.full(length, np.nan, np.float32)
            out[first:first + len(v)] = v[:max(0, length - first)]
            values[m] = out
        return SimilaritySeries(self.step, values)

    def spliced(self, later: SimilaritySeries, seconds: float) -> SimilaritySeries:
        """This series before `seconds` of the query, `later`'s from there on (the pieces of a
        chained copy, each at its own shift)."""
        at = max(0, int(round(seconds / self.step)))
        values = {}
        for m in self.values.keys() | later.values.keys():
            a, b = self.values.get(m), later.values.get(m)
            length = max(len(v) for v in (a, b) if v is not None)
            out = np.full(length, np.nan, np.float32)
            if a is not None:
                out[:min(at, len(a))] = a[:at]
            if b is not None:
                out[at:len(b)] = b[at:]
            values[m] = out
        return SimilaritySeries(self.step, values)


@dataclass(frozen=True)
class AlignedSegment:
    query_start: float
    query_end: float
    ref_start: float
    ref_end: float
    score: float
    """Mean fused score of the aligned samples that carry content (common scale)."""
    modalities: dict[str, float | None]
    """Mean raw similarity per modality present on both sides (None: no content to compare)."""
    series: SimilaritySeries | None = field(default=None, compare=False, repr=False)
    """The per-sample similarities at this segment's shift, along the whole query (the evidence
    plots them)."""


def first_sample(track: FeatureTrack) -> int:
    """The position in its whole track of a track's (or window's) first sample."""
    return int(round(track.start / track.step))


def part(track: FeatureTrack, first: int, stop: int) -> FeatureTrack:
    """Samples [first, stop) of a query track, as a track of their own (same `start` phase)."""
    return FeatureTrack(track.modality, track.step, track.vectors[first:stop], track.valid[first:stop], track.start)


def diagonal(query: FeatureTrack, ref: FeatureTrack, shift: int, length: int) -> np.ndarray:
    """Similarity of query sample t with reference sample t + shift; NaN without content. `ref`
    may be a window of the reference's track (`FeatureTrack.start`)."""
    out = np.full(length, np.nan, np.float32)
    t0, t1, r = _overlap(query, ref, shift, length)
    if t1 > t0:
        sims = np.einsum("ij,ij->i", query.vectors[t0:t1], ref.vectors[t0 + r:t1 + r])
        usable = query.valid[t0:t1] & ref.valid[t0 + r:t1 + r]
        out[t0:t1] = np.where(usable, sims, np.nan)
    return out


def _overlap(query: FeatureTrack, ref: FeatureTrack, shift: int, length: int) -> tuple[int, int, int]:
    """The query samples [lo, hi) that have a reference sample at this shift, and the shift
    within `ref`'s own samples."""
    r = shift - first_sample(ref)
    return max(0, -r), min(len(query), len(ref) - r, length), r


def _both_blank(query: FeatureTrack, ref: FeatureTrack, shift: int, length: int) -> np.ndarray:
    """Query samples without content whose reference sample at this shift has none either."""
    out = np.zeros(length, bool)
    t0, t1, r = _overlap(query, ref, shift, length)
    if t1 > t0:
        out[t0:t1] = ~query.valid[t0:t1] & ~ref.valid[t0 + r:t1 + r]
    return out


def _trimmed(excess: np.ndarray, a: int, b: int) -> tuple[int, int]:
    """[a, b] from its first to its last sample with `excess` (over the frame threshold); as it is
    where none has."""
    hits = np.flatnonzero(excess[a:b + 1] > 0)
    return (a + int(hits[0]), a + int(hits[-1])) if len(hits) else (a, b)


def _widen(blank: np.ndarray, a: int, b: int, most: int) -> tuple[int, int]:
    """Stretch a segment [a, b] over up to `most` `blank` samples each way: black or text-card
    frames at the edges of a copy, aligned with the same in the reference, prove nothing but
    belong to the copied range."""
    for _ in range(most):
        if a == 0 or not blank[a - 1]:
            break
        a -= 1
    for _ in range(most):
        if b + 1 >= len(blank) or not blank[b + 1]:
            break
        b += 1
    return a, b


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


def fuse(raw: dict[str, np.ndarray], scales: dict[str, Scale], frame_threshold: float,
         bonus: float) -> np.ndarray:
    """Per sample, the best modality's similarity on the common scale, plus `bonus` for each
    further modality at `frame_threshold` or above."""
    if len(raw) == 1:  # one modality (the picture at a fractional shift): nothing to agree with
        [(m, sims)] = raw.items()
        return scales[m](sims).astype(np.float64)
    stacked = np.stack([scales[m](p) for m, p in raw.items()])
    with np.errstate(all="ignore"):
        best = np.where(np.isnan(stacked).all(axis=0), np.nan,
                        np.nanmax(np.where(np.isnan(stacked), -np.inf, stacked), axis=0))
        agree = (np.nan_to_num(stacked, nan=-1.0) >= frame_threshold).sum(axis=0)
    return best + bonus * np.maximum(agree - 1, 0)


@dataclass(frozen=True)
class AlignParams:
    """See the `Config` fields of the same names (`radius` is `align_radius_seconds`, `min_score`
    `candidate_threshold`, `frame_threshold` `frame_min_similarity`, `min_seconds`
    `min_segment_seconds`, `max_segments` `max_segments_per_hypothesis`)."""

    radius: float
    frame_threshold: float
    agreement_bonus: float
    gap_seconds: float
    min_seconds: float
    min_score: float
    max_segments: int
    context: float = float("inf")
    """`align_context_seconds`."""
    jitter: float = 0.0
    """`align_jitter_seconds`."""

    @classmethod
    def from_config(cls, cfg: Config) -> AlignParams:
        return cls(cfg.align_radius_seconds, cfg.frame_min_similarity, cfg.agreement_bonus, cfg.gap_seconds,
                   cfg.min_segment_seconds, cfg.candidate_threshold, cfg.max_segments_per_hypothesis,
                   cfg.align_context_seconds, cfg.align_jitter_seconds)


def shift_band(offset: float, step: float, radius: float) -> range:
    """The sample shifts alignment tries around a voted `offset` (seconds)."""
    center, width = int(round(offset / step)), int(np.ceil(radius / step))
    return range(center - width, center + width + 1)


def reference_window(offset: float, step: float, radius: float, query_samples: int) -> tuple[int, int]:
    """The reference samples [first, stop) that aligning a query of `query_samples` samples at
    `offset` (within `radius`) can touch: all a windowed read needs."""
    band = shift_band(offset, step, radius)
    return max(0, band.start), max(0, band.stop - 1 + query_samples)


def best_diagonal(alternatives: list[FeatureTrack], ref: FeatureTrack, shift: int, length: int) -> np.ndarray:
    """Per sample, the best similarity of any alternative query track (picture variants)."""
    diagonals = [diagonal(track, ref, shift, length) for track in alternatives]
    return diagonals[0] if len(diagonals) == 1 else np.fmax.reduce(diagonals)


Shift = tuple[int, int]
"""(whole sample shift, phase): phase p of m is the fractional shift `shift - p/m` samples,
measured with the query's picture sampled p/m of a step later."""


def position(key: Shift, phases: int) -> int:
    """Where shift `key` lies among all fractional shifts, in 1 / `phases` of a step."""
    shift, phase = key
    return shift * phases - phase


def jittered(raw: dict[Shift, dict[str, np.ndarray]], phases: int, reach: int) -> dict[Shift, dict[str, np.ndarray]]:
    """Each shift's picture diagonal, sample by sample the best of the shifts up to `reach`
    fractional steps (1 / `phases` of a step) either side of it: a copy's picture may run a little
    ahead of or behind the reference's (a speed change drifts through the phases; a frame-rate
    change moves its frames), and along one exact shift its fast motion would miss."""
    if reach <= 0 or not raw:
        return raw
    ordered = {position(key, phases): key for key in raw}
    out = {}
    for at, key in ordered.items():
        near = [raw[ordered[p]][PRIMARY] for p in range(at - reach, at + reach + 1)
                if p in ordered and PRIMARY in raw[ordered[p]]]
        out[key] = {**raw[key], PRIMARY: np.fmax.reduce(near)} if PRIMARY in raw[key] else raw[key]
    return out


def align(
    query: dict[str, list[FeatureTrack]],
    ref: dict[str, FeatureTrack],
    offset: float,
    scales: dict[str, Scale],
    params: AlignParams,
    *,
    ref_duration: float,
    query_duration: float,
    phases: list[list[FeatureTrack]] | None = None,
    portrait_phases: list[FeatureTrack] | None = None,
) -> list[AlignedSegment]:
    """Segments of the query aligned with `ref` at shifts within `params.radius` of `offset`.

    `query` holds, per modality, one track or several alternatives (picture variants: a sample
    takes the best of them). Blank frames are read from the picture (`PRIMARY`), its first
    alternative being the picture as it is. `phases`: per phase p from 1, the picture's
    alternatives sampled p / (len(phases) + 1) of a step later (`PictureVariant.phases`), which the
    fractional shifts align alone. `query[REFRAME]`, the picture's portrait samples, meets the
    reference's `REFRAME` track at whole shifts, and `portrait_phases` (per phase from 1, those
    samples p / (len(phases) + 1) of a step later: `QueryFingerprint.portrait`'s phases) at the
    fractional ones; each sample's picture similarity is the better of the two.
    """
    reframed = query.get(REFRAME) if REFRAME in ref and PRIMARY in ref else None
    modalities = [m for m in query if m in ref and m in scales and query[m] and m != REFRAME]
    if not modalities:
        return []
    phases = [tracks for tracks in phases or [] if tracks] if PRIMARY in modalities else []
    portrait_phases = portrait_phases if reframed and portrait_phases and len(portrait_phases) == len(phases) else []
    steps = {track.step for m in modalities for track in query[m]} | {ref[m].step for m in modalities} \
        | {track.step for tracks in phases for track in tracks}
    if len(steps) != 1:
        raise ValueError(f"tracks sampled at different steps: {sorted(steps)}")
    step = steps.pop()
    length = max(len(track) for track in [*(t for ts in phases for t in ts), *(t for m in modalities for t in query[m])])
    band = shift_band(offset, step, params.radius)
    shifts: list[Shift] = [(s, p) for p in range(len(phases) + 1) for s in band]
    fraction = [0.0, *(tracks[0].start / step for tracks in phases)]  # of a step, per phase

    def diagonals(s: int, phase: int) -> dict[str, np.ndarray]:
        if not phase:
            out = {m: best_diagonal(query[m], ref[m], s, length) for m in modalities}
            if reframed and PRIMARY in out:
                out[PRIMARY] = np.fmax(out[PRIMARY], best_diagonal(reframed, ref[REFRAME], s, length))
            return out
        picture = best_diagonal(phases[phase - 1], ref[PRIMARY], s, length)
        if portrait_phases:
            picture = np.fmax(picture, diagonal(portrait_phases[phase - 1], ref[REFRAME], s, length))
        return {PRIMARY: picture}

    per_step = len(phases) + 1
    reach = int(np.floor(params.jitter * per_step / step + 1e-9))  # in fractional shifts
    exact = {key: diagonals(*key) for key in shifts}
    raw = jittered(exact, per_step, reach)

    fused = {key: fuse(raw[key], scales, params.frame_threshold, params.agreement_bonus) for key in shifts}
    exact_fused = {key: fuse(exact[key], scales, params.frame_threshold, params.agreement_bonus)
                   for key in shifts} if reach else fused
    exact_excess = {key: np.nan_to_num(np.clip(values - params.frame_threshold, 0.0, None))
                    for key, values in exact_fused.items()} if reach else {}  # read only with a jitter

    def placed(key: Shift, a: int, b: int) -> Shift:
        """The shift within the jitter's reach of `key` whose own samples match the free ones of
        [a, b] best (on a tie, the first: the whole shift): a segment found with tolerance is placed
        exactly."""
        if not reach:
            return key
        near = [k for k in shifts if abs(position(k, per_step) - position(key, per_step)) <= reach]
        return max(near, key=lambda k: exact_excess[k][a:b + 1] @ free[a:b + 1])

    free = np.ones(length, bool)
    found: list[AlignedSegment] = []
    max_gap, min_len = int(round(params.gap_seconds / step)), int(round(params.min_seconds / step))

    # each shift's strength over the free samples: its excess over the frame threshold, summed
    excess = np.nan_to_num(np.clip(np.stack([fused[key] for key in shifts]) - params.frame_threshold, 0.0, None))

    while len(found) < params.max_segments:
        strengths = excess @ free
        best = int(np.argmax(strengths))  # on a tie, the first: the whole shift
        if strengths[best] <= 0:
            break
        key = shifts[best]
        profile = np.where(free, fused[key], np.nan)
        for a, b in runs(profile, params.frame_threshold, max_gap):
            at = placed_shift, placed_phase = placed(key, a, b)
            if reach:  # the ends where the placed shift's own samples match: a cut stays sharp, and
                a, b = _trimmed(exact_excess[at] * free, a, b)  # what lies beyond is searched again
            if PRIMARY in modalities:
                picture = (phases[placed_phase - 1] if placed_phase else query[PRIMARY])[0]
                blank = _both_blank(picture, ref[PRIMARY], placed_shift, length) & np.isnan(exact_fused[at]) & free
                a, b = _widen(blank, a, b, max_gap)
            free[a:b + 1] = False
            values = profile[a:b + 1]
            if b - a + 1 < min_len or np.isnan(values).all():
                continue
            score = float(np.nanmean(values))
            if score < params.min_score:
                continue
            per_modality = {}
            for m in modalities:  # None where not measured (the sound at a fractional shift)
                seg = raw[at][m][a:b + 1] if m in raw[at] else np.full(1, np.nan)
                per_modality[m] = None if np.isnan(seg).all() else float(np.nanmean(seg))
            q0 = (a + fraction[placed_phase]) * step
            q1 = min((b + 1 + fraction[placed_phase]) * step, query_duration)
            r0 = (a + placed_shift) * step  # the reference sample the segment's first sample met
            series = SimilaritySeries(step, {m: scales[m](values) for m, values in raw[at].items()})
            found.append(AlignedSegment(q0, q1, max(0.0, r0), min(ref_duration, r0 + (q1 - q0)),
                                        min(score, 1.0), per_modality, series))
    return found
