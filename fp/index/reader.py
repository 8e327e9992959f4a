"""The read side of an index as the matcher sees it: k-NN neighbours as (title, time) and windows
of titles' tracks. `IndexReader` serves one index folder; `fp.index.shards.ShardedReader` serves
several (one per shard) through Ray with the same methods, so the matcher runs unchanged on both.
"""

from __future__ import annotations

import os
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from fp.errors import IndexStoreError
from fp.fingerprint.types import FeatureTrack
from fp.index.store import MODALITIES, IndexStore, ShotTable, TitleRecord, TrackRecord, window
from fp.index.vectors import VectorIndex

OPEN_TRACK_FILES = 256
"""Track files kept memory-mapped between windows (address space, not memory: pages are read
per window and belong to the OS's page cache)."""


@dataclass(frozen=True)
class Neighbours:
    """The k nearest shots of each query vector: (n, k) arrays, best first; a missing neighbour
    has title "" and similarity -inf."""

    sims: np.ndarray
    titles: np.ndarray
    """Title ids (object array of str)."""
    starts: np.ndarray
    ends: np.ndarray

    @classmethod
    def merged(cls, parts: list[Neighbours], k: int) -> Neighbours:
        """The k best of several shards' neighbours of the same queries."""
        sims = np.concatenate([p.sims for p in parts], axis=1)
        order = np.argsort(-sims, axis=1, kind="stable")[:, :k]

        def take(name: str) -> np.ndarray:
            return np.take_along_axis(np.concatenate([getattr(p, name) for p in parts], axis=1), order, axis=1)

        return cls(take("sims"), take("titles"), take("starts"), take("ends"))


def neighbours(index: VectorIndex, table: ShotTable, queries: np.ndarray, k: int) -> Neighbours:
    """k-NN ids of `index` turned into titles and times through `table`."""
    sims, ids = index.search(queries, k)
    found = ids >= 0
    if not found.any():
        return Neighbours(np.full(ids.shape, -np.inf, np.float32), np.full(ids.shape, "", object),
                          np.full(ids.shape, np.nan), np.full(ids.shape, np.nan))
    rows = table.rows(np.where(found, ids, table.shot_ids[0]))
    names = np.asarray(table.title_ids, object)[table.title_index[rows]]
    return Neighbours(np.where(found, sims, -np.inf).astype(np.float32), np.where(found, names, ""),
                      np.where(found, table.starts[rows], np.nan), np.where(found, table.ends[rows], np.nan))


class IndexReader:
    """A consistent read-only view of one index folder, as of when it was opened."""

    def __init__(self, index_dir: str | os.PathLike):
        self.store = IndexStore.open(index_dir)
        self.config = self.store.config
        snapshot = self.store.snapshot(MODALITIES)
        self.titles: list[TitleRecord] = snapshot.titles
        self.table, self.indexes, self.records = snapshot.shots, snapshot.vectors, snapshot.tracks
        self._open: OrderedDict[str, np.ndarray] = OrderedDict()

    def close(self) -> None:
        self._open.clear()
        self.store.close()

    @property
    def root(self) -> Path:
        """The index folder (runs are recorded there)."""
        return self.store.root

    def meta(self) -> dict[str, str]:
        return self.store.meta()

    @property
    def modalities(self) -> list[str]:
        """Modalities with searchable shot vectors."""
        return [m for m, index in self.indexes.items() if len(index)]

    @property
    def hours(self) -> float:
        return sum(t.duration for t in self.titles) / 3600

    def neighbours(self, modality: str, queries: np.ndarray, k: int) -> Neighbours:
        """The `k` nearest stored shots of each query vector, raw cosine similarities."""
        return neighbours(self.indexes[modality], self.table, queries, k)

    def window(self, title_id: str, first: int, stop: int) -> dict[str, FeatureTrack]:
        """Samples [first, stop) of the title's tracks by modality (clipped to each track); empty
        when the title has been replaced or removed since this reader opened."""
        out = {}
        for modality in MODALITIES:
            record = self.records.get((title_id, modality))
            if record is None:
                continue
            try:
                stored = self._codes(record)
            except IndexStoreError:
                return {}
            out[modality] = window(record, stored, first, stop)
        return out

    def _codes(self, record: TrackRecord) -> np.ndarray:
        if record.file in self._open:
            self._open.move_to_end(record.file)
            return self._open[record.file]
        stored = self._open[record.file] = self.store.track_codes(record, windowed=True)
        if len(self._open) > OPEN_TRACK_FILES:
            self._open.popitem(last=False)
        return stored
