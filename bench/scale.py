"""Index scale: query latency, memory and recall@k against exact search at 1M and 10M vectors,
and a projection to 100k catalogue hours.

    python -m bench.scale                   (about 25 minutes on 2 CPU cores)
    python -m bench.scale --compare-only    (the index-structure comparison alone)

Synthetic shot vectors are modelled on a real index (by default ../shared/media/video, indexed
once into ~/.cache/fp-match/scale-real-index with the current configuration; delete it after
changing encoders): the principal components and variance spectrum of its picture embeddings
(1280-d with ImageNet features, 128-d with fp-visual-v1), titles as clusters (each title's shots
share a centre; how alike a title's shots are varies per title, as in real footage), the rest of
the variance as noise. Queries are copies of catalogue shots, perturbed to cosine 0.6-0.98 with their source
(the range real copies score). Exact top-k for 10M vectors is computed by streaming (10M x 1280
float32 is 51 GB); vectors are generated chunk by chunk, so peak memory is the index itself.
"""

from __future__ import annotations

import argparse
import math
import os
import resource
import time
from dataclasses import dataclass
from pathlib import Path

import faiss
import numpy as np
import torch

from fp.config import Config
from fp.index import IndexStore, index_catalogue
from fp.index.torch_search import TorchFlatSearch
from fp.index.vectors import VectorIndex, factory_string, untrained

ROOT = Path(__file__).resolve().parents[1]
MEDIA = ROOT.parent / "shared" / "media" / "video"
REAL_INDEX = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "fp-match" / "scale-real-index"
K = Config().knn
CHUNK = 100_000
SHOTS_PER_TITLE = 500
NOISE_BANK = 65_536
FIT_CHECK_VECTORS = 10_000
"""Random vectors a candidate structure is trained on to see whether it fits the dimension."""
COMPONENTS = 512
"""Principal components modelled (fewer when the vectors have fewer dimensions)."""
CANDIDATES = ["IVF{nlist},Flat", "IVF{nlist},SQ8", "IVF{nlist}(PCA64,Flat),SQ8", "IVF{nlist},SQ4",
              "PCA256,IVF{nlist},SQ8", "IVF{nlist},PQ160x4fs", "IVF{nlist},PQ64np", "IVF{nlist},PQ32np",
              "IVF{nlist},PQ64x4fs", "IVF{nlist},PQ32x4fs", "HNSW32,SQ8"]
"""Structures compared; those that do not fit the vectors' dimension (PCA256 of 128-d) are skipped."""


@dataclass(frozen=True)
class RealStats:
    hours: float
    shots: int
    components: np.ndarray
    """(components, dim): principal directions of real picture embeddings."""
    spread: np.ndarray
    """Standard deviation along each component."""
    mean: np.ndarray
    residual: float
    """Standard deviation per dimension of what the components leave out."""

    @property
    def shots_per_hour(self) -> float:
        return self.shots / self.hours


def real_stats(index_dir: Path) -> RealStats:
    if not (index_dir / "fp.duckdb").exists():
        print(f"indexing {MEDIA} into {index_dir} (once)...", flush=True)
        index_catalogue(MEDIA, index_dir, Config())
    with IndexStore.open(index_dir) as store:
        counts = store.counts()
        shots = len(store.vectors("visual"))
        frames = []
        for title in store.titles():
            track = store.track(title.title_id, "visual")
            if track is not None:
                frames.append(track.vectors[track.valid])
    x = np.concatenate(frames)
    mean = x.mean(0)
    _, sv, vt = np.linalg.svd(x - mean, full_matrices=False)
    var = sv ** 2 / len(x)
    r = min(COMPONENTS, x.shape[1] - 1)  # one left for the residual noise
    residual = math.sqrt(max(var[r:].sum(), 1e-6) / x.shape[1])
    return RealStats(counts["hours"], shots, vt[:r], np.sqrt(var[:r]), mean, residual)


