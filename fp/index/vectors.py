"""k-NN over shot fingerprints, addressed by 64-bit shot ids.

Two kinds of FAISS index, chosen by size (see `IndexStore.save_vectors`):
* exact -- `IndexIDMap2` over a flat float16 `IndexScalarQuantizer`, while the catalogue is
  small (every vector compared; float16 keeps scores within 0.001 at half the bytes);
* compressed -- a trained `faiss.index_factory` index with native ids (IVF), past
  `Config.exact_index_max_vectors`.

Search runs where it is fastest: FAISS on the GPUs when the installed faiss has them; otherwise,
for the exact index, torch matrix products on CUDA when torch sees a GPU; otherwise FAISS on the
CPU. Every path returns the same neighbours (within float tolerance).
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import faiss
import numpy as np

from fp.index.torch_search import TorchFlatSearch


def nlist_for(n: int) -> int:
    """Inverted lists for `n` vectors: the power of two nearest sqrt(n), 16 to 65536."""
    return int(min(65536, max(16, 2 ** round(math.log2(max(n, 1)) / 2))))


def sized_for(nlist: int) -> int:
    """How many vectors `nlist` inverted lists suit (the inverse of :func:`nlist_for`)."""
    return nlist ** 2


def untrained(dim: int, factory: str) -> faiss.Index:
    """`faiss.index_factory(dim, factory)` for inner products. Scalar-quantised inverted lists
    encode the vectors themselves, not their residuals from a centroid: with a coarse quantizer
    working on a projection (`IVF4096(PCA64,Flat),SQ8`) a residual would carry the projection's
    loss into every score. Product-quantised lists keep faiss's residual encoding."""
    index = faiss.index_factory(dim, factory, faiss.METRIC_INNER_PRODUCT)
    ivf = faiss.try_extract_index_ivf(index)
    if ivf is not None and isinstance(faiss.downcast_index(ivf), faiss.IndexIVFScalarQuantizer):
        ivf.by_residual = False
    return index


def factory_string(template: str, n: int, dim: int) -> str:
    """`template` with `{nlist}` filled in for `n` vectors and `{pq}` for `dim` dimensions (one
    8-bit product-quantiser code per two dimensions)."""
    return template.format(nlist=nlist_for(n), pq=max(1, dim // 2))


class VectorIndex:
    """Inner-product k-NN over L2-normalised vectors, addressed by 64-bit ids."""

    def __init__(self, dim: int, index: faiss.Index | None = None, probe_fraction: float = 0.125):
        self.dim = dim
        self.index = index if index is not None else faiss.IndexIDMap2(faiss.IndexScalarQuantizer(
            dim, faiss.ScalarQuantizer.QT_fp16, faiss.METRIC_INNER_PRODUCT))
        self._searcher = None
        self.probe_fraction = probe_fraction

    @classmethod
    def compressed(cls, dim: int, factory: str, training: np.ndarray,
                   probe_fraction: float = 0.125) -> VectorIndex:
        """An empty index built by `faiss.index_factory(dim, factory)` and trained on `training`."""
        index = untrained(dim, factory)
        index.train(np.ascontiguousarray(training, np.float32))
        return cls(dim, index, probe_fraction)

    @property
    def probe_fraction(self) -> float:
        """Share of the inverted lists searched per query (compressed index only)."""
        return self._probe_fraction

    @probe_fraction.setter
    def probe_fraction(self, value: float) -> None:
        self._probe_fraction = value
        self._searcher = None

    @property
    def nprobe(self) -> int:
        ivf = self.ivf
        return 0 if ivf is None else max(1, math.ceil(ivf.nlist * self.probe_fraction))

    @property
    def exact(self) -> bool:
        return isinstance(self.index, faiss.IndexIDMap2)

    @property
    def ivf(self) -> faiss.IndexIVF | None:
        """The inverted-file part of a compressed index, if it has one."""
        return None if self.exact else faiss.try_extract_index_ivf(self.index)

    def __len__(self) -> int:
        return int(self.index.ntotal)

    def ids(self) -> np.ndarray:
        if self.exact:
            return faiss.vector_to_array(self.index.id_map).astype(np.int64)
        ivf = self.ivf
        lists = ivf.invlists
        parts = [faiss.rev_swig_ptr(lists.get_ids(i), lists.list_size(i)).copy()
                 for i in range(ivf.nlist) if lists.list_size(i)]
        return np.concatenate(parts).astype(np.int64) if parts else np.zeros(0, np.int64)

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        if len(ids):
            self.index.add_with_ids(np.ascontiguousarray(vectors, np.float32),
                                    np.ascontiguousarray(ids, np.int64))
            self._searcher = None

    def remove(self, ids: np.ndarray) -> None:
        if len(ids):
            self.index.remove_ids(np.ascontiguousarray(ids, np.int64))
            self._searcher = None

    def exact_vectors(self) -> np.ndarray:
        """The stored vectors of an exact index, in the order of :meth:`ids`."""
        return self.index.index.reconstruct_n(0, len(self))

    def _pick_searcher(self):
        if faiss.get_num_gpus() > 0:
            try:
                return faiss.index_cpu_to_all_gpus(self.index)
            except RuntimeError:  # a structure faiss cannot move to its GPUs (HNSW, ...)
                return self.index
        import torch

        if self.exact and torch.cuda.is_available():
            return TorchFlatSearch(self.exact_vectors(), self.ids(), "cuda")
        return self.index

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """(similarities, ids), each (n, k); missing neighbours have id -1."""
        if len(queries) == 0 or len(self) == 0:
            return np.zeros((len(queries), 0), np.float32), np.zeros((len(queries), 0), np.int64)
        if self._searcher is None:
            if self.ivf is not None:
                self.ivf.nprobe = self.nprobe  # copied along to the GPUs
            self._searcher = self._pick_searcher()
        return self._searcher.search(np.ascontiguousarray(queries, np.float32), min(k, len(self)))

    def save(self, path: Path) -> None:
        """Write atomically: a reader sees the old file or the new one, never half of one."""
        tmp = path.with_name(path.name + f".tmp{os.getpid()}")
        faiss.write_index(self.index, str(tmp))
        with open(tmp, "rb") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp, path)

    @classmethod
    def load(cls, path: Path, dim: int | None, probe_fraction: float = 0.125) -> VectorIndex | None:
        """The index stored at `path`, or None when it is missing, unreadable or not of `dim`
        dimensions (None: any)."""
        try:
            index = faiss.read_index(str(path))
        except (RuntimeError, OSError):
            return None
        return cls(index.d, index, probe_fraction) if dim in (None, index.d) else None
