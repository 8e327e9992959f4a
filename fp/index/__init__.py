"""The index: FAISS over shot fingerprints plus a DuckDB store of titles, shots and tracks."""

from fp.index.build import IndexEvent, IndexSummary, index_catalogue
from fp.index.store import IndexStore, TitleRecord

__all__ = ["IndexEvent", "IndexStore", "IndexSummary", "TitleRecord", "index_catalogue"]
