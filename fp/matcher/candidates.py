"""Candidate generation: k-NN over shot fingerprints of every modality, then temporal voting on
(title, offset)."""

from __future__ import annotations

from collections import defaultdict

import numpy as np

from fp.fingerprint.types import Shot
from fp.index.store import ShotTable
from fp.index.vectors import VectorIndex
from fp.matcher.align import Scale
from fp.matcher.types import Hypothesis

BIN_SECONDS = 1.0


def vote(
    shots: list[Shot],
    indexes: dict[str, VectorIndex],
    scales: dict[str, Scale],
    table: ShotTable,
    *,
    k: int,
    min_similarity: float,
    max_hypotheses: int,
    neighbour_weight: float,
) -> list[Hypothesis]:
    """Strongest (title, offset) peaks supported by the query's shots in any modality.

    Each neighbour votes, weighted by its similarity on the common scale, for the offsets that
    align its start and its end with the query shot's (one vote per query shot, modality and
    bin); votes are summed per one-second bin, the neighbouring bins' added at `neighbour_weight`,
    and local maxima become hypotheses.
    """
    bins: dict[int, dict[int, float]] = defaultdict(lambda: defaultdict(float))
    for modality, index in indexes.items():
        query = [s for s in shots if modality in s.vectors]
        if not query or len(index) == 0:
            continue
        sims, ids = index.search(np.stack([s.vectors[modality] for s in query]), k)
        sims = scales[modality](sims)
        for shot, row_sims, row_ids in zip(query, sims, ids):
            keep = (row_ids >= 0) & (row_sims >= min_similarity)
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
    hypotheses = []
    for title, votes in bins.items():
        for b, v in votes.items():
            w = neighbour_weight
            smooth = v + w * (votes.get(b - 1, 0.0) + votes.get(b + 1, 0.0))
            left = votes.get(b - 1, 0.0) + w * (votes.get(b - 2, 0.0) + v)
            right = votes.get(b + 1, 0.0) + w * (v + votes.get(b + 2, 0.0))
            if smooth >= left and smooth >= right:
                hypotheses.append(Hypothesis(table.title_ids[title], b * BIN_SECONDS, smooth))
    hypotheses.sort(key=lambda h: -h.votes)
    return hypotheses[:max_hypotheses]
