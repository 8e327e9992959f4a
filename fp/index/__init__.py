"""The index: FAISS over shot fingerprints plus a DuckDB store of titles, shots and tracks.

The names below are imported on first use, so that a module that needs neither FAISS nor DuckDB
(`fp.index.torch_search`, `fp.index.codes`) imports without them.
"""

from __future__ import annotations

import importlib

_HOMES = {
    "IndexEvent": "fp.index.build",
    "IndexSummary": "fp.index.build",
    "index_catalogue": "fp.index.build",
    "index_catalogue_ray": "fp.index.distributed",
    "IndexStore": "fp.index.store",
    "TitleRecord": "fp.index.store",
}

__all__ = sorted(_HOMES)


def __getattr__(name: str):
    if name not in _HOMES:
        raise AttributeError(f"module 'fp.index' has no attribute {name!r}")
    return getattr(importlib.import_module(_HOMES[name]), name)


def __dir__() -> list[str]:
    return sorted({*globals(), *_HOMES})
