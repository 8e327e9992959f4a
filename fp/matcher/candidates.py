"""Candidates: k-NN over shot fingerprints of every modality, then temporal voting on
(title, offset). The soundtrack and subtitles are searched once per suspect; each picture variant
adds its own picture votes to theirs."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

import numpy as np

from fp.config import Config
from fp.fingerprint.types import QueryFingerprint, Shot
from fp.index.store import ShotTable
from fp.index.vectors import VectorIndex
from fp.matcher.align import PRIMARY, Scale
from fp.matcher.types import Hypothesis

BIN_SECONDS = 1.0
"""Width of an offset bin: shot votes are rounded to it."""

Votes = dict[int, dict[int, float]]
"""Summed votes per title (its position in the shot table) and offset bin."""


@dataclass(frozen=True)
class VoteParams:
    """See the `Config` fields of the same names."""

    knn: int
    shot_min_similarity: float
    max_hypotheses: int
    vote_neighbour_weight: float

    @classmethod
    def from_config(cls, cfg: Config) -> VoteParams:
        return cls(cfg.knn, cfg.shot_min_similarity, cfg.max_hypotheses, cfg.vote_neighbour_weight)


def candidates(query: QueryFingerprint, indexes: dict[str, VectorIndex], scales: dict[str, Scale],
               table: ShotTable, params: VoteParams) -> list[Hypothesis]:
    """(title, offset) hypotheses worth aligning: per picture variant, the strongest peaks of its
    picture votes plus the shared votes of the soundtrack and subtitles. A hypothesis several
    variants support is listed once, with all of them."""
    shared_indexes = {m: index for m, index in indexes.items() if m != PRIMARY}
    shared = shot_votes(query.shots, shared_indexes, scales, table, params)
    merged: dict[tuple[str, float], Hypothesis] = {}
    for variant in query.variants:
        own = shot_votes(variant.shots, {m: i for m, i in indexes.items() if m == PRIMARY}, scales, table, params)
        for hyp in peaks(_added(own, shared), table, params):
            known = merged.get((hyp.title_id, hyp.offset))
            merged[hyp.title_id, hyp.offset] = Hypothesis(
                hyp.title_id, hyp.offset, hyp.votes if known is None else max(known.votes, hyp.votes),
                (known.variants if known else ()) + (variant.name,))
    return sorted(merged.values(), key=lambda h: (-h.votes, h.title_id, h.offset))


def shot_votes(shots: list[Shot], indexes: dict[str, VectorIndex], scales: dict[str, Scale],
               table: ShotTable, params: VoteParams) -> Votes:
    """Each neighbour votes, weighted by its similarity on the common scale, for the offsets that
    align its start and its end with the query shot's (one vote per query shot, modality and
    bin); votes are summed per bin."""
    bins: Votes = defaultdict(lambda: defaultdict(float))
    for modality, index in indexes.items():
        query = [s for s in shots if modality in s.vectors]
        if not query or len(index) == 0:
            continue
        sims, ids = index.search(np.stack([s.vectors[modality] for s in query]), params.knn)
        sims = scales[modality](sims)
        for shot, row_sims, row_ids in zip(query, sims, ids):
            keep = (row_ids >= 0) & (row_sims >= params.shot_min_similarity)
            if not keep.any():
                continue
            rows = table.rows(row_ids[keep])
            best: dict[tuple[int, int], float] = {}
            for row, sim in zip(rows, row_sims[keep]):
                title = int(table.title_index[row])
                for offset in (table.starts[row] - shot.start, table.ends[row] - shot.end):
                    key = (title, int(round(offset / BIN_SECONDS)))
                    best[key] = max(best.get(key, 0.0), float(sim))
            for (title, b), sim in best.items():
                bins[title][b] += sim
    return bins


def peaks(bins: Votes, table: ShotTable, params: VoteParams) -> list[Hypothesis]:
    """Local maxima of the votes, the neighbouring bins' added at `vote_neighbour_weight` (an
    offset between two bins splits its votes), strongest first."""
    w = params.vote_neighbour_weight
    hypotheses = []
    for title, votes in bins.items():
        for b, v in votes.items():
            smooth = v + w * (votes.get(b - 1, 0.0) + votes.get(b + 1, 0.0))
            left = votes.get(b - 1, 0.0) + w * (votes.get(b - 2, 0.0) + v)
            right = votes.get(b + 1, 0.0) + w * (v + votes.get(b + 2, 0.0))
            if smooth >= left and smooth >= right:
                hypotheses.append(Hypothesis(table.title_ids[title], b * BIN_SECONDS, smooth))
    hypotheses.sort(key=lambda h: -h.votes)
    return hypotheses[:params.max_hypotheses]


def _added(a: Votes, b: Votes) -> Votes:
    out: Votes = defaultdict(lambda: defaultdict(float))
    for bins in (a, b):
        for title, votes in bins.items():
            for k, v in votes.items():
                out[title][k] += v
    return out
