"""Exact top-k by torch matrix products: the GPU search where the installed faiss has no GPUs
(`fp.index.vectors` picks it), and a reference on any device. Needs numpy and torch only."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import torch


class TorchFlatSearch:
    """Exact inner-product top-k by chunked matrix products with torch, on any device."""

    def __init__(self, vectors: np.ndarray, ids: np.ndarray, device: str | torch.device,
                 chunk_rows: int = 1 << 20):
        import torch

        self.device = torch.device(device)
        self.vectors = torch.from_numpy(np.ascontiguousarray(vectors, np.float32)).to(self.device)
        self.ids = torch.from_numpy(np.ascontiguousarray(ids, np.int64)).to(self.device)
        self.chunk_rows = chunk_rows

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        import torch

        with torch.inference_mode():
            q = torch.from_numpy(np.ascontiguousarray(queries, np.float32)).to(self.device)
            best_sims = torch.full((len(q), 0), -math.inf, device=self.device)
            best_rows = torch.zeros((len(q), 0), dtype=torch.int64, device=self.device)
            for lo in range(0, len(self.vectors), self.chunk_rows):
                chunk = self.vectors[lo:lo + self.chunk_rows]
                sims, rows = torch.topk(q @ chunk.T, min(k, len(chunk)), dim=1)
                best_sims = torch.cat([best_sims, sims], 1)
                best_rows = torch.cat([best_rows, rows + lo], 1)
                if best_sims.shape[1] > k:
                    best_sims, keep = torch.topk(best_sims, k, dim=1)
                    best_rows = torch.gather(best_rows, 1, keep)
            return best_sims.cpu().numpy(), self.ids[best_rows].cpu().numpy()
