"""The index folder: a DuckDB database (the source of truth) plus FAISS files derived from it.

Layout of `DIR`:
  fp.duckdb            titles, shots, shot vectors, per-second tracks, configuration
  vectors-<modality>.faiss   k-NN index over shot vectors, rebuilt from the database when stale
  write.lock           held by the one process allowed to write

Every title is written in one DuckDB transaction, so a run killed at any point leaves the
titles committed before it intact; FAISS files are written atomically and checked against the
database's shot ids when opened.

DuckDB lets one process at a time open the file for writing, and none read meanwhile, so no
connection is held longer than one read or one commit: `fp match` reads while `fp index` is
fingerprinting its next title, and sees the index as of the last commit (connections retry for
a while when the other side holds the file).
"""

from __future__ import annotations

import fcntl
import json
import os
import time
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import duckdb
import numpy as np

from fp import __version__
from fp.config import Config
from fp.data.probe import MediaInfo
from fp.errors import IndexStoreError
from fp.fingerprint.types import FeatureTrack, VideoFingerprint
from fp.index.vectors import VectorIndex, factory_string, nlist_for, sized_for

DB_NAME = "fp.duckdb"
MODALITIES = ("visual", "audio", "text")
LOCK_NAME = "write.lock"
BUSY_TIMEOUT = 60.0
"""Seconds a connection waits for another process to release the database."""
SCHEMA_VERSION = "1"
GENERATION_KEY = "generation"
"""`meta` key counting the commits that change titles: a reader that has loaded the index
reloads only when it moves (recording a match run does not move it)."""
BUMP_GENERATION = (f"INSERT INTO meta VALUES ('{GENERATION_KEY}', '1') ON CONFLICT (key) DO UPDATE "
                   "SET value = CAST(CAST(meta.value AS BIGINT) + 1 AS VARCHAR)")
RUNTIMES_KEY = "runtimes"
"""`meta` key listing the encoder runtimes that fingerprinted the index's titles (comma-separated,
in order of first use). Not part of the configuration: every runtime's vectors answer every
other's (`fp.fingerprint.runtime`)."""

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key VARCHAR PRIMARY KEY, value VARCHAR);
CREATE TABLE IF NOT EXISTS titles (
    title_id VARCHAR PRIMARY KEY, path VARCHAR, duration DOUBLE, fps DOUBLE,
    width INTEGER, height INTEGER, size_bytes BIGINT, mtime_ns BIGINT,
    content_hash VARCHAR, added_at TIMESTAMP, probe_json VARCHAR);
CREATE TABLE IF NOT EXISTS shots (
    shot_id BIGINT PRIMARY KEY, title_id VARCHAR, start_s DOUBLE, end_s DOUBLE);
CREATE TABLE IF NOT EXISTS shot_vectors (
    shot_id BIGINT, modality VARCHAR, dim INTEGER, vector BLOB);
CREATE TABLE IF NOT EXISTS runs (
    run_id BIGINT PRIMARY KEY, created_at TIMESTAMP, suspect_path VARCHAR, sha256 VARCHAR,
    verdict VARCHAR, evidence_json VARCHAR);
CREATE TABLE IF NOT EXISTS tracks (
    title_id VARCHAR, modality VARCHAR, step DOUBLE, start_s DOUBLE, n INTEGER, dim INTEGER,
    vectors BLOB, valid BLOB);
