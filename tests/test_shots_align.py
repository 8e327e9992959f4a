import dataclasses

import numpy as np
import pytest

from fp.fingerprint.shots import build_shots, segment_shots
from fp.fingerprint.types import REFRAME, FeatureTrack, PictureVariant, QueryFingerprint
from fp.index.reader import neighbours
from fp.index.store import ShotTable
from fp.index.vectors import VectorIndex
from fp.matcher.align import AlignParams, Scale, SimilaritySeries, align, fuse, reference_window, runs
from fp.matcher.candidates import VoteParams, candidates, peaks, shot_votes

IDENTITY = {"visual": Scale(0.42, 0.6, 0.42, 0.6)}
PARAMS = AlignParams(radius=7.0, frame_threshold=0.42, agreement_bonus=0.05, gap_seconds=2.0, min_seconds=2.0,
                     min_score=0.4, max_segments=8)
VOTES = VoteParams(knn=5, shot_min_similarity=0.3, hypotheses_per_minute=5, vote_neighbour_weight=0.5)


def searcher(indexes, table):
    """`IndexReader.neighbours` over in-memory k-NN indexes and a shot table."""
    return lambda modality, queries, k: neighbours(indexes[modality], table, queries, k)


def shots_of(track, duration):
    spans = segment_shots(track, cut_distance=0.5, min_seconds=1.0, max_seconds=6.0)
    return build_shots({track.modality: track}, spans, track.step, duration)


