"""Property tests: the subtitle parser, voting and alignment, and the JSON output never crash
and always return well-formed answers, whatever the input."""

import dataclasses
import json

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from fp.data.subtitles import decode_text, parse_cues
from fp.fingerprint.types import FeatureTrack
from fp.matcher.align import AlignParams, Scale, align
from fp.matcher.types import Match, MatchReport

timestamp = st.builds(lambda h, m, s, ms, sep: f"{h:02d}:{m:02d}:{s:02d}{sep}{ms:03d}",
                      st.integers(0, 99), st.integers(0, 99), st.integers(0, 99), st.integers(0, 999),
                      st.sampled_from([",", "."]))
cue = st.builds(lambda a, b, text, junk: f"{junk}\n{a} --> {b}\n{text}\n", timestamp, timestamp,
                st.text(max_size=40), st.text(max_size=10))


@settings(max_examples=200, deadline=None)
@given(st.lists(cue, max_size=8), st.text(max_size=200))
def test_subtitle_parser_returns_sane_cues(cues, noise):
    doc = noise + "\n\n" + "\n".join(cues)
    parsed = parse_cues(doc)
    assert all(c.start >= 0 and c.end > c.start and c.text and "\n" not in c.text for c in parsed)
    assert [c.start for c in parsed] == sorted(c.start for c in parsed)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=400))
def test_any_bytes_decode_to_text(data):
    assert isinstance(decode_text(data), str)
    parse_cues(decode_text(data))


def track(vectors, valid, modality="visual"):
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    vectors = np.where(norms > 1e-6, vectors / np.maximum(norms, 1e-6), 0).astype(np.float32)
    return FeatureTrack(modality, 0.5, vectors, valid)


vecs = st.integers(1, 60).flatmap(lambda n: st.tuples(
    arrays(np.float32, (n, 4), elements=st.floats(-1, 1, width=32)),
    arrays(np.bool_, (n,))))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(vecs, vecs, st.floats(-40, 40), st.booleans())
def test_alignment_ranges_stay_inside_both_files(q, r, offset, with_audio):
    scales = {"visual": Scale(0.42, 0.6, 0.42, 0.6), "audio": Scale(0.6, 0.72, 0.42, 0.6)}
    query = {"visual": [track(*q)]}
    ref = {"visual": track(*r)}
    if with_audio:
        query["audio"], ref["audio"] = [track(*q, "audio")], track(*r, "audio")
    q_dur, r_dur = len(q[0]) * 0.5, len(r[0]) * 0.5
    params = AlignParams(radius=3.0, frame_threshold=0.42, agreement_bonus=0.05, gap_seconds=1.0,
                         min_seconds=1.0, min_score=0.4, max_segments=8)
    for seg in align(query, ref, offset, scales, params, ref_duration=r_dur, query_duration=q_dur):
        assert 0 <= seg.query_start < seg.query_end <= q_dur + 1e-6
        assert 0 <= seg.ref_start <= seg.ref_end <= r_dur + 1e-6
        assert 0.4 <= seg.score <= 1.0
        assert all(v is None or -1.0001 <= v <= 1.0001 for v in seg.modalities.values())


names = st.text(min_size=1, max_size=30)


@settings(max_examples=100, deadline=None)
@given(names, st.floats(0, 1e5), st.lists(st.tuples(names, st.floats(0, 1e4), st.floats(0, 1e4),
                                                    st.floats(0, 1), st.sampled_from(["match", "candidate"])),
                                          max_size=5))
def test_json_output_round_trips(path, duration, rows):
    report = MatchReport(path, duration, [Match(t, a, a + 1, b, b + 1, s, d, {"visual": s, "audio": None})
                                          for t, a, b, s, d in rows])
    data = json.loads(json.dumps(report.to_dict()))
    assert data["query"]["path"] == path and len(data["matches"]) == len(rows)
    for m in data["matches"]:
        assert set(m) >= {"title_id", "query_start", "query_end", "ref_start", "ref_end", "score",
                          "decision", "threshold", "modalities"}


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(1, 40), st.integers(1, 30), st.integers(0, 2**31 - 1))
def test_voting_on_random_shots_gives_well_formed_hypotheses(n_ref, n_query, seed):
    from fp.fingerprint.types import Shot
    from fp.index.reader import neighbours
    from fp.index.store import ShotTable
    from fp.index.vectors import VectorIndex
    from fp.matcher.candidates import VoteParams, peaks, shot_votes

    rng = np.random.default_rng(seed)
    vecs = rng.normal(size=(n_ref, 8)).astype(np.float32)
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    index = VectorIndex(8)
    index.add(np.arange(1, n_ref + 1), vecs)
    starts = np.sort(rng.uniform(0, 100, n_ref))
    titles = rng.integers(0, 3, n_ref)
    table = ShotTable(np.arange(1, n_ref + 1), titles, starts, starts + rng.uniform(0.5, 6, n_ref),
                      ["a", "b", "c"])
    q = rng.normal(size=(n_query, 8)).astype(np.float32)
    q /= np.linalg.norm(q, axis=1, keepdims=True)
    shots = [Shot(float(i), float(i) + 1, {"visual": v}) for i, v in enumerate(q)]
    params = VoteParams(knn=5, shot_min_similarity=0.0, hypotheses_per_minute=7, vote_neighbour_weight=0.5)
    search = lambda modality, queries, k: neighbours(index, table, queries, k)  # noqa: E731
    hyps = peaks(shot_votes(shots, search, ["visual"], {"visual": Scale(0.42, 0.6, 0.42, 0.6)}, params), params, 7)
    assert len(hyps) <= 7 and all(h.title_id in ("a", "b", "c") and h.votes > 0 for h in hyps)
    assert [h.votes for h in hyps] == sorted((h.votes for h in hyps), reverse=True)


phased = st.integers(1, 40).flatmap(lambda n: st.tuples(
    st.lists(arrays(np.float32, (n, 4), elements=st.floats(-1, 1, width=32)), min_size=4, max_size=4),
    arrays(np.bool_, (n,))))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(phased, vecs, st.floats(-20, 20), st.sampled_from([0.125, 0.25, 0.5]))
def test_alignment_with_phases_and_jitter_ends_with_ranges_inside_both_files(q, r, offset, jitter):
    """Four phases of the picture with a jitter: segments found with tolerance are placed at an
    exact shift and trimmed, what is trimmed off searched again; that search ends, with
    well-formed segments."""
    (first, *later), valid = q
    step = 0.5
    query = {"visual": [track(first, valid)]}
    phases = [[dataclasses.replace(track(v, valid), start=p * step / 4)] for p, v in enumerate(later, 1)]
    q_dur, r_dur = len(valid) * step, len(r[0]) * step
    params = AlignParams(radius=3.0, frame_threshold=0.42, agreement_bonus=0.05, gap_seconds=1.0,
                         min_seconds=1.0, min_score=0.4, max_segments=8, jitter=jitter)
    for seg in align(query, {"visual": track(*r)}, offset, {"visual": Scale(0.42, 0.6, 0.42, 0.6)}, params,
                     ref_duration=r_dur, query_duration=q_dur, phases=phases):
        assert 0 <= seg.query_start < seg.query_end <= q_dur + 1e-6
        assert 0 <= seg.ref_start <= seg.ref_end <= r_dur + 1e-6
        assert 0.4 <= seg.score <= 1.0
