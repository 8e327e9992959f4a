"""Search paths (faiss CPU, torch, CUDA) agree; the index turns compressed past its threshold,
keeps its recall against exact search and follows titles being added and removed."""

import dataclasses
import subprocess
import sys

import numpy as np
import pytest
import torch

from fp.config import Config
from fp.data.probe import MediaInfo
from fp.fingerprint.types import FeatureTrack, Shot, VideoFingerprint
from fp.index.store import IndexStore
from fp.index.torch_search import TorchFlatSearch
from fp.index.vectors import VectorIndex, factory_string, nlist_for

DIM = 32


def clustered(n: int, dim: int, seed: int, titles: int = 20, spread: float = 0.6) -> np.ndarray:
    """Shots scattered around the centres of `titles` looks shared by the whole catalogue,
    L2-normalised (not iid: real catalogues cluster)."""
    centres = np.random.default_rng(dim).normal(size=(titles, dim))
    rng = np.random.default_rng(seed)
    x = centres[rng.integers(0, titles, n)] + spread * rng.normal(size=(n, dim))
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def copies(x: np.ndarray, seed: int, noise: float = 0.15) -> np.ndarray:
    q = x + noise * np.random.default_rng(seed).normal(size=x.shape) / np.sqrt(x.shape[1])
    return (q / np.linalg.norm(q, axis=1, keepdims=True)).astype(np.float32)


def recall(found: np.ndarray, exact: np.ndarray) -> float:
    return float(np.mean([len(np.intersect1d(a, b)) / len(b) for a, b in zip(found, exact)]))


def test_torch_search_equals_faiss_on_cpu():
    x = clustered(5000, 64, 0)
    flat = VectorIndex(64)
    flat.add(np.arange(5000) * 3 + 7, x)
    queries = copies(x[::50], 1)
    sims, ids = flat.search(queries, 24)
    torch_sims, torch_ids = TorchFlatSearch(flat.exact_vectors(), flat.ids(), "cpu",
                                            chunk_rows=777).search(queries, 24)
    assert np.array_equal(ids, torch_ids)
    assert np.allclose(sims, torch_sims, atol=1e-5)