class Synthetic:
    """A catalogue of `n` shot vectors generated chunk by chunk, deterministically. Titles are
    interleaved (vector i belongs to title i*7919 mod titles), so any chunk is a fair sample."""

    def __init__(self, stats: RealStats, n: int, seed: int = 0):
        self.n, self.seed = n, seed
        self.titles = max(1, n // SHOTS_PER_TITLE)
        g = torch.Generator().manual_seed(seed)
        self.basis = torch.from_numpy(stats.components.T * stats.spread).float()  # (dim, r)
        self.mean = torch.from_numpy(stats.mean).float()
        self.rank = len(stats.components)
        self.centres = torch.randn(self.titles, self.rank, generator=g)
        self.alike = torch.sqrt(torch.rand(self.titles, generator=g) * 0.8 + 0.05)[:, None]
        self.noise = torch.randn(NOISE_BANK, self.basis.shape[0], generator=g) * stats.residual

    @property
    def dim(self) -> int:
        return int(self.basis.shape[0])

    def chunks(self, first: int = 0, stop: int | None = None):
        for lo in range(first, self.n if stop is None else stop, CHUNK):
            yield lo, self.chunk(lo)

    def chunk(self, lo: int) -> np.ndarray:
        hi = min(lo + CHUNK, self.n)
        g = torch.Generator().manual_seed(self.seed * 1_000_003 + lo)
        title = (torch.arange(lo, hi) * 7919) % self.titles
        a = self.alike[title]
        z = a * self.centres[title] + torch.sqrt(1 - a ** 2) * torch.randn(hi - lo, self.rank, generator=g)
        x = self.mean + z @ self.basis.T + self.noise[torch.randint(0, NOISE_BANK, (hi - lo,), generator=g)]
        return torch.nn.functional.normalize(x, dim=1).numpy()

    def queries(self, count: int, seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
        """Copies of `count` catalogue shots at cosine 0.6-0.98 with their source; (queries, sources)."""
        rng = np.random.default_rng(seed)
        sources = np.sort(rng.choice(self.n, count, replace=False))
        out = np.zeros((count, self.dim), np.float32)
        for lo in np.unique(sources // CHUNK * CHUNK):
            part = np.flatnonzero(sources // CHUNK * CHUNK == lo)
            out[part] = self.chunk(int(lo))[sources[part] - lo]
        g = torch.Generator().manual_seed(seed)
        edit = torch.randn(count, self.rank, generator=g) @ self.basis.T
        edit = torch.nn.functional.normalize(edit - (edit * torch.from_numpy(out)).sum(1, keepdim=True)
                                             * torch.from_numpy(out), dim=1).numpy()
        c = rng.uniform(0.6, 0.98, (count, 1)).astype(np.float32)
        q = c * out + np.sqrt(1 - c ** 2) * edit
        return q / np.linalg.norm(q, axis=1, keepdims=True), sources


def fits(factory: str, dim: int) -> bool:
    """Whether `faiss.index_factory` can build and train `factory` for `dim`-dimensional vectors."""
    try:
        untrained(dim, factory_string(factory, 1, dim)).train(
            np.random.default_rng(0).standard_normal((FIT_CHECK_VECTORS, dim), dtype=np.float32))
    except RuntimeError:
        return False
    return True


def exact_topk(data: Synthetic, queries: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Exact top-K by streaming the catalogue through torch matrix products."""
    best_s = np.full((len(queries), 0), -np.inf, np.float32)
    best_i = np.zeros((len(queries), 0), np.int64)
    for lo, chunk in data.chunks():
        s, i = TorchFlatSearch(chunk, np.arange(lo, lo + len(chunk)), "cpu").search(queries, K)
        best_s, best_i = np.hstack([best_s, s]), np.hstack([best_i, i])
        order = np.argsort(-best_s, axis=1)[:, :K]
        best_s, best_i = np.take_along_axis(best_s, order, 1), np.take_along_axis(best_i, order, 1)
    return best_s, best_i


def index_bytes(index: VectorIndex) -> int:
    """Resident size of the index's vectors, codes, ids and coarse centroids."""
    if index.exact:
        return len(index) * (index.dim * 4 + 8)
    ivf = index.ivf
    if ivf is None:  # HNSW: codes + graph links
        inner = faiss.downcast_index(index.index)
        return len(index) * (inner.storage.sa_code_size() + inner.hnsw.nb_neighbors(0) * 4)
    return len(index) * (ivf.code_size + 8) + ivf.nlist * ivf.d * 4


@dataclass
class Measured:
    name: str
    vectors: int
    bytes_per_vector: float
    memory_gib: float
    build_s: float
    ms_per_batch: float
    recall: float
    recall_votes: float
    source_found: float
    score_error: float


SHARD_BYTES = 6 * 2 ** 30
"""Past this, a compressed index is built and searched as shards in turn (same trained lists,
results merged, as a cluster would): the benchmark's peak memory stays near one shard."""


def run(name: str, data: Synthetic, factory: str | None, queries: np.ndarray, sources: np.ndarray,
        truth: tuple[np.ndarray, np.ndarray], batch: int, probe_fraction: float) -> Measured:
    """Build the exact index (factory None) or a trained compressed one with `data`, search
    `queries` in batches, and score the answers against `truth`."""
    start = time.perf_counter()
    trained, per_shard = None, data.n
    if factory is not None:
        index = untrained(data.dim, factory_string(factory, data.n, data.dim))
        index.train(data.chunk(0)[:Config().training_vectors])
        trained = faiss.serialize_index(index)
        if faiss.try_extract_index_ivf(index) is not None:
            per_shard = max(CHUNK, SHARD_BYTES // (index.sa_code_size() + 8) // CHUNK * CHUNK)
        del index
    build_s, size, times, sims, ids = time.perf_counter() - start, 0, 0.0, [], []
    for first in range(0, data.n, per_shard):
        start = time.perf_counter()
        index = VectorIndex(data.dim, None if trained is None else faiss.deserialize_index(trained),
                            probe_fraction)
        for lo, chunk in data.chunks(first, min(first + per_shard, data.n)):
            if isinstance(index.index, faiss.IndexHNSW):
                index.index.add(chunk)  # HNSW has no ids of its own; rows are ids here
            else:
                index.add(np.arange(lo, lo + len(chunk)), chunk)
        build_s += time.perf_counter() - start
        size += index_bytes(index)
        if isinstance(index.index, faiss.IndexHNSW):
            index.index.hnsw.efSearch = 128
        index.search(queries[:batch], K)  # warm
        shard_times, shard_sims, shard_ids = [], [], []
        for lo in range(0, len(queries), batch):
            start = time.perf_counter()
            s, i = index.search(queries[lo:lo + batch], K)
            shard_times.append(time.perf_counter() - start)
            shard_sims.append(s)
            shard_ids.append(i)
        times = times + np.array(shard_times)  # shards searched one after the other
        sims.append(np.vstack(shard_sims))
        ids.append(np.vstack(shard_ids))
        del index
    sims, ids = np.hstack(sims), np.hstack(ids)
    order = np.argsort(-sims, axis=1, kind="stable")[:, :K]
    sims, ids = np.take_along_axis(sims, order, 1), np.take_along_axis(ids, order, 1)
    shards = math.ceil(data.n / per_shard)
    return score(name + (f" ({shards} shards)" if shards > 1 else ""), data.n, size, build_s, times,
                 sims, ids, sources, truth)


def score(name: str, n: int, size: int, build_s: float, times: np.ndarray, sims: np.ndarray,
          ids: np.ndarray, sources: np.ndarray, truth: tuple[np.ndarray, np.ndarray]) -> Measured:
    true_s, true_i = truth
    hits = np.array([len(np.intersect1d(a, b)) for a, b in zip(ids, true_i)])
    votes = true_s >= Config().shot_min_similarity
    vote_hits = sum(np.isin(t[v], a).sum() for a, t, v in zip(ids, true_i, votes))
    # score error: returned similarities against the exact ones of the same neighbours
    exact = {}
    for row, (t_i, t_s) in enumerate(zip(true_i, true_s)):
        exact.update({(row, int(j)): float(s) for j, s in zip(t_i, t_s)})
    errors = [abs(float(s) - exact[(row, int(j))]) for row, (r_i, r_s) in enumerate(zip(ids, sims))
              for j, s in zip(r_i, r_s) if (row, int(j)) in exact]
    return Measured(name, n, size / n, size / 2 ** 30, build_s,
                    1000 * float(np.median(times)), float(hits.mean() / K),
                    float(vote_hits / max(votes.sum(), 1)),
                    float(np.mean([s in row for s, row in zip(sources, ids)])),
                    float(np.median(errors)) if errors else float("nan"))


HEAD = (f"{'index':30s} {'vectors':>8s} {'B/vector':>8s} {'memory':>9s} {'build':>7s} "
        f"{'ms/batch':>9s} {'ms/min query':>12s} {'recall@24':>9s} {'votes@24':>8s} "
        f"{'source@24':>9s} {'|score err|':>11s}")


def row(r: Measured, per_minute_batches: float) -> None:
    print(f"{r.name:30s} {r.vectors / 1e6:7.1f}M {r.bytes_per_vector:8.0f} {r.memory_gib:7.2f} GiB "
          f"{r.build_s:6.0f}s {r.ms_per_batch:9.1f} {r.ms_per_batch * per_minute_batches:12.1f} "
          f"{r.recall:9.3f} {r.recall_votes:8.3f} {r.source_found:9.3f} {r.score_error:11.4f}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--real-index", type=Path, default=REAL_INDEX)
    parser.add_argument("--compare-size", type=int, default=100_000)
    parser.add_argument("--sizes", default="1000000,10000000")
    parser.add_argument("--queries", type=int, default=320)
    parser.add_argument("--compare-only", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(os.cpu_count() or 1)
    cfg = Config()
    stats = real_stats(args.real_index)
    variants = 2 if cfg.query_mirrored else 1  # the suspect's picture, and its mirror image when searched
    per_minute = stats.shots_per_hour / 60 * variants
    batch = 32
    print(f"machine: {os.cpu_count()} CPU cores, faiss {faiss.__version__}, "
          f"{'CUDA' if torch.cuda.is_available() else 'no GPU'}; load average {os.getloadavg()[0]:.1f}")
    print(f"real index: {stats.shots} picture shots in {stats.hours:.3f} h = {stats.shots_per_hour:.0f} shots "
          f"per catalogue hour; synthetic model: {len(stats.components)} components, residual sd {stats.residual:.4f}")
    print(f"queries: {args.queries} copies in batches of {batch} shots; a minute of suspect = "
          f"{per_minute:.1f} shots searched ({'picture and its mirror' if variants == 2 else 'its picture'}); k = {K}; "
          f"recall@24 = |found & exact top-24| / 24, votes@24 = share of exact top-24 neighbours "
          f">= {cfg.shot_min_similarity} found, source@24 = copy's source in the top 24")

    data = Synthetic(stats, args.compare_size)
    queries, sources = data.queries(args.queries)
    truth = exact_topk(data, queries)
    print(f"\n1. index structures compared at {args.compare_size / 1e6:.1f}M vectors (IVF: nlist ~ sqrt(n), "
          f"{cfg.probe_fraction:g} of the lists searched; HNSW efSearch 128)")
    print(HEAD + "\n" + "-" * len(HEAD))
    compared = [cfg.compressed_index, *(f for f in CANDIDATES if f != cfg.compressed_index)]
    for factory in [None, *(f for f in compared if fits(f, data.dim))]:
        name = "Flat (exact)" if factory is None else factory_string(factory, data.n, data.dim)
        row(run(name, data, factory, queries, sources, truth, batch, cfg.probe_fraction), per_minute / batch)
    if args.compare_only:
        return

    print(f"\n2. chosen: {cfg.compressed_index}, {cfg.probe_fraction:g} of the lists searched, against exact search")
    print(HEAD + "\n" + "-" * len(HEAD))
    rows = []
    for n in map(int, args.sizes.split(",")):
        data = Synthetic(stats, n)
        queries, sources = data.queries(args.queries)
        truth = exact_topk(data, queries)
        if n * (data.dim * 4 + 8) <= SHARD_BYTES:
            flat = run("Flat (exact)", data, None, queries, sources, truth, batch, cfg.probe_fraction)
        else:  # 51 GB at 10M: its size, and its search time scaled linearly from the last one measured
            flat = Measured("Flat (exact, extrapolated)", n, flat.bytes_per_vector, n * flat.bytes_per_vector / 2 ** 30,
                            float("nan"), flat.ms_per_batch * n / flat.vectors, 1.0, 1.0, 1.0, 0.0)
        row(flat, per_minute / batch)
        rows.append(run(factory_string(cfg.compressed_index, n, data.dim), data, cfg.compressed_index, queries, sources,
                        truth, batch, cfg.probe_fraction))
        row(rows[-1], per_minute / batch)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2 ** 20

    last = rows[-1]
    hours = 100_000
    vectors = hours * stats.shots_per_hour
    scale = vectors / last.vectors
    print(f"\n3. projected to {hours:,} catalogue hours = {vectors / 1e6:.0f}M picture shot vectors "
          f"({stats.shots_per_hour:.0f} per hour; sound adds 128-d vectors, a tenth of the picture's size)")
    print(f"   exact Flat: {vectors * (data.dim * 4 + 8) / 2 ** 30:,.0f} GiB, "
          f"{stats.shots_per_hour * (data.dim * 4 + 8) / 2 ** 20:.2f} MiB per catalogue hour")
    print(f"   {cfg.compressed_index}: {vectors * last.bytes_per_vector / 2 ** 30:,.0f} GiB, "
          f"{stats.shots_per_hour * last.bytes_per_vector / 2 ** 20:.2f} MiB per catalogue hour; "
          f"searching a fixed share of the lists grows linearly: ~{last.ms_per_batch * per_minute / batch * scale / 1000:,.1f} s "
          f"per minute of suspect on these 2 cores, divided by the machines (or GPUs) the shards are spread over")
    print(f"peak resident memory of this benchmark: {peak:.1f} GiB; load average now {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