ALTER TABLE titles ADD COLUMN IF NOT EXISTS metadata_json VARCHAR;
"""


TITLE_COLUMNS = ("title_id, path, duration, fps, width, height, size_bytes, mtime_ns, content_hash, "
                 "added_at, metadata_json")


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
class ShotTable:
    """All shots of the index as arrays, for turning k-NN ids into (title, time)."""

    shot_ids: np.ndarray
    title_index: np.ndarray
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
    def open_for_writing(cls, root: str | os.PathLike, config: Config) -> IndexStore:
        """Open (creating if needed) for writing; refuses another configuration or writer."""
        root = Path(root)
        try:
            root.mkdir(parents=True, exist_ok=True)
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
                con.execute(SCHEMA)
                stored = con.execute("SELECT value FROM meta WHERE key = 'config'").fetchone()
                if stored is None:
                    now = datetime.now(timezone.utc).isoformat()
                    con.executemany("INSERT INTO meta VALUES (?, ?)", [
                        ("config", config.to_json()), ("schema_version", SCHEMA_VERSION),
                        ("created_at", now), ("fp_version", __version__), ("next_shot_id", "1")])
                else:
                    Config.from_json(stored[0]).check_compatible(config, "this indexing run")
            finally:
                con.close()
        except BaseException:
            lock.close()
            raise
        return cls(root, config, writable=True, lock_handle=lock)

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
        try:
            row = con.execute("SELECT value FROM meta WHERE key = 'config'").fetchone()
        except duckdb.Error as exc:
            raise IndexStoreError(f"{root}: not a valid fp index ({exc})") from exc
        if row is None:
            raise IndexStoreError(f"{root}: index has no recorded configuration")
        return Config.from_json(row[0])

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
        """Titles, shots and k-NN indexes read in one go: a consistent state even while another
        process keeps committing titles."""
        with self._session() as con:
            return Snapshot(self._titles(con), self._shot_table(con),
                            {m: v for m in modalities if (v := self._vectors_of(con, m)) is not None})

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

    def tracks(self, title_id: str, content_hash: str | None = None) -> dict[str, FeatureTrack]:
        """A title's tracks by modality; with `content_hash`, only if the title still has it (a
        reader keeps answering from the state it opened even if the title was replaced since)."""
        with self._session() as con:
            rows = con.execute(
                "SELECT t.modality, t.step, t.start_s, t.n, t.dim, t.vectors, t.valid FROM tracks t "
                "JOIN titles USING (title_id) WHERE title_id = ? AND (? IS NULL OR content_hash = ?)",
                [title_id, content_hash, content_hash]).fetchall()
        return {row[0]: self._track(*row) for row in rows}

    def track(self, title_id: str, modality: str) -> FeatureTrack | None:
        return self.tracks(title_id).get(modality)

    @staticmethod
    def _track(modality: str, step, start, n, dim, vectors, valid) -> FeatureTrack:
        vecs = np.frombuffer(vectors, np.float16).reshape(n, dim).astype(np.float32)
        return FeatureTrack(modality, step, vecs, np.frombuffer(valid, np.bool_).copy(), start)

    def shot_table(self) -> ShotTable:
        with self._session() as con:
            return self._shot_table(con)

    @staticmethod
    def _shot_table(con) -> ShotTable:
        rows = con.execute(
            "SELECT shot_id, title_id, start_s, end_s FROM shots ORDER BY shot_id").fetchall()
        title_ids = sorted({r[1] for r in rows})
        position = {t: i for i, t in enumerate(title_ids)}
        return ShotTable(
            np.array([r[0] for r in rows], np.int64),
            np.array([position[r[1]] for r in rows], np.int64),
            np.array([r[2] for r in rows], np.float64),
            np.array([r[3] for r in rows], np.float64),
            title_ids,
        )

    def vectors(self, modality: str) -> VectorIndex | None:
        """The k-NN index of one modality, brought in line with the database if stale."""
        if modality not in self._vectors:
            with self._session() as con:
                self._vectors[modality] = self._vectors_of(con, modality)
        return self._vectors[modality]

    def _vectors_of(self, con, modality: str) -> VectorIndex | None:
        dims = con.execute("SELECT DISTINCT dim FROM shot_vectors WHERE modality = ?",
                           [modality]).fetchall()
        if not dims:
            return None
        dim = int(dims[0][0])
        index = VectorIndex.load(self._vector_path(modality), dim, self.config.probe_fraction) \
            or VectorIndex(dim, probe_fraction=self.config.probe_fraction)
        wanted = self._shot_ids(con, modality)
        have = index.ids()
        index.remove(np.setdiff1d(have, wanted))
        for ids, vectors in self._stored_vectors(con, modality, dim, np.setdiff1d(wanted, have)):
            index.add(ids, vectors)
        return index

    @staticmethod
    def _shot_ids(con, modality: str) -> np.ndarray:
        return con.execute("SELECT shot_id FROM shot_vectors WHERE modality = ? ORDER BY shot_id",
                           [modality]).fetchnumpy()["shot_id"].astype(np.int64)

    @staticmethod
    def _stored_vectors(con, modality: str, dim: int, ids: np.ndarray, chunk: int = 50_000):
        """Yield (ids, vectors) of the stored shot vectors `ids` (sorted), a chunk at a time."""
        for lo in range(0, len(ids), chunk):
            part = ids[lo:lo + chunk]
            rows = con.execute(
                "SELECT shot_id, vector FROM shot_vectors JOIN (SELECT unnest(?::BIGINT[]) AS shot_id) "
                "USING (shot_id) WHERE modality = ? AND shot_id BETWEEN ? AND ? ORDER BY shot_id",
                [part.tolist(), modality, int(part[0]), int(part[-1])]).fetchnumpy()
            yield (rows["shot_id"].astype(np.int64),
                   np.frombuffer(b"".join(rows["vector"]), np.float32).reshape(-1, dim))

    def _restructured(self, con, modality: str, index: VectorIndex) -> VectorIndex | None:
        """A rebuilt index when `index` no longer suits its size, else None: exact up to
        `Config.exact_index_max_vectors`, compressed past it (back to exact below half of it), and
        retrained once it holds `Config.retrain_growth` times what its inverted lists were sized
        for. Built from the stored vectors: nothing is fingerprinted again."""
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
            factory = factory_string(cfg.compressed_index, n)
            size = min(n, max(cfg.training_vectors, 64 * nlist_for(n)))
            sample = np.sort(np.random.default_rng(0).choice(ids, size, replace=False))
            training = np.concatenate([v for _, v in self._stored_vectors(con, modality, index.dim, sample)])
            rebuilt = VectorIndex.compressed(index.dim, factory, training, cfg.probe_fraction)
        for chunk_ids, vectors in self._stored_vectors(con, modality, index.dim, ids):
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
        """Insert or replace one title, atomically."""
        self._require_writable()
        info: MediaInfo = fingerprint.info
        with self._session() as con:
            self._write_title(con, title_id, info, fingerprint, content_hash, mtime_ns, metadata or {})
        self._vectors.clear()

    def _write_title(self, con, title_id: str, info: MediaInfo, fingerprint: VideoFingerprint,
                     content_hash: str, mtime_ns: int, metadata: dict) -> None:
        con.execute("BEGIN TRANSACTION")
        try:
            self._delete_title_rows(con, title_id)
            next_id = int(con.execute("SELECT value FROM meta WHERE key = 'next_shot_id'").fetchone()[0])
            width, height = info.display_size
            con.execute(
                "INSERT INTO titles (title_id, path, duration, fps, width, height, size_bytes, mtime_ns, "
                "content_hash, added_at, probe_json, metadata_json) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [title_id, str(Path(info.path).resolve()), info.duration, info.fps, width, height,
                 info.size_bytes, mtime_ns, content_hash, datetime.now(timezone.utc),
                 json.dumps(info.to_dict()), json.dumps(metadata)])
            shot_rows, vector_rows = [], []
            for offset, shot in enumerate(fingerprint.shots):
                shot_id = next_id + offset
                shot_rows.append((shot_id, title_id, shot.start, shot.end))
                for modality, vec in shot.vectors.items():
                    vector_rows.append((shot_id, modality, len(vec), vec.astype(np.float32).tobytes()))
            if shot_rows:
                con.executemany("INSERT INTO shots VALUES (?, ?, ?, ?)", shot_rows)
            if vector_rows:
                con.executemany("INSERT INTO shot_vectors VALUES (?, ?, ?, ?)", vector_rows)
            for modality, track in fingerprint.tracks.items():
                con.execute("INSERT INTO tracks VALUES (?, ?, ?, ?, ?, ?, ?, ?)", [
                    title_id, modality, track.step, track.start, len(track), track.dim,
                    track.vectors.astype(np.float16).tobytes(), track.valid.astype(np.bool_).tobytes()])
            con.execute("UPDATE meta SET value = ? WHERE key = 'next_shot_id'",
                        [str(next_id + len(shot_rows))])
            con.execute(BUMP_GENERATION)
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise

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
        """Remove a title with its shots, vectors and tracks, atomically."""
        self._require_writable()
        with self._session() as con:
            con.execute("BEGIN TRANSACTION")
            try:
                self._delete_title_rows(con, title_id)
                con.execute(BUMP_GENERATION)
                con.execute("COMMIT")
            except BaseException:
                con.execute("ROLLBACK")
                raise
        self._vectors.clear()

    @staticmethod
    def _delete_title_rows(con, title_id: str) -> None:
        con.execute("DELETE FROM shot_vectors WHERE shot_id IN "
                    "(SELECT shot_id FROM shots WHERE title_id = ?)", [title_id])
        for table in ("shots", "tracks", "titles"):
            con.execute(f"DELETE FROM {table} WHERE title_id = ?", [title_id])

    def save_vectors(self) -> None:
        """Bring every modality's FAISS file in line with the database."""
        self._require_writable()
        self._vectors.clear()
        with self._session() as con:
            modalities = [r[0] for r in con.execute(
                "SELECT DISTINCT modality FROM shot_vectors").fetchall()]
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