def test_torch_search_imports_without_faiss_or_duckdb():
    """The GPU search (and bench/gpu.py) runs where only torch is installed."""
    code = ("import sys, fp.index.torch_search; "
            "print(sorted(m for m in ('faiss', 'duckdb') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_the_index_package_lists_the_names_it_imports_on_first_use():
    import fp.index

    assert set(fp.index.__all__) <= set(dir(fp.index)) and "IndexStore" in dir(fp.index)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA GPU")
def test_gpu_search_equals_cpu_search():
    x = clustered(20000, 128, 2)
    flat = VectorIndex(128)
    flat.add(np.arange(20000), x)
    queries = copies(x[::200], 3)
    cpu_sims, cpu_ids = flat.index.search(queries, 24)  # faiss on the CPU, whatever the machine has
    gpu_sims, gpu_ids = flat.search(queries, 24)  # faiss GPU, or torch on CUDA
    assert flat._searcher is not flat.index
    assert (gpu_ids == cpu_ids).mean() > 0.99
    assert np.allclose(gpu_sims, cpu_sims, atol=1e-3)
    torch_sims, torch_ids = TorchFlatSearch(flat.exact_vectors(), flat.ids(), "cuda").search(queries, 24)
    assert (torch_ids == cpu_ids).mean() > 0.99 and np.allclose(torch_sims, cpu_sims, atol=1e-3)


def test_compressed_index_recall_against_exact():
    x = clustered(20000, DIM * 4, 4, titles=200)
    ids = np.arange(20000) + 1
    exact = VectorIndex(DIM * 4)
    exact.add(ids, x)
    compressed = VectorIndex.compressed(DIM * 4, factory_string(Config().compressed_index, 20000, DIM * 4),
                                        x[:10000], Config().probe_fraction)
    compressed.add(ids, x)
    queries = copies(x[::100], 5)
    _, truth = exact.search(queries, 24)
    sims, found = compressed.search(queries, 24)
    assert recall(found, truth) >= 0.85  # product codes: bench/scale.py measures 0.885 at 1M
    assert (found[:, 0] == ids[::100]).mean() >= 0.95  # the copy's source comes first


def fingerprint(seed: int, shots: int) -> VideoFingerprint:
    vecs = clustered(shots, DIM, seed, titles=40, spread=0.4)
    info = MediaInfo(f"/x/{seed}.mp4", 100, shots * 2.0, shots * 2.0, "mp4", 0, 64, 48, 25.0, 0,
                     "1:1", "h264", False, None, None, ())
    track = FeatureTrack("visual", 2.0, vecs, np.ones(shots, bool))
    return VideoFingerprint(info, {"visual": track},
                            [Shot(2.0 * i, 2.0 * i + 2, {"visual": vecs[i]}) for i in range(shots)])


def centroids(index: VectorIndex) -> np.ndarray:
    return index.ivf.quantizer.reconstruct_n(0, index.ivf.nlist)


def on_disk(root) -> VectorIndex:
    return VectorIndex.load(root / "vectors-visual.faiss", DIM)


def check_consistent(root, removed=()):
    """The FAISS file holds exactly the database's shots, and finds them."""
    with IndexStore.open(root) as store:
        table = store.shot_table()
        index = store.vectors("visual")
        assert np.array_equal(np.sort(index.ids()), table.shot_ids)
        exact = VectorIndex(DIM)
        with store._session() as con:
            for ids, vecs in store.stored_vectors(con, "visual", table.shot_ids):
                exact.add(ids, vecs)
        queries = copies(exact.exact_vectors()[::7], 6)
        _, truth = exact.search(queries, 24)
        _, found = index.search(queries, 24)
        assert (found[:, 0] == exact.ids()[::7]).mean() >= 0.95  # a copy finds its source first
        assert recall(found, truth) >= 0.9  # 32-d test titles: many near-ties in the tail
        assert not np.isin(found, removed).any()


def test_index_turns_compressed_past_the_threshold_and_follows_titles(tmp_path):
    config = dataclasses.replace(Config(), exact_index_max_vectors=600, probe_fraction=0.5)
    with IndexStore.open_for_writing(tmp_path, config) as store:
        for seed in range(2):
            store.put_title(f"t{seed}", fingerprint(seed, 250), f"h{seed}", 1)
    assert on_disk(tmp_path).exact
    check_consistent(tmp_path)

    with IndexStore.open_for_writing(tmp_path, config) as store:
        store.put_title("t2", fingerprint(2, 250), "h2", 1)  # 750 > 600
    index = on_disk(tmp_path)
    assert not index.exact and index.ivf.nlist == nlist_for(750)
    check_consistent(tmp_path)
    before = centroids(index)

    with IndexStore.open_for_writing(tmp_path, config) as store:
        removed = store.shot_table().shot_ids[:250]
        store.remove_title("t0")
        store.put_title("t3", fingerprint(3, 250), "h3", 1)
        store.put_title("t1", fingerprint(11, 200), "h1b", 2)  # replaced
    index = on_disk(tmp_path)
    assert not index.exact  # updated in place, not retrained: same coarse centroids
    assert np.array_equal(centroids(index), before)
    check_consistent(tmp_path, removed)

    # grown far past what its lists were sized for: retrained from the stored vectors
    with IndexStore.open_for_writing(tmp_path, dataclasses.replace(config, retrain_growth=0.01)) as store:
        store.put_title("t4", fingerprint(4, 100), "h4", 1)
    index = on_disk(tmp_path)
    assert not np.array_equal(centroids(index), before)
    check_consistent(tmp_path, removed)

    with IndexStore.open_for_writing(tmp_path, config) as store:  # below half the threshold: exact again
        for title in ("t1", "t2", "t3"):
            store.remove_title(title)
    assert on_disk(tmp_path).exact
    check_consistent(tmp_path, removed)
