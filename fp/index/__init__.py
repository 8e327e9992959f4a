"""The index: FAISS over shot fingerprints plus a DuckDB store of titles, shots and tracks."""

from fp.index.build import IndexEvent, IndexSummary, index_catalogue
from fp.index.distributed import index_catalogue_ray
from fp.index.store import IndexStore, TitleRecord

__all__ = ["IndexEvent", "IndexStore", "IndexSummary", "TitleRecord", "index_catalogue",
           "index_catalogue_ray"]