def random_track(n, dim=32, seed=0, shot_len=6):
    """A synthetic track: shots of `shot_len` samples, each a noisy copy of a random direction."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(n // shot_len + 1, dim))
    vecs = np.repeat(centres, shot_len, axis=0)[:n] + 0.3 * rng.normal(size=(n, dim))
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    return FeatureTrack("visual", 0.5, vecs.astype(np.float32), np.ones(n, bool))


def test_shots_follow_cuts_and_long_shots_are_sliced():
    track = random_track(60, shot_len=6)
    spans = segment_shots(track, cut_distance=0.5, min_seconds=1.0, max_seconds=6.0)
    assert [a for a, _ in spans][:5] == [0, 6, 12, 18, 24]
    long = random_track(60, shot_len=60)
    spans = segment_shots(long, cut_distance=0.5, min_seconds=1.0, max_seconds=6.0)
    assert all(b - a <= 12 for a, b in spans) and spans[0][0] == 0 and spans[-1][1] == 60


def test_blank_samples_get_no_fingerprint():
    track = random_track(24)
    track.valid[6:12] = False
    shots = shots_of(track, 12.0)
    blank = [s for s in shots if not s.vectors]
    assert [(s.start, s.end) for s in blank] == [(3.0, 6.0)]


def test_runs_bridge_short_gaps():
    profile = np.array([0.9, 0.9, 0.1, 0.9, np.nan, np.nan, np.nan, 0.9, 0.1, 0.1])
    assert runs(profile, 0.5, max_gap=1) == [(0, 3), (7, 7)]
    assert runs(profile, 0.5, max_gap=3) == [(0, 7)]


def excerpt(track, a, b, noise=0.15, seed=1):
    rng = np.random.default_rng(seed)
    v = track.vectors[a:b] + noise * rng.normal(size=track.vectors[a:b].shape)
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    return FeatureTrack("visual", track.step, v.astype(np.float32), np.ones(b - a, bool))


def test_align_recovers_offset_and_ranges():
    ref = random_track(400, seed=3)
    unrelated = random_track(40, seed=4)
    query = FeatureTrack("visual", 0.5, np.concatenate([unrelated.vectors, excerpt(ref, 101, 161).vectors]),
                         np.ones(100, bool))
    [seg] = align({"visual": [query]}, {"visual": ref}, 30.0, IDENTITY, PARAMS, ref_duration=200.0,
                  query_duration=50.0)
    assert seg.query_start == pytest.approx(20.0) and seg.query_end == pytest.approx(50.0)
    assert seg.ref_start == pytest.approx(50.5) and seg.ref_end == pytest.approx(80.5)
    assert seg.score > 0.7 and seg.modalities["visual"] == pytest.approx(seg.score)


def test_samples_half_a_step_later_align_at_the_half_shift_between():
    """A copy whose every sample falls between two of the reference's, in content that changes
    from one sample to the next: the picture as sampled misses it, the samples half a step later
    (reference samples 101-160 met at 0.25 s, 0.75 s ...) place it to the quarter second. The
    sound, sampled on the whole grid, stays at the whole shifts."""
    ref = random_track(400, seed=3, shot_len=1)
    sampled = FeatureTrack("visual", 0.5, random_track(60, seed=5, shot_len=1).vectors, np.ones(60, bool))
    later = FeatureTrack("visual", 0.5, excerpt(ref, 101, 161).vectors, np.ones(60, bool), start=0.25)
    kwargs = dict(ref_duration=200.0, query_duration=30.0)
    assert align({"visual": [sampled]}, {"visual": ref}, 50.0, IDENTITY, PARAMS, **kwargs) == []
    [seg] = align({"visual": [sampled]}, {"visual": ref}, 50.0, IDENTITY, PARAMS, phases=[[later]], **kwargs)
    assert (seg.query_start, seg.query_end) == pytest.approx((0.25, 30.0))
    assert seg.ref_start - seg.query_start == pytest.approx(50.25)  # reference sample 101 at 50.5 s
    sound = excerpt(random_track(400, seed=6), 100, 160)
    tracks = {"visual": [sampled], "audio": [sound]}
    refs = {"visual": ref, "audio": random_track(400, seed=6)}
    found = align(tracks, refs, 50.0, {**IDENTITY, "audio": IDENTITY["visual"]}, PARAMS, phases=[[later]], **kwargs)
    [seg] = found
    assert seg.ref_start - seg.query_start == pytest.approx(50.25) and seg.modalities["audio"] is None



def test_quarter_phases_place_a_copy_an_eighth_of_a_step_off_the_half_grid():
    """Four phases: the picture also sampled a quarter, a half and three quarters of a step later.
    A copy whose samples only meet the reference's at three quarters of a step is missed by the
    half phase alone and found with the quarter phases, placed to an eighth of a second."""
    ref = random_track(400, seed=3, shot_len=1)
    step = 0.5

    def phase(p, vectors):
        return FeatureTrack("visual", step, vectors, np.ones(60, bool), start=p * step / 4)

    noise = [random_track(60, seed=10 + p, shot_len=1).vectors for p in range(4)]
    tracks = {"visual": [phase(0, noise[0])]}
    kwargs = dict(ref_duration=200.0, query_duration=30.0)
    halves = [[phase(2, noise[2])]]
    assert align(tracks, {"visual": ref}, 50.0, IDENTITY, PARAMS, phases=halves, **kwargs) == []
    quarters = [[phase(1, noise[1])], [phase(2, noise[2])], [phase(3, excerpt(ref, 101, 161).vectors)]]
    [seg] = align(tracks, {"visual": ref}, 50.0, IDENTITY, PARAMS, phases=quarters, **kwargs)
    assert seg.query_start == pytest.approx(0.375)
    assert seg.ref_start - seg.query_start == pytest.approx(50.125)  # reference sample 101 at 50.5 s

def test_jitter_lets_a_copy_waver_between_neighbouring_phases_and_places_it_exactly():
    """A copy whose frames waver an eighth of a step about the reference's (a frame-rate change):
    every other sample meets the reference at the next fractional shift. Along exact shifts half
    its samples miss and it scores low; with a jitter of one phase each sample takes its best
    neighbour and it scores as a clean copy, placed at the exact shift, the first sample that
    matches there first. A copy that jumps a phase halfway stays two pieces, each placed exactly."""
    ref = random_track(400, seed=3, shot_len=1)
    step = 0.5
    noise = [random_track(60, seed=10 + p, shot_len=1).vectors for p in range(4)]
    on_grid, later = noise[0].copy(), noise[1].copy()
    on_grid[0::2] = ref.vectors[100:160:2]  # even samples meet reference sample i + 100 at their instant
    later[1::2] = ref.vectors[101:160:2]  # odd ones a quarter of a step later
    tracks = {"visual": [FeatureTrack("visual", step, on_grid, np.ones(60, bool))]}
    phases = [[FeatureTrack("visual", step, v, np.ones(60, bool), start=p * step / 4)]
              for p, v in enumerate([later, noise[2], noise[3]], 1)]
    kwargs = dict(ref_duration=200.0, query_duration=30.0, phases=phases)
    exact = max(align(tracks, {"visual": ref}, 50.0, IDENTITY, PARAMS, **kwargs), key=lambda seg: seg.score)
    jitter = dataclasses.replace(PARAMS, jitter=step / 4)
    [seg] = align(tracks, {"visual": ref}, 50.0, IDENTITY, jitter, **kwargs)
    assert exact.score < 0.7 < 0.9 < seg.score
    assert seg.query_start == pytest.approx(0.0) and seg.query_end == pytest.approx(29.5)  # last even sample
    assert seg.ref_start == pytest.approx(50.0)

    on_grid, later = noise[0].copy(), noise[1].copy()
    on_grid[:30], later[30:] = ref.vectors[100:130], ref.vectors[130:160]
    tracks = {"visual": [FeatureTrack("visual", step, on_grid, np.ones(60, bool))]}
    phases[0] = [FeatureTrack("visual", step, later, np.ones(60, bool), start=step / 4)]
    pieces = sorted(align(tracks, {"visual": ref}, 50.0, IDENTITY, jitter, **kwargs), key=lambda seg: seg.query_start)
    assert [(seg.query_start, seg.ref_start - seg.query_start) for seg in pieces] == \
        [pytest.approx((0.0, 50.0)), pytest.approx((15.125, 49.875))]


def test_blank_edges_belong_to_the_copy_only_where_the_reference_is_blank_too():
    ref = random_track(400, seed=3)
    copy = excerpt(ref, 100, 160)
    valid = np.ones(60, bool)
    valid[:3] = False  # the copy opens on 1.5 s of black...
    ref_valid = ref.valid.copy()
    ref_valid[100:103] = False  # ...as the reference does there
    query = FeatureTrack("visual", 0.5, copy.vectors, valid)
    reference = FeatureTrack("visual", 0.5, ref.vectors, ref_valid)
    [seg] = align({"visual": [query]}, {"visual": reference}, 50.0, IDENTITY, PARAMS, ref_duration=200.0,
                  query_duration=30.0)
    assert seg.query_start == pytest.approx(0.0) and seg.ref_start == pytest.approx(50.0)
    [seg] = align({"visual": [query]}, {"visual": ref}, 50.0, IDENTITY, PARAMS, ref_duration=200.0,
                  query_duration=30.0)  # a black opening over a picture: not the copy's
    assert seg.query_start == pytest.approx(1.5) and seg.ref_start == pytest.approx(51.5)


def test_align_finds_two_pieces_at_nearby_offsets():
    ref = random_track(400, seed=5)
    query = FeatureTrack("visual", 0.5, np.concatenate([excerpt(ref, 100, 140).vectors,
                                                        excerpt(ref, 146, 186, seed=2).vectors]),
                         np.ones(80, bool))
    segs = align({"visual": [query]}, {"visual": ref}, 50.0, IDENTITY, PARAMS, ref_duration=200.0,
                 query_duration=40.0)
    got = sorted((round(s.query_start, 1), round(s.ref_start, 1)) for s in segs)
    assert got == [(0.0, 50.0), (20.0, 73.0)]


def test_votes_peak_at_the_true_title_and_offset():
    ref = random_track(300, seed=6)
    other = random_track(300, seed=7)
    index, rows, starts, ends, titles = VectorIndex(32), [], [], [], []
    sid = 1
    for t, track in enumerate([ref, other]):
        for shot in shots_of(track, 150.0):
            index.add(np.array([sid]), shot.vectors["visual"][None])
            rows.append(sid), titles.append(t), starts.append(shot.start), ends.append(shot.end)
            sid += 1
    table = ShotTable(np.array(rows), np.array(titles), np.array(starts), np.array(ends), ["ref", "other"])
    query = excerpt(ref, 60, 120)
    votes = shot_votes(shots_of(query, 30.0), searcher({"visual": index}, table), ["visual"], IDENTITY, VOTES)
    best = peaks(votes, VOTES, 5)[0]
    assert best.title_id == "ref" and best.offset == pytest.approx(30.0, abs=1.0)


def test_one_intact_modality_is_enough_and_agreement_raises_the_score():
    scales = {"visual": Scale(0.42, 0.6, 0.42, 0.6), "audio": Scale(0.5, 0.7, 0.42, 0.6)}
    ref_v, ref_a = random_track(200, seed=8), random_track(200, seed=9)
    ref_a = FeatureTrack("audio", 0.5, ref_a.vectors, ref_a.valid)
    copy_a = FeatureTrack("audio", 0.5, excerpt(ref_a, 40, 100).vectors, np.ones(60, bool))
    black = FeatureTrack("visual", 0.5, excerpt(ref_v, 0, 60).vectors, np.zeros(60, bool))
    [seg] = align({"visual": [black], "audio": [copy_a]}, {"visual": ref_v, "audio": ref_a}, 20.0,
                  scales, PARAMS, ref_duration=100.0, query_duration=30.0)
    assert seg.ref_start == pytest.approx(20.0) and seg.modalities["visual"] is None
    both = align({"visual": [excerpt(ref_v, 40, 100)], "audio": [copy_a]}, {"visual": ref_v, "audio": ref_a},
                 20.0, scales, PARAMS, ref_duration=100.0, query_duration=30.0)[0]
    assert both.score > seg.score and set(both.modalities) == {"visual", "audio"}


def test_fuse_takes_the_best_modality_and_ignores_missing_content():
    scales = {"visual": Scale(0.42, 0.6, 0.42, 0.6), "audio": Scale(0.5, 0.7, 0.42, 0.6)}
    raw = {"visual": np.array([0.6, np.nan, np.nan, 0.1]), "audio": np.array([0.7, 0.7, np.nan, 0.1])}
    fused = fuse(raw, scales, 0.42, 0.05)
    assert fused[0] == pytest.approx(0.65) and fused[1] == pytest.approx(0.6)
    assert np.isnan(fused[2]) and fused[3] < 0.42


class Counting:
    """A k-NN index that counts its searches."""

    def __init__(self, index):
        self.index, self.searches = index, 0

    def __len__(self):
        return len(self.index)

    def search(self, vectors, k):
        self.searches += 1
        return self.index.search(vectors, k)


def test_candidates_search_shared_tracks_once_and_merge_the_variants_that_agree():
    ref_v, ref_a = random_track(300, seed=6), random_track(300, seed=9)
    ref_a = FeatureTrack("audio", 0.5, ref_a.vectors, ref_a.valid)
    indexes = {"visual": Counting(VectorIndex(32)), "audio": Counting(VectorIndex(32))}
    rows, starts, ends, sid = [], [], [], 1
    for track in (ref_v, ref_a):
        for shot in shots_of(track, 150.0):
            indexes[track.modality].index.add(np.array([sid]), shot.vectors[track.modality][None])
            rows.append(sid), starts.append(shot.start), ends.append(shot.end)
            sid += 1
    table = ShotTable(np.array(rows), np.zeros(len(rows), int), np.array(starts), np.array(ends), ["ref"])
    copy, noise = excerpt(ref_v, 60, 120), random_track(60, seed=11)
    audio = FeatureTrack("audio", 0.5, excerpt(ref_a, 60, 120).vectors, np.ones(60, bool))
    spans = segment_shots(copy, cut_distance=0.5, min_seconds=1.0, max_seconds=6.0)
    variants = [PictureVariant(name, track, build_shots({"visual": track}, spans, 0.5, 30.0))
                for name, track in (("picture", copy), ("picture mirrored", noise), ("window", noise))]
    query = QueryFingerprint(None, variants, {"audio": audio}, build_shots({"audio": audio}, spans, 0.5, 30.0))
    scales = {**IDENTITY, "audio": IDENTITY["visual"]}
    hyps = candidates(query, searcher(indexes, table), ["visual", "audio"], scales, VOTES)
    assert indexes["audio"].searches == 1 and indexes["visual"].searches == 3
    best = hyps[0]
    assert best.title_id == "ref" and best.offset == pytest.approx(30.0, abs=1.0)
    # the soundtrack's votes peak there for every variant: one hypothesis, all of them behind it
    assert set(best.variants) == {"picture", "picture mirrored", "window"}
    assert len({(h.title_id, h.offset) for h in hyps}) == len(hyps)


def test_longer_suspects_get_proportionally_more_hypotheses():
    """A 6-minute suspect made of 12 half-minute copies of one title, each from another place of
    it: at 2 hypotheses per started minute, every copy's offset is among them; its first minute
    alone gets 2."""
    ref = random_track(1200, seed=21)  # 600 s
    index, rows, starts, ends = VectorIndex(32), [], [], []
    for sid, shot in enumerate(shots_of(ref, 600.0), start=1):
        index.add(np.array([sid]), shot.vectors["visual"][None])
        rows.append(sid), starts.append(shot.start), ends.append(shot.end)
    table = ShotTable(np.array(rows), np.zeros(len(rows), int), np.array(starts), np.array(ends), ["ref"])
    sources = [(k * 97) % 1140 for k in range(12)]  # sample where each copy starts in the title
    pieces = [excerpt(ref, a, a + 60, seed=k) for k, a in enumerate(sources)]
    offsets = {round((a - 60 * k) * 0.5) for k, a in enumerate(sources)}  # seconds, title minus suspect
    votes = VoteParams(knn=5, shot_min_similarity=0.3, hypotheses_per_minute=2, vote_neighbour_weight=0.5)

    def hypotheses(tracks):
        vectors = np.concatenate([t.vectors for t in tracks])
        track = FeatureTrack("visual", 0.5, vectors, np.ones(len(vectors), bool))
        duration = 30.0 * len(tracks)
        spans = segment_shots(track, cut_distance=0.5, min_seconds=1.0, max_seconds=6.0)
        variant = PictureVariant("picture", track, build_shots({"visual": track}, spans, 0.5, duration))
        return candidates(QueryFingerprint(None, [variant], {}, []), searcher({"visual": index}, table),
                          ["visual"], IDENTITY, votes)

    assert votes.max_hypotheses(30.0) == votes.max_hypotheses(60.0) == 2 and votes.max_hypotheses(61.0) == 4
    long = hypotheses(pieces)
    assert len(long) == 12 and {round(h.offset) for h in long} == offsets
    assert len(hypotheses(pieces[:2])) == 2


def test_alignment_takes_the_best_picture_variant_per_sample():
    ref = random_track(400, seed=3)
    copy = excerpt(ref, 100, 160)
    mirrored_half = FeatureTrack("visual", 0.5, np.concatenate([random_track(30, seed=12).vectors,
                                                               copy.vectors[30:]]), np.ones(60, bool))
    as_is_half = FeatureTrack("visual", 0.5, np.concatenate([copy.vectors[:30], random_track(30, seed=13).vectors]),
                              np.ones(60, bool))
    [alone] = align({"visual": [copy]}, {"visual": ref}, 50.0, IDENTITY, PARAMS, ref_duration=200.0,
                    query_duration=30.0)
    [both] = align({"visual": [as_is_half, mirrored_half]}, {"visual": ref}, 50.0, IDENTITY, PARAMS,
                   ref_duration=200.0, query_duration=30.0)
    assert (both.query_start, both.query_end, both.ref_start) == (alone.query_start, alone.query_end, alone.ref_start)
    assert both.score == pytest.approx(alone.score, abs=1e-6)


def test_aligning_against_a_window_equals_aligning_against_the_whole_track():
    ref = random_track(2000, seed=21)
    query = excerpt(ref, 1500, 1560)
    query = FeatureTrack("visual", 0.5, query.vectors, query.valid)
    whole = align({"visual": [query]}, {"visual": ref}, 751.0, IDENTITY, PARAMS, ref_duration=1000.0,
                  query_duration=30.0)
    first, stop = reference_window(751.0, 0.5, PARAMS.radius, len(query))
    assert stop - first < 100  # the radius and the query, not the title
    part = FeatureTrack("visual", 0.5, ref.vectors[first:stop], ref.valid[first:stop], first * 0.5)
    windowed = align({"visual": [query]}, {"visual": part}, 751.0, IDENTITY, PARAMS, ref_duration=1000.0,
                     query_duration=30.0)
    assert whole and windowed == whole
    assert whole[0].ref_start == pytest.approx(750.0)
    assert all(np.array_equal(a.series.values["visual"], b.series.values["visual"], equal_nan=True)
               for a, b in zip(whole, windowed))


def test_a_series_of_part_of_the_query_is_placed_along_the_whole_query():
    part_of = SimilaritySeries(0.5, {"visual": np.array([0.1, 0.2, 0.3], np.float32)})
    for first in (0, 4):  # a part at the start of a long query, and one inside it
        whole = part_of.placed(first, 10).values["visual"]
        assert len(whole) == 10 and np.array_equal(whole[first:first + 3], part_of.values["visual"])
        assert np.isnan(np.delete(whole, range(first, first + 3))).all()


def test_portrait_samples_meet_the_reframe_track_as_picture_evidence():
    """A phone reframe matches the title's centre squares (`REFRAME`), not its frames: only its
    portrait samples are compared with them, and what they find counts as picture."""
    frames, squares = random_track(400, seed=3), random_track(400, seed=31)
    squares = FeatureTrack(REFRAME, 0.5, squares.vectors, squares.valid)
    copy = excerpt(squares, 100, 160)
    ref = {"visual": frames, REFRAME: squares}
    assert align({"visual": [copy]}, ref, 50.0, IDENTITY, PARAMS, ref_duration=200.0, query_duration=30.0) == []
    portrait = FeatureTrack("visual", 0.5, copy.vectors, np.arange(60) < 40)  # the last 20 s landscape
    [seg] = align({"visual": [copy], REFRAME: [portrait]}, ref, 50.0, IDENTITY, PARAMS, ref_duration=200.0,
                  query_duration=30.0)
    assert (seg.query_start, seg.query_end, seg.ref_start) == (0.0, 20.0, 50.0)
    assert seg.score > 0.7 and set(seg.modalities) == {"visual"}


def test_portrait_samples_between_the_samples_meet_the_reframe_track_at_fractional_shifts():
    """A phone reframe cut three quarters of a step off the grid, in content that changes every
    sample: its portrait samples meet the title's centre squares only at their phase."""
    squares = random_track(400, seed=3, shot_len=1)
    squares = FeatureTrack(REFRAME, 0.5, squares.vectors, squares.valid)
    ref = {"visual": random_track(400, seed=31), REFRAME: squares}
    step, kwargs = 0.5, dict(ref_duration=200.0, query_duration=30.0)

    def phase(p, vectors):
        return FeatureTrack("visual", step, vectors, np.ones(60, bool), start=p * step / 4)

    off = [random_track(60, seed=10 + p, shot_len=1).vectors for p in range(3)]
    picture = [phase(0, off[0])]
    tracks = {"visual": picture, REFRAME: picture}
    phases = [[phase(p, off[p])] for p in (1, 2)] + [[phase(3, random_track(60, seed=13, shot_len=1).vectors)]]
    portrait = [phase(1, off[1]), phase(2, off[2]), phase(3, excerpt(squares, 101, 161).vectors)]
    assert align(tracks, ref, 50.0, IDENTITY, PARAMS, phases=phases, **kwargs) == []
    [seg] = align(tracks, ref, 50.0, IDENTITY, PARAMS, phases=phases, portrait_phases=portrait, **kwargs)
    assert seg.query_start == pytest.approx(0.375)
    assert seg.ref_start - seg.query_start == pytest.approx(50.125)  # centre square 101 at 50.5 s
    assert seg.score > 0.7 and set(seg.modalities) == {"visual"}


