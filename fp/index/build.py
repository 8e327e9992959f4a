"""`fp index`: bring an index in line with a catalogue folder, incrementally."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from fp.config import Config
from fp.data.catalogue import CatalogueEntry, file_sha256, scan_catalogue
from fp.data.probe import probe
from fp.data.sidecars import read_metadata
from fp.errors import FPError
from fp.fingerprint.types import VideoFingerprint
from fp.index.store import IndexStore

if TYPE_CHECKING:
    from fp.fingerprint.extract import Fingerprinter


@dataclass(frozen=True)
class IndexEvent:
    """Progress report: `kind` is start, title, progress, done (committed), skipped, failed or
    saving (the k-NN files are being brought in line with the database, at the end of a run)."""

    kind: str
    title_id: str = ""
    position: int = 0
    total: int = 0
    seconds: float = 0.0
    """For `progress`: media seconds fingerprinted so far in this title; else its duration."""
    message: str = ""


@dataclass
class IndexSummary:
    added: list[str] = field(default_factory=list)
    replaced: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    pruned: list[str] = field(default_factory=list)
    not_in_catalogue: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)
    media_seconds: float = 0.0
    """Seconds of media fingerprinted in this run."""
    wall_seconds: float = 0.0


@dataclass(frozen=True)
class Pending:
    """A catalogue entry that needs fingerprinting, with what its commit records."""

    entry: CatalogueEntry
    position: int
    digest: str
    mtime_ns: int
    metadata: dict
    replaces: bool


def index_catalogue(
    catalogue: str | os.PathLike,
    index_dir: str | os.PathLike,
    config: Config | None = None,
    *,
    prune: bool = False,
    fingerprinter: Fingerprinter | None = None,
    on_event: Callable[[IndexEvent], None] | None = None,
) -> IndexSummary:
    """Fingerprint new and changed titles of `catalogue` into the index at `index_dir`.

    Unchanged titles (same size and mtime, or same SHA-256) cost no decoding. A file that cannot
    be read is reported in `failed` and the run goes on; titles committed stay committed. Each
    title is committed (one transaction) in a background thread while the next is fingerprinted.
    """
    started = time.monotonic()
    emit = on_event or (lambda event: None)
    entries = scan_catalogue(catalogue)
    summary = IndexSummary()
    with IndexStore.open_for_writing(index_dir, config) as store, \
            ThreadPoolExecutor(1, thread_name_prefix="fp-commit") as committer:
        config = store.config if config is None else config
        if fingerprinter is None:
            from fp.fingerprint.extract import Fingerprinter

            fingerprinter = Fingerprinter(config)
        known = {t.title_id: t for t in store.titles()}
        writing = threading.Lock()  # one store write at a time: a commit (background) or a touch
        in_flight: tuple[Pending, Future] | None = None
        emit(IndexEvent("start", total=len(entries)))
        for position, entry in enumerate(entries, 1):
            try:
                pending = triage(store, entry, known.get(entry.title_id), position, len(entries),
                                 summary, emit, writing)
                if pending is None:
                    continue
                info = probe(entry.path)
                emit(IndexEvent("title", entry.title_id, position, len(entries), info.duration))
                fingerprint = fingerprinter.fingerprint(info, on_progress=lambda s: emit(
                    IndexEvent("progress", entry.title_id, position, len(entries), s)))
            except FPError as exc:
                fail(entry, position, len(entries), exc, summary, emit)
                continue
            settled(in_flight, len(entries), summary, emit)
            in_flight = pending, committer.submit(locked, writing, commit, store, pending, fingerprint,
                                                  len(entries), summary, emit)
        settled(in_flight, len(entries), summary, emit)
        if summary.added or summary.replaced:
            store.record_runtime(fingerprinter.runtime_used)
        settle(store, known, entries, prune, summary)
        emit(IndexEvent("saving", total=len(entries)))
    summary.wall_seconds = time.monotonic() - started
    return summary


def locked(lock: threading.Lock, work: Callable, *args) -> None:
    with lock:
        work(*args)


def settled(in_flight: tuple[Pending, Future] | None, total: int, summary: IndexSummary, emit) -> None:
    """Wait for the title being committed in the background (the next one is fingerprinted
    meanwhile); a commit that fails is reported like any failed title."""
    if in_flight is None:
        return
    pending, done = in_flight
    try:
        done.result()
    except FPError as exc:
        fail(pending.entry, pending.position, total, exc, summary, emit)


def triage(store: IndexStore, entry: CatalogueEntry, record, position: int, total: int,
           summary: IndexSummary, emit, writing: AbstractContextManager = nullcontext()) -> Pending | None:
    """Skip an unchanged title (recording a new path, mtime or metadata, under `writing`); else
    what its fingerprinting commits. Raises FPError when the file cannot be read."""
    try:
        stat = entry.path.stat()
    except OSError as exc:
        raise FPError(f"{entry.path}: cannot read ({exc.strerror})") from exc
    metadata = read_metadata(entry.path)
    if record is not None and record.size_bytes == stat.st_size and record.mtime_ns == stat.st_mtime_ns:
        if record.metadata != metadata:
            with writing:
                store.touch_title(entry.title_id, str(entry.path), stat.st_mtime_ns, metadata)
        summary.unchanged.append(entry.title_id)
        emit(IndexEvent("skipped", entry.title_id, position, total, record.duration, "unchanged"))
        return None
    try:
        digest = file_sha256(entry.path)
    except OSError as exc:
        raise FPError(f"{entry.path}: cannot read ({exc.strerror})") from exc
    if record is not None and record.content_hash == digest:
        with writing:
            store.touch_title(entry.title_id, str(entry.path), stat.st_mtime_ns, metadata)
        summary.unchanged.append(entry.title_id)
        emit(IndexEvent("skipped", entry.title_id, position, total, record.duration, "same content"))
        return None
    return Pending(entry, position, digest, stat.st_mtime_ns, metadata, record is not None)


def commit(store: IndexStore, pending: Pending, fingerprint: VideoFingerprint, total: int,
           summary: IndexSummary, emit) -> None:
    """Write one fingerprinted title (one transaction) and account for it."""
    title_id = pending.entry.title_id
    store.put_title(title_id, fingerprint, pending.digest, pending.mtime_ns, pending.metadata)
    (summary.replaced if pending.replaces else summary.added).append(title_id)
    summary.media_seconds += fingerprint.info.duration
    emit(IndexEvent("done", title_id, pending.position, total, fingerprint.info.duration))


def fail(entry: CatalogueEntry, position: int, total: int, exc: Exception, summary: IndexSummary,
         emit) -> None:
    summary.failed.append((entry.title_id, str(exc)))
    emit(IndexEvent("failed", entry.title_id, position, total, message=str(exc)))


def settle(store: IndexStore, known: dict, entries: list[CatalogueEntry], prune: bool,
           summary: IndexSummary) -> None:
    """Prune (or list) indexed titles that are no longer in the catalogue."""
    current = {e.title_id for e in entries}
    for title_id in sorted(set(known) - current):
        if prune:
            store.remove_title(title_id)
            summary.pruned.append(title_id)
        else:
            summary.not_in_catalogue.append(title_id)
