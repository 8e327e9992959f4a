"""Candidates: k-NN over shot fingerprints of every modality, then temporal voting on
(title, offset). The soundtrack and subtitles are searched once per suspect; each picture variant
adds its own picture votes to theirs."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from fp.config import Config
from fp.fingerprint.types import REFRAME, QueryFingerprint, Shot
from fp.index.reader import Neighbours
from fp.matcher.align import PRIMARY, Scale
from fp.matcher.types import Hypothesis

BIN_SECONDS = 1.0
"""Width of an offset bin: shot votes are rounded to it."""


@dataclass
class Bin:
    """One (title, offset) bin: its summed votes and the stretch of the suspect its voters cover."""

    votes: float = 0.0
    first: float = math.inf
    last: float = -math.inf

    def add(self, votes: float, first: float, last: float) -> None:
        self.votes += votes
        self.first, self.last = min(self.first, first), max(self.last, last)


Votes = dict[str, dict[int, Bin]]
"""The bins per title and offset bin."""

Search = Callable[[str, np.ndarray, int], Neighbours]
"""`IndexReader.neighbours` (or a sharded reader's): modality, query vectors, k."""


@dataclass(frozen=True)
class VoteParams:
    """See the `Config` fields of the same names."""

    knn: int
    shot_min_similarity: float
    hypotheses_per_minute: int
    vote_neighbour_weight: float

    @classmethod
    def from_config(cls, cfg: Config) -> VoteParams:
        return cls(cfg.knn, cfg.shot_min_similarity, cfg.hypotheses_per_minute, cfg.vote_neighbour_weight)

    def max_hypotheses(self, query_seconds: float) -> int:
        """Hypotheses refined per query variant of a suspect `query_seconds` long."""
        return self.hypotheses_per_minute * max(1, math.ceil(query_seconds / 60.0 - 1e-9))


def candidates(query: QueryFingerprint, search: Search, modalities: list[str], scales: dict[str, Scale],
               params: VoteParams) -> list[Hypothesis]:
    """(title, offset) hypotheses worth aligning: per picture variant, the strongest peaks of its
    picture votes plus the shared votes of the soundtrack and subtitles (of the searchable
    `modalities`), as many as the suspect's length allows (`VoteParams.max_hypotheses`). A
    hypothesis several variants support is listed once, with all of them. The picture's portrait
    samples (`QueryFingerprint.portrait`) also search the catalogue's `REFRAME` vectors and vote
    with the picture as it is."""
    shared = shot_votes(query.shots, search, [m for m in modalities if m not in (PRIMARY, REFRAME)], scales, params)
    if query.portrait is not None and REFRAME in modalities:
        reframed = [Shot(s.start, s.end, {REFRAME: s.vectors[PRIMARY]}) for s in query.portrait.shots
                    if PRIMARY in s.vectors]
        portrait = {query.variants[0].name: shot_votes(reframed, search, [REFRAME], scales, params)}
    else:
        portrait = {}
    merged: dict[tuple[str, float], Hypothesis] = {}
    first = query.variants[0].track
    limit = params.max_hypotheses(len(first) * first.step)
    for variant in query.variants:
        own = shot_votes(variant.shots, search, [m for m in modalities if m == PRIMARY], scales, params)
        if variant.name in portrait:
            own = _added(own, portrait[variant.name])
        for hyp in peaks(_added(own, shared), params, limit, variant.name):
            known = merged.get((hyp.title_id, hyp.offset))
            merged[hyp.title_id, hyp.offset] = hyp if known is None else Hypothesis(
                hyp.title_id, hyp.offset, max(known.votes, hyp.votes), known.variants + hyp.variants,
                min(known.query_start, hyp.query_start), max(known.query_end, hyp.query_end))
    return sorted(merged.values(), key=lambda h: (-h.votes, h.title_id, h.offset))


def shot_votes(shots: list[Shot], search: Search, modalities: list[str], scales: dict[str, Scale],
               params: VoteParams) -> Votes:
    """Each neighbour votes, weighted by its similarity on the common scale, for the offsets that
    align its start and its end with the query shot's (one vote per query shot, modality and
    bin); votes are summed per bin, and the voters' stretch of the suspect kept."""
    bins: Votes = defaultdict(lambda: defaultdict(Bin))
    for modality in modalities:
        query = [s for s in shots if modality in s.vectors]
        if not query:
            continue
        found = search(modality, np.stack([s.vectors[modality] for s in query]), params.knn)
        sims = scales[modality](found.sims)
        for i, shot in enumerate(query):
            best: dict[tuple[str, int], float] = {}
            for j in np.flatnonzero(sims[i] >= params.shot_min_similarity):
                title, sim = str(found.titles[i, j]), float(sims[i, j])
                for offset in (found.starts[i, j] - shot.start, found.ends[i, j] - shot.end):
                    key = (title, int(round(offset / BIN_SECONDS)))
                    best[key] = max(best.get(key, 0.0), sim)
            for (title, b), sim in best.items():
                bins[title][b].add(sim, shot.start, shot.end)
    return bins


def peaks(bins: Votes, params: VoteParams, limit: int, variant: str = "picture") -> list[Hypothesis]:
    """The `limit` strongest local maxima of the votes, the neighbouring bins' added at
    `vote_neighbour_weight` (an offset between two bins splits its votes), strongest first, each
    with the stretch of the suspect that voted for it and its neighbours."""
    w = params.vote_neighbour_weight
    empty = Bin()
    hypotheses = []
    for title, votes in bins.items():
        def at(b: int) -> float:
            return votes[b].votes if b in votes else 0.0

        for b, here in votes.items():
            v = here.votes
            smooth = v + w * (at(b - 1) + at(b + 1))
            left = at(b - 1) + w * (at(b - 2) + v)
            right = at(b + 1) + w * (v + at(b + 2))
            if smooth >= left and smooth >= right:
                near = [votes.get(b - 1, empty), here, votes.get(b + 1, empty)]
                hypotheses.append(Hypothesis(title, b * BIN_SECONDS, smooth, (variant,),
                                             min(n.first for n in near), max(n.last for n in near)))
    hypotheses.sort(key=lambda h: -h.votes)
    return hypotheses[:limit]


def _added(a: Votes, b: Votes) -> Votes:
    out: Votes = defaultdict(lambda: defaultdict(Bin))
    for bins in (a, b):
        for title, votes in bins.items():
            for k, v in votes.items():
                out[title][k].add(v.votes, v.first, v.last)
    return out
