"""The index folder: a DuckDB database of titles and shots, a compact file per track, and FAISS
files derived from the tracks.

Layout of `DIR`:
  fp.duckdb                  titles, shots (sample ranges), track records, runs, configuration
  tracks/<n>-<modality>.npy  one title's track: 8-bit codes, memory-mapped (`fp.index.codes`)
  vectors-<modality>.faiss   k-NN index over shot vectors, rebuilt from the tracks when stale
  write.lock                 held by the one process allowed to write

Each vector has one source of truth: the track files. A shot's vector is the mean of its track's
samples (`fp.fingerprint.shots.shot_vector`) and is derived from the stored codes, so the FAISS
files can always be rebuilt from the tracks; the database holds no vectors.

A title is written in one DuckDB transaction, after its track files (new names, written
atomically and fsynced): a run killed at any point leaves the titles committed before it intact;
track files that no commit references are removed when the index is next opened for writing, and
FAISS files are checked against the database's shot ids when opened. A replaced title's old track
files are removed after the commit that replaces it (a reader that has them mapped keeps them).

DuckDB lets one process at a time open the file for writing, and none read meanwhile, so no
connection is held longer than one read or one commit: `fp match` reads while `fp index` is
fingerprinting its next title, and sees the index as of the last commit (connections retry for
a while when the other side holds the file).
"""

from __future__ import annotations

import fcntl
import json
import math
import os
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import duckdb
import numpy as np

from fp import __version__
from fp.config import Config
from fp.data.probe import MediaInfo
from fp.errors import ConfigError, IndexStoreError
from fp.fingerprint.identity import check_digests, encode_digests
from fp.fingerprint.shots import shot_vector
from fp.fingerprint.types import REFRAME, FeatureTrack, VideoFingerprint
from fp.index import codes
from fp.index.vectors import VectorIndex, factory_string, nlist_for, sized_for

DB_NAME = "fp.duckdb"
TRACKS_DIR = "tracks"
EVIDENCE = ("visual", "audio", "text")
"""The modalities a match reports evidence in (a `REFRAME` track's similarity counts as picture)."""
MODALITIES = (*EVIDENCE, REFRAME)
LOCK_NAME = "write.lock"
BUSY_TIMEOUT = 60.0
"""Seconds a connection waits for another process to release the database."""
SCHEMA_VERSION = "2"
"""Index format: 2 stores tracks as 8-bit code files and derives shot vectors from them (1 kept
float vectors in the database)."""
GENERATION_KEY = "generation"
"""`meta` key counting the commits that change titles: a reader that has loaded the index
reloads only when it moves (recording a match run does not move it)."""
BUMP_GENERATION = (f"INSERT INTO meta VALUES ('{GENERATION_KEY}', '1') ON CONFLICT (key) DO UPDATE "
                   "SET value = CAST(CAST(meta.value AS BIGINT) + 1 AS VARCHAR)")
KNN_GENERATION_KEY = "knn_generation"
"""`meta` key: the generation the k-NN files were last brought in line with. While it equals
`GENERATION_KEY`, a reader trusts the files as they are (checking only their sizes) instead of
comparing every shot id, so opening does not grow with the catalogue."""
RUNTIMES_KEY = "runtimes"
"""`meta` key listing the encoder runtimes that fingerprinted the index's titles (comma-separated,
in order of first use). Not part of the configuration: every runtime's vectors answer every
other's (`fp.fingerprint.runtime`)."""
SNAP_EPSILON = 1e-6
"""Tolerance when turning a shot's times back into sample positions."""

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key VARCHAR PRIMARY KEY, value VARCHAR);
CREATE TABLE IF NOT EXISTS titles (
    title_id VARCHAR PRIMARY KEY, title_no BIGINT, path VARCHAR, duration DOUBLE, fps DOUBLE,
    width INTEGER, height INTEGER, size_bytes BIGINT, mtime_ns BIGINT, content_hash VARCHAR,
    added_at TIMESTAMP, probe_json VARCHAR, metadata_json VARCHAR);