def test_portrait_shots_search_the_reframe_vectors_for_the_picture():
    squares = random_track(300, seed=6)
    squares = FeatureTrack(REFRAME, 0.5, squares.vectors, squares.valid)
    indexes = {REFRAME: Counting(VectorIndex(32))}
    rows, starts, ends = [], [], []
    for sid, shot in enumerate(shots_of(squares, 150.0), start=1):
        indexes[REFRAME].index.add(np.array([sid]), shot.vectors[REFRAME][None])
        rows.append(sid), starts.append(shot.start), ends.append(shot.end)
    table = ShotTable(np.array(rows), np.zeros(len(rows), int), np.array(starts), np.array(ends), ["ref"])
    copy = excerpt(squares, 60, 120)
    copy = FeatureTrack("visual", 0.5, copy.vectors, copy.valid)
    spans = segment_shots(copy, cut_distance=0.5, min_seconds=1.0, max_seconds=6.0)
    picture = PictureVariant("picture", copy, build_shots({"visual": copy}, spans, 0.5, 30.0))
    search, scales = searcher(indexes, table), {**IDENTITY, REFRAME: IDENTITY["visual"]}
    assert candidates(QueryFingerprint(None, [picture], {}, []), search, [REFRAME], scales, VOTES) == []
    query = QueryFingerprint(None, [picture], {}, [], dataclasses.replace(picture, name="portrait"))
    best = candidates(query, search, [REFRAME], scales, VOTES)[0]
    assert indexes[REFRAME].searches == 1
    assert (best.title_id, best.variants) == ("ref", ("picture",)) and best.offset == pytest.approx(30.0, abs=1.0)
