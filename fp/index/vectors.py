"""FAISS index of shot fingerprints: exact inner-product search, on the GPU when faiss has one."""

from __future__ import annotations

import os
from pathlib import Path

import faiss
import numpy as np


class VectorIndex:
    """Inner-product k-NN over L2-normalised vectors, addressed by 64-bit ids."""

    def __init__(self, dim: int, index: faiss.Index | None = None):
        self.dim = dim
        self.index = index if index is not None else faiss.IndexIDMap2(faiss.IndexFlatIP(dim))
        self._searcher: faiss.Index | None = None

    def __len__(self) -> int:
        return int(self.index.ntotal)

    def ids(self) -> np.ndarray:
        return faiss.vector_to_array(self.index.id_map).astype(np.int64)

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        if len(ids):
            self.index.add_with_ids(np.ascontiguousarray(vectors, np.float32),
                                    np.ascontiguousarray(ids, np.int64))
            self._searcher = None

    def remove(self, ids: np.ndarray) -> None:
        if len(ids):
            self.index.remove_ids(np.ascontiguousarray(ids, np.int64))
            self._searcher = None

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """(similarities, ids), each (n, k); missing neighbours have id -1."""
        if len(queries) == 0 or len(self) == 0:
            return np.zeros((len(queries), 0), np.float32), np.zeros((len(queries), 0), np.int64)
        if self._searcher is None:
            self._searcher = self.index
            if faiss.get_num_gpus() > 0:
                self._searcher = faiss.index_cpu_to_all_gpus(self.index)
        return self._searcher.search(np.ascontiguousarray(queries, np.float32), min(k, len(self)))

    def save(self, path: Path) -> None:
        """Write atomically: a reader sees the old file or the new one, never half of one."""
        tmp = path.with_name(path.name + f".tmp{os.getpid()}")
        faiss.write_index(self.index, str(tmp))
        with open(tmp, "rb") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp, path)

    @classmethod
    def load(cls, path: Path, dim: int) -> VectorIndex | None:
        """The index stored at `path`, or None when it is missing, unreadable or of another size."""
        try:
            index = faiss.read_index(str(path))
        except (RuntimeError, OSError):
            return None
        return cls(dim, index) if index.d == dim else None