CREATE TABLE IF NOT EXISTS shots (
    shot_id BIGINT PRIMARY KEY, title_no BIGINT, first_sample INTEGER, stop_sample INTEGER,
    start_s DOUBLE, end_s DOUBLE, modalities INTEGER);
CREATE TABLE IF NOT EXISTS tracks (
    title_no BIGINT, modality VARCHAR, step DOUBLE, start_s DOUBLE, n INTEGER, dim INTEGER,
    file VARCHAR);
CREATE TABLE IF NOT EXISTS runs (
    run_id BIGINT PRIMARY KEY, created_at TIMESTAMP, suspect_path VARCHAR, sha256 VARCHAR,
    verdict VARCHAR, evidence_json VARCHAR);
"""

TITLE_COLUMNS = ("title_id, path, duration, fps, width, height, size_bytes, mtime_ns, content_hash, "
                 "added_at, metadata_json")


def modality_bit(modality: str) -> int:
    """The bit of `modality` in a shot's `modalities` mask."""
    return 1 << MODALITIES.index(modality)


@dataclass(frozen=True)
class TitleRecord:
    title_id: str
    path: str
    duration: float
    fps: float
    width: int
    height: int
    size_bytes: int
    mtime_ns: int
    content_hash: str
    added_at: datetime
    metadata: dict
    """From the title's `NAME.json` sidecar: display title, owner, territory, licence window."""


@dataclass(frozen=True)
class TrackRecord:
    """Where one title's track lives and how it is sampled."""

    title_id: str
    modality: str
    step: float
    start: float
    n: int
    dim: int
    file: str


@dataclass(frozen=True)
class ShotTable:
    """All shots of the index as arrays, for turning k-NN ids into (title, time)."""

    shot_ids: np.ndarray
    title_index: np.ndarray
    """Each shot's title, as a position in `title_ids`."""
    starts: np.ndarray
    ends: np.ndarray
    title_ids: list[str]

    def rows(self, ids: np.ndarray) -> np.ndarray:
        """Positions of `ids` in the table (ids must exist)."""
        return np.searchsorted(self.shot_ids, ids)


@dataclass(frozen=True)
class Snapshot:
    titles: list[TitleRecord]
    shots: ShotTable
    vectors: dict[str, VectorIndex]
    tracks: dict[tuple[str, str], TrackRecord]
    """By (title, modality)."""


class IndexStore:
    """Open with :meth:`open` (read-only) or :meth:`open_for_writing`; use as a context manager."""

    def __init__(self, root: Path, config: Config, writable: bool, lock_handle=None):
        self.root = root
        self.config = config
        self.writable = writable
        self._lock = lock_handle
        self._vectors: dict[str, VectorIndex] = {}

    # ---------------------------------------------------------------- opening and closing
    @classmethod
    def open(cls, root: str | os.PathLike) -> IndexStore:
        root = Path(root)
        if not (root / DB_NAME).is_file():
            raise IndexStoreError(f"{root}: no fp index here (create one with `fp index CATALOGUE --index {root}`)")
        con = cls.connect(root, read_only=True)
        try:
            config = cls._read_config(con, root)
        finally:
            con.close()
        return cls(root, config, writable=False)

    @classmethod
    def open_for_writing(cls, root: str | os.PathLike, config: Config | None = None) -> IndexStore:
        """Open (creating if needed) for writing; refuses another configuration or writer.
        `config` None: the fingerprint settings the index records with this release's others (an
        index made by an earlier fp goes on being fingerprinted as it was built), or the defaults
        for a new index."""
        root = Path(root)
        try:
            (root / TRACKS_DIR).mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise IndexStoreError(f"{root}: cannot create index folder ({exc.strerror})") from exc
        lock = open(root / LOCK_NAME, "a+")
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            lock.close()
            raise IndexStoreError(f"{root}: another fp process is writing to this index; "
                                  "wait for it to finish") from exc
        try:
            con = cls.connect(root, read_only=False)
            try:
                has_meta = con.execute("SELECT count(*) FROM information_schema.tables "
                                       "WHERE table_name = 'meta'").fetchone()[0]
                if has_meta:
                    recorded_config = cls._read_config(con, root)
                    if config is None:  # its fingerprint settings, this release's others
                        config = recorded_config.for_matching([])
                    recorded_config.check_compatible(config, "this indexing run")
                    recorded = con.execute("SELECT value FROM meta WHERE key = 'weights'").fetchone()
                    check_digests(recorded and recorded[0], config, "this indexing run")
                config = config or Config()
                con.execute(SCHEMA)
                if not has_meta:
                    now = datetime.now(timezone.utc).isoformat()
                    con.executemany("INSERT INTO meta VALUES (?, ?)", [
                        ("config", config.to_json()), ("weights", encode_digests(config)),
                        ("schema_version", SCHEMA_VERSION),
                        ("created_at", now), ("fp_version", __version__), ("next_shot_id", "1"),
                        ("next_title_no", "1")])
                referenced = {r[0] for r in con.execute("SELECT file FROM tracks").fetchall()}
            finally:
                con.close()
        except BaseException:
            lock.close()
            raise
        store = cls(root, config, writable=True, lock_handle=lock)
        store._remove_unreferenced(referenced)
        return store

    @staticmethod
    def connect(root: Path, read_only: bool, timeout: float = BUSY_TIMEOUT) -> duckdb.DuckDBPyConnection:
        """A connection to the database at `root`, retried while another process holds it."""
        deadline = time.monotonic() + timeout
        delay = 0.02
        while True:
            try:
                return duckdb.connect(str(root / DB_NAME), read_only=read_only)
            except duckdb.IOException as exc:
                if "lock" not in str(exc).lower():
                    raise IndexStoreError(f"{root}: cannot open index database ({exc})") from exc
                if time.monotonic() > deadline:
                    raise IndexStoreError(f"{root}: the index is busy (another fp process has held it "
                                          f"for {timeout:.0f} s); try again later") from exc
            except duckdb.Error as exc:
                raise IndexStoreError(f"{root}: index database is unreadable ({exc})") from exc
            time.sleep(delay)
            delay = min(delay * 2, 0.5)

    @contextmanager
    def _session(self):
        """A connection for one read or one commit, closed right after."""
        con = self.connect(self.root, read_only=not self.writable)
        try:
            yield con
        finally:
            con.close()

    @staticmethod
    def _read_config(con: duckdb.DuckDBPyConnection, root: Path) -> Config:
        """The index's configuration; refuses an index of another format with one line."""
        try:
            rows = dict(con.execute("SELECT key, value FROM meta "
                                    "WHERE key IN ('config', 'schema_version')").fetchall())
        except duckdb.Error as exc:
            raise IndexStoreError(f"{root}: not a valid fp index ({exc})") from exc
        if "config" not in rows:
            raise IndexStoreError(f"{root}: index has no recorded configuration")
        version = rows.get("schema_version")
        if version != SCHEMA_VERSION:
            raise IndexStoreError(
                f"{root}: this index was written by an older fp (index format {version}, this fp reads "
                f"format {SCHEMA_VERSION}); re-index the catalogue into a new folder with "
                f"`fp index CATALOGUE --index NEW_DIR`")
        try:
            return Config.from_json(rows["config"])
        except ConfigError as exc:
            raise IndexStoreError(f"{root}: its recorded configuration is out of this fp's bounds ({exc})") from exc

    def close(self) -> None:
        if self.writable:
            self.save_vectors()
        if self._lock is not None:
            self._lock.close()

    def __enter__(self) -> IndexStore:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # ---------------------------------------------------------------- reading
    def meta(self) -> dict[str, str]:
        with self._session() as con:
            return dict(con.execute("SELECT key, value FROM meta").fetchall())

    def generation(self) -> int:
        """The index's change counter (see `GENERATION_KEY`)."""
        return int(self.meta().get(GENERATION_KEY, "0"))

    def titles(self) -> list[TitleRecord]:
        with self._session() as con:
            return self._titles(con)

    @staticmethod
    def _titles(con) -> list[TitleRecord]:
        rows = con.execute(f"SELECT {TITLE_COLUMNS} FROM titles ORDER BY title_id").fetchall()
        return [TitleRecord(*row[:-1], json.loads(row[-1] or "{}")) for row in rows]

    def snapshot(self, modalities: tuple[str, ...]) -> Snapshot:
        """Titles, shots, track records and k-NN indexes read in one go: a consistent state even
        while another process keeps committing titles."""
        with self._session() as con, ThreadPoolExecutor(len(modalities)) as pool:
            stamps = self._knn_stamps(con)  # before the files: see `_knn_current`
            files = {m: pool.submit(VectorIndex.load, self._vector_path(m), None, self.config.probe_fraction)
                     for m in modalities}  # read from disk while DuckDB builds the tables
            titles, table, tracks = self._titles(con), self._shot_table(con), self._track_records(con)
            vectors = {m: v for m in modalities
                       if (v := self._vectors_of(con, m, (stamps, files[m].result()))) is not None}
        return Snapshot(titles, table, vectors, tracks)

    def title(self, title_id: str) -> TitleRecord | None:
        with self._session() as con:
            row = con.execute(f"SELECT {TITLE_COLUMNS} FROM titles WHERE title_id = ?", [title_id]).fetchone()
        return None if row is None else TitleRecord(*row[:-1], json.loads(row[-1] or "{}"))

    def counts(self) -> dict[str, float]:
        with self._session() as con:
            titles, hours = con.execute(
                "SELECT count(*), coalesce(sum(duration), 0) / 3600 FROM titles").fetchone()
            shots = con.execute("SELECT count(*) FROM shots").fetchone()[0]
        return {"titles": titles, "hours": hours, "shots": shots}

    def disk_usage(self) -> dict[str, int]:
        """Bytes of every file of the index folder, by part: `tracks`, `database` (DuckDB and its
        log), `knn` (the FAISS files) and `other` (the lock)."""
        parts = {"tracks": 0, "database": 0, "knn": 0, "other": 0}
        for path in self.root.rglob("*"):
            if path.is_file():
                part = "tracks" if path.parent.name == TRACKS_DIR else "database" if path.name.startswith(DB_NAME) \
                    else "knn" if path.suffix == ".faiss" else "other"
                parts[part] += path.stat().st_size
        return parts

    def track_records(self) -> dict[tuple[str, str], TrackRecord]:
        with self._session() as con:
            return self._track_records(con)

    @staticmethod
    def _track_records(con) -> dict[tuple[str, str], TrackRecord]:
        rows = con.execute("SELECT t.title_id, k.modality, k.step, k.start_s, k.n, k.dim, k.file "
                           "FROM tracks k JOIN titles t USING (title_no)").fetchall()
        return {(r[0], r[1]): TrackRecord(*r) for r in rows}

    def tracks(self, title_id: str) -> dict[str, FeatureTrack]:
        """A title's whole tracks by modality, decoded."""
        return {m: self.read_track(rec) for (t, m), rec in self.track_records().items() if t == title_id}

    def track(self, title_id: str, modality: str) -> FeatureTrack | None:
        return self.tracks(title_id).get(modality)

    def read_track(self, record: TrackRecord, first: int = 0, stop: int | None = None) -> FeatureTrack:
        """Samples [first, stop) of a stored track, decoded (a window reads only its own pages)."""
        return window(record, self.track_codes(record, windowed=first > 0 or stop is not None), first, stop)

    def track_codes(self, record: TrackRecord, *, windowed: bool = False) -> np.ndarray:
        """The memory-mapped codes of a track (`windowed`: see `codes.open_codes`);
        IndexStoreError when its file is gone."""
        path = self.root / TRACKS_DIR / record.file
        try:
            return codes.open_codes(path, windowed=windowed)
        except (OSError, ValueError) as exc:
            raise IndexStoreError(f"{path}: track file missing or unreadable ({exc}); "
                                  "re-index the title") from exc

    def shot_table(self) -> ShotTable:
        with self._session() as con:
            return self._shot_table(con)

    @staticmethod
    def _shot_table(con) -> ShotTable:
        """Built by DuckDB as arrays, without a Python object per shot."""
        titles = con.execute("SELECT title_no, title_id FROM titles ORDER BY title_no").fetchnumpy()
        shots = con.execute("SELECT shot_id, title_no, start_s, end_s FROM shots ORDER BY shot_id").fetchnumpy()
        numbers = np.asarray(titles["title_no"], np.int64)
        return ShotTable(np.asarray(shots["shot_id"], np.int64),
                         np.searchsorted(numbers, np.asarray(shots["title_no"], np.int64)),
                         np.asarray(shots["start_s"], np.float64), np.asarray(shots["end_s"], np.float64),
                         [str(t) for t in titles["title_id"]])

    def vectors(self, modality: str) -> VectorIndex | None:
        """The k-NN index of one modality, brought in line with the database if stale."""
        if modality not in self._vectors:
            with self._session() as con:
                self._vectors[modality] = self._vectors_of(con, modality)
        return self._vectors[modality]

    def _vectors_of(self, con, modality: str,
                    read: tuple[tuple[str, str | None], VectorIndex | None] | None = None) -> VectorIndex | None:
        """The modality's k-NN index in line with the database. `read`: the k-NN stamps and the
        file's index, when the caller has read them (in that order)."""
        dims = con.execute("SELECT DISTINCT dim FROM tracks WHERE modality = ?", [modality]).fetchall()
        if not dims:
            return None
        dim = int(dims[0][0])
        if read is None:
            read = self._knn_stamps(con), VectorIndex.load(self._vector_path(modality), None, self.config.probe_fraction)
        stamps, index = read
        if index is not None and index.dim != dim:
            index = None
        if index is not None and self._knn_current(con, modality, len(index), stamps):
            return index
        index = index or VectorIndex(dim, probe_fraction=self.config.probe_fraction)
        wanted = self._shot_ids(con, modality)
        have = index.ids()
        index.remove(np.setdiff1d(have, wanted))
        for ids, vectors in self.stored_vectors(con, modality, np.setdiff1d(wanted, have)):
            index.add(ids, vectors)
        return index

    @staticmethod
    def _knn_stamps(con) -> tuple[str, str | None]:
        """(generation, generation the k-NN files were saved at)."""
        stamps = dict(con.execute("SELECT key, value FROM meta WHERE key IN (?, ?)",
                                  [GENERATION_KEY, KNN_GENERATION_KEY]).fetchall())
        return stamps.get(GENERATION_KEY, "0"), stamps.get(KNN_GENERATION_KEY)

    def _knn_current(self, con, modality: str, size: int, before: tuple[str, str | None]) -> bool:
        """Whether a k-NN file of `size` vectors, loaded after reading the stamps `before`, is
        the one saved at the database's generation: the stamps agree, did not move while it was
        loaded, and the database holds `size` shots of `modality`."""
        if before[0] != before[1] or self._knn_stamps(con) != before:
            return False
        shots = con.execute("SELECT count(*) FROM shots WHERE (modalities & ?) != 0",
                            [modality_bit(modality)]).fetchone()[0]
        return shots == size

    @staticmethod
    def _shot_ids(con, modality: str) -> np.ndarray:
        return con.execute("SELECT shot_id FROM shots WHERE (modalities & ?) != 0 ORDER BY shot_id",
                           [modality_bit(modality)]).fetchnumpy()["shot_id"].astype(np.int64)

    def stored_vectors(self, con, modality: str, ids: np.ndarray):
        """Yield (ids, vectors) of shots `ids` (sorted), a title at a time, derived from the
        stored tracks exactly as they were when the title was written."""
        if not len(ids):
            return
        shots = con.execute(
            "SELECT s.shot_id, s.first_sample, s.stop_sample, k.step, k.start_s, k.n, k.dim, k.file, "
            "t.title_id FROM shots s JOIN (SELECT unnest(?::BIGINT[]) AS shot_id) USING (shot_id) "
            "JOIN tracks k ON k.title_no = s.title_no AND k.modality = ? "
            "JOIN titles t ON t.title_no = s.title_no ORDER BY k.file, s.shot_id",
            [ids.tolist(), modality]).fetchnumpy()
        files = shots["file"]
        bounds = np.flatnonzero(np.r_[True, files[1:] != files[:-1], True])
        for lo, hi in zip(bounds[:-1], bounds[1:]):
            record = TrackRecord(str(shots["title_id"][lo]), modality, float(shots["step"][lo]),
                                 float(shots["start_s"][lo]), int(shots["n"][lo]), int(shots["dim"][lo]),
                                 str(files[lo]))
            track = self.read_track(record)
            found = [(int(i), shot_vector(track, int(a), int(b))) for i, a, b in zip(
                shots["shot_id"][lo:hi], shots["first_sample"][lo:hi], shots["stop_sample"][lo:hi])]
            found = [(i, v) for i, v in found if v is not None]
            if found:
                yield np.array([i for i, _ in found], np.int64), np.stack([v for _, v in found])

    def _restructured(self, con, modality: str, index: VectorIndex) -> VectorIndex | None:
        """A rebuilt index when `index` no longer suits its size, else None: exact up to
        `Config.exact_index_max_vectors`, compressed past it (back to exact below half of it), and
        retrained once it holds `Config.retrain_growth` times what its inverted lists were sized
        for. Built from the stored tracks: nothing is fingerprinted again."""
        cfg, n = self.config, len(index)
        if index.exact:
            if n <= cfg.exact_index_max_vectors:
                return None
        elif n > cfg.exact_index_max_vectors // 2 and \
                (index.ivf is None or n <= cfg.retrain_growth * sized_for(index.ivf.nlist)):
            return None
        ids = self._shot_ids(con, modality)
        if n <= cfg.exact_index_max_vectors:
            rebuilt = VectorIndex(index.dim, probe_fraction=cfg.probe_fraction)
        else:
            factory = factory_string(cfg.compressed_index, n, index.dim)
            size = min(n, max(cfg.training_vectors, 64 * nlist_for(n)))
            sample = np.sort(np.random.default_rng(0).choice(ids, size, replace=False))
            training = np.concatenate([v for _, v in self.stored_vectors(con, modality, sample)])
            rebuilt = VectorIndex.compressed(index.dim, factory, training, cfg.probe_fraction)
        for chunk_ids, vectors in self.stored_vectors(con, modality, ids):
            rebuilt.add(chunk_ids, vectors)
        return rebuilt

    def _vector_path(self, modality: str) -> Path:
        if modality not in MODALITIES:  # names come from the database: never let one pick a path
            raise IndexStoreError(f"{self.root}: unknown modality {modality!r} in the index")
        return self.root / f"vectors-{modality}.faiss"

    # ---------------------------------------------------------------- writing
    def _require_writable(self) -> None:
        if not self.writable:
            raise IndexStoreError(f"{self.root}: index is open read-only")

    def put_title(self, title_id: str, fingerprint: VideoFingerprint, content_hash: str,
                  mtime_ns: int, metadata: dict | None = None) -> None:
        """Insert or replace one title, atomically: its track files first, then one commit."""
        self._require_writable()
        info: MediaInfo = fingerprint.info
        with self._session() as con:
            number = int(con.execute("SELECT value FROM meta WHERE key = 'next_title_no'").fetchone()[0])
            con.execute("UPDATE meta SET value = ? WHERE key = 'next_title_no'", [str(number + 1)])
            stored = {}
            for modality, track in fingerprint.tracks.items():
                self._vector_path(modality)  # a known modality
                file = f"{number}-{modality}.npy"
                packed = codes.encode(track.vectors, track.valid)
                codes.write(self.root / TRACKS_DIR / file, packed)
                stored[modality] = (track, file, codes.decode(packed)[1])
            old = self._write_title(con, title_id, number, info, fingerprint, stored, content_hash,
                                    mtime_ns, metadata or {})
        self._remove_files(old)
        self._vectors.clear()

    def _write_title(self, con, title_id: str, number: int, info: MediaInfo, fingerprint: VideoFingerprint,
                     stored: dict, content_hash: str, mtime_ns: int, metadata: dict) -> list[str]:
        """One transaction; returns the track files of the title it replaced."""
        con.execute("BEGIN TRANSACTION")
        try:
            old = self._delete_title_rows(con, title_id)
            next_id = int(con.execute("SELECT value FROM meta WHERE key = 'next_shot_id'").fetchone()[0])
            width, height = info.display_size
            con.execute(
                "INSERT INTO titles (title_id, title_no, path, duration, fps, width, height, size_bytes, "
                "mtime_ns, content_hash, added_at, probe_json, metadata_json) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [title_id, number, str(Path(info.path).resolve()), info.duration, info.fps, width, height,
                 info.size_bytes, mtime_ns, content_hash, datetime.now(timezone.utc),
                 json.dumps(info.to_dict()), json.dumps(metadata)])
            rows = shot_rows(fingerprint, stored, next_id, number)
            if rows:
                con.executemany("INSERT INTO shots VALUES (?, ?, ?, ?, ?, ?, ?)", rows)
            con.executemany("INSERT INTO tracks VALUES (?, ?, ?, ?, ?, ?, ?)", [
                (number, m, t.step, t.start, len(t), t.dim, file) for m, (t, file, _) in stored.items()])
            con.execute("UPDATE meta SET value = ? WHERE key = 'next_shot_id'", [str(next_id + len(rows))])
            con.execute(BUMP_GENERATION)
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
        return old

    def record_runtime(self, runtime: str) -> None:
        """Add `runtime` to those that fingerprinted titles of this index (meta `runtimes`)."""
        self._require_writable()
        with self._session() as con:
            row = con.execute("SELECT value FROM meta WHERE key = ?", [RUNTIMES_KEY]).fetchone()
            used = row[0].split(",") if row and row[0] else []
            if runtime not in used:
                con.execute("INSERT INTO meta VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                            [RUNTIMES_KEY, ",".join([*used, runtime])])

    def touch_title(self, title_id: str, path: str, mtime_ns: int, metadata: dict | None = None) -> None:
        """Record a new location, modification time or metadata for unchanged content."""
        self._require_writable()
        with self._session() as con:
            con.execute("UPDATE titles SET path = ?, mtime_ns = ?, metadata_json = ? WHERE title_id = ?",
                        [str(Path(path).resolve()), mtime_ns, json.dumps(metadata or {}), title_id])
            con.execute(BUMP_GENERATION)

    def remove_title(self, title_id: str) -> None:
        """Remove a title with its shots and tracks, atomically."""
        self._require_writable()
        with self._session() as con:
            con.execute("BEGIN TRANSACTION")
            try:
                old = self._delete_title_rows(con, title_id)
                con.execute(BUMP_GENERATION)
                con.execute("COMMIT")
            except BaseException:
                con.execute("ROLLBACK")
                raise
        self._remove_files(old)
        self._vectors.clear()

    @staticmethod
    def _delete_title_rows(con, title_id: str) -> list[str]:
        """Delete a title's rows (inside the caller's transaction); returns its track files."""
        row = con.execute("SELECT title_no FROM titles WHERE title_id = ?", [title_id]).fetchone()
        if row is None:
            return []
        files = [r[0] for r in con.execute("SELECT file FROM tracks WHERE title_no = ?", [row[0]]).fetchall()]
        for table in ("shots", "tracks", "titles"):
            con.execute(f"DELETE FROM {table} WHERE title_no = ?", [row[0]])
        return files

    def _remove_files(self, files: list[str]) -> None:
        for file in files:
            (self.root / TRACKS_DIR / file).unlink(missing_ok=True)

    def _remove_unreferenced(self, referenced: set[str]) -> None:
        """Track files no commit references: left by a run killed between writing them and its
        commit (or between a commit and removing a replaced title's files)."""
        for path in (self.root / TRACKS_DIR).iterdir():
            if path.name not in referenced:
                path.unlink(missing_ok=True)

    def save_vectors(self) -> None:
        """Bring every modality's FAISS file in line with the database."""
        self._require_writable()
        self._vectors.clear()
        with self._session() as con:
            modalities = [r[0] for r in con.execute("SELECT DISTINCT modality FROM tracks").fetchall()]
        for modality in modalities:
            index = self.vectors(modality)
            if index is None:
                continue
            with self._session() as con:
                rebuilt = self._restructured(con, modality, index)
            if rebuilt is not None:
                index = self._vectors[modality] = rebuilt
            index.save(self._vector_path(modality))
        for stale in self.root.glob("vectors-*.faiss"):
            if stale.stem.removeprefix("vectors-") not in modalities:
                stale.unlink()
        with self._session() as con:  # the files are in line: readers may trust them as they are
            con.execute("INSERT INTO meta SELECT ?, coalesce(max(value), '0') FROM meta WHERE key = ? "
                        "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                        [KNN_GENERATION_KEY, GENERATION_KEY])


def window(record: TrackRecord, stored: np.ndarray, first: int = 0, stop: int | None = None) -> FeatureTrack:
    """Samples [first, stop) of a track's codes (clipped to the track), decoded; the window's
    `start` says where it lies."""
    first = max(0, first)
    stop = record.n if stop is None else max(first, min(stop, record.n))
    vectors, valid = codes.decode(stored[first:stop])
    return FeatureTrack(record.modality, record.step, vectors, valid, record.start + first * record.step)


def shot_rows(fingerprint: VideoFingerprint, stored: dict, first_id: int, title_no: int) -> list[tuple]:
    """The `shots` rows of a title: each shot's sample range and the modalities with a vector (a
    shot's vector is the mean of its stored samples: it has one where any of them has content)."""
    step = next(iter(stored.values()))[0].step if stored else 1.0
    n = max((len(track) for track, _, _ in stored.values()), default=0)
    rows = []
    for offset, shot in enumerate(fingerprint.shots):
        first, stop = sample_range(shot.start, shot.end, step, n)
        mask = 0
        for modality, (_, _, valid) in stored.items():
            if valid[first:stop].any():
                mask |= modality_bit(modality)
        rows.append((first_id + offset, title_no, first, stop, shot.start, shot.end, mask))
    return rows


def sample_range(start: float, end: float, step: float, n: int) -> tuple[int, int]:
    """The samples [first, stop) a shot of [start, end) seconds spans (its end may have been cut
    to the media's duration, inside its last sample)."""
    first = int(round(start / step))
    stop = min(n, math.ceil(end / step - SNAP_EPSILON))
    return min(first, n), max(stop, min(first, n))
