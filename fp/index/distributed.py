"""`fp index --ray`: fingerprinting fanned out over a Ray cluster, merged into one index.

The driver holds the index's write lock throughout. It triages the catalogue exactly as a local
run does (unchanged titles are skipped before anything is dispatched), sends one Ray task per
title to fingerprint, and each task writes its title's fingerprint to a shard file in a shared
folder. The driver merges shards in catalogue order, one transaction per title, so shot ids,
vectors and tracks come out as in a local run.

Shards are `.npz` files (arrays plus a JSON header, no pickle), deleted once merged.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from fp.config import Config
from fp.data.catalogue import scan_catalogue
from fp.data.probe import MediaInfo
from fp.errors import FPError
from fp.fingerprint.types import FeatureTrack, Shot, VideoFingerprint
from fp.index.build import IndexEvent, IndexSummary, Pending, commit, fail, settle, triage
from fp.index.store import IndexStore

SHARD_VERSION = 1


def write_shard(path: Path, fingerprint: VideoFingerprint) -> None:
    """Store one title's fingerprint as an .npz (written to a temporary name, then renamed)."""
    arrays: dict[str, np.ndarray] = {}
    tracks = {}
    for modality, track in fingerprint.tracks.items():
        arrays[f"track_{modality}"] = track.vectors.astype(np.float32)
        arrays[f"valid_{modality}"] = track.valid.astype(np.bool_)
        tracks[modality] = {"step": track.step, "start": track.start}
    modalities = sorted({m for shot in fingerprint.shots for m in shot.vectors})
    for modality in modalities:
        rows = [i for i, shot in enumerate(fingerprint.shots) if modality in shot.vectors]
        arrays[f"shots_{modality}"] = np.array(rows, np.int64)
        arrays[f"vectors_{modality}"] = np.stack(
            [fingerprint.shots[i].vectors[modality] for i in rows]).astype(np.float32)
    header = {"version": SHARD_VERSION, "info": fingerprint.info.to_dict(), "tracks": tracks,
              "modalities": modalities,
              "shots": [[shot.start, shot.end] for shot in fingerprint.shots]}
    arrays["header"] = np.frombuffer(json.dumps(header).encode(), np.uint8)
    tmp = path.with_name(path.name + f".tmp{os.getpid()}.npz")
    np.savez(tmp, **arrays)
    os.replace(tmp, path)


def read_shard(path: Path) -> VideoFingerprint:
    try:
        return _read_shard(path)
    except (OSError, ValueError, KeyError) as exc:
        raise FPError(f"{path}: unreadable shard ({exc})") from exc


def _read_shard(path: Path) -> VideoFingerprint:
    with np.load(path, allow_pickle=False) as data:
        header = json.loads(data["header"].tobytes())
        if header.get("version") != SHARD_VERSION:
            raise FPError(f"{path}: shard of another fp version")
        info = header["info"]
        info = MediaInfo(**{**info, "subtitle_streams": tuple(info["subtitle_streams"])})
        tracks = {m: FeatureTrack(m, t["step"], data[f"track_{m}"], data[f"valid_{m}"], t["start"])
                  for m, t in header["tracks"].items()}
        vectors: list[dict[str, np.ndarray]] = [{} for _ in header["shots"]]
        for modality in header["modalities"]:
            for row, vec in zip(data[f"shots_{modality}"], data[f"vectors_{modality}"]):
                vectors[row][modality] = vec
    shots = [Shot(start, end, vecs) for (start, end), vecs in zip(header["shots"], vectors)]
    return VideoFingerprint(info, tracks, shots)


_FINGERPRINTERS: dict[str, object] = {}


def fingerprint_to_shard(config_json: str, path: str, shard: str, threads: int) -> str:
    """Ray task: fingerprint one title into `shard`; returns "" or the one-line error.
    The encoders are loaded once per worker process."""
    import torch

    from fp.fingerprint.extract import Fingerprinter

    torch.set_num_threads(threads)
    fingerprinter = _FINGERPRINTERS.get(config_json)
    if fingerprinter is None:
        fingerprinter = _FINGERPRINTERS[config_json] = Fingerprinter(Config.from_json(config_json))
    try:
        write_shard(Path(shard), fingerprinter.fingerprint(path))
    except FPError as exc:
        return str(exc)
    return ""


AUTH_NOTICE_LOGGER = "ray._private.authentication.authentication_token_setup"
"""Ray's logger that announces, on stderr, the token authentication a new local instance turns
on: silenced while fp starts one, so that fp's errors stay one line."""


def start_ray(ray, address: str | None) -> bool:
    """Connect to the cluster at `address` (or start a local instance) unless Ray already runs;
    True when this call started it (the caller then shuts it down). FPError when unreachable."""
    if ray.is_initialized():
        return False
    notice = logging.getLogger(AUTH_NOTICE_LOGGER)
    level = notice.level
    notice.setLevel(logging.ERROR)
    try:
        ray.init(address=address, include_dashboard=False, log_to_driver=False, configure_logging=False)
    except (ConnectionError, RuntimeError, ValueError) as exc:
        raise FPError(f"cannot reach the Ray cluster at {address or 'a new local instance'} "
                      f"({str(exc).splitlines()[0] if str(exc) else type(exc).__name__})") from None
    finally:
        notice.setLevel(level)
    return True


def import_ray():
    """The `ray` module, or FPError saying how to install it."""
    try:
        import ray
    except ImportError:
        raise FPError("fp index --ray needs Ray: pip install 'fp-match[ray]'") from None
    return ray


def index_catalogue_ray(
    catalogue: str | os.PathLike,
    index_dir: str | os.PathLike,
    config: Config | None = None,
    *,
    address: str | None = None,
    shard_dir: str | os.PathLike | None = None,
    cpus_per_task: int = 1,
    prune: bool = False,
    on_event: Callable[[IndexEvent], None] | None = None,
) -> IndexSummary:
    """`index_catalogue`, with the fingerprinting done by Ray tasks.

    `address`: a Ray cluster (`auto`, `HOST:PORT` or `ray://HOST:10001`); None starts a local
    Ray instance (or uses the one this process already started). `shard_dir` (default
    `INDEX/shards`) must be reachable at the same path by every worker, as must the catalogue.
    """
    ray = import_ray()
    started = time.monotonic()
    emit = on_event or (lambda event: None)
    entries = scan_catalogue(catalogue)
    summary = IndexSummary()
    shards = Path(shard_dir) if shard_dir else Path(index_dir) / "shards"
    with IndexStore.open_for_writing(index_dir, config) as store:
        config = store.config if config is None else config
        known = {t.title_id: t for t in store.titles()}
        emit(IndexEvent("start", total=len(entries)))
        todo: list[Pending] = []
        for position, entry in enumerate(entries, 1):
            try:
                pending = triage(store, entry, known.get(entry.title_id), position, len(entries),
                                 summary, emit)
            except FPError as exc:
                fail(entry, position, len(entries), exc, summary, emit)
                continue
            if pending is not None:
                todo.append(pending)
        if todo:
            _fan_out(ray, address, store, config, todo, shards, cpus_per_task, len(entries), summary, emit)
        settle(store, known, entries, prune, summary)
    summary.wall_seconds = time.monotonic() - started
    return summary


def _fan_out(ray, address, store, config, todo, shards, cpus_per_task, total, summary, emit) -> None:
    """Dispatch `todo`, then merge its shards in catalogue order as they complete."""
    try:
        shards.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise FPError(f"{shards}: cannot create shard folder ({exc.strerror})") from exc
    ours = start_ray(ray, address)
    paths, refs = {}, {}
    try:
        task = ray.remote(num_cpus=cpus_per_task, max_retries=1)(fingerprint_to_shard)
        config_json = config.to_json()
        for pending in todo:
            name = hashlib.sha256(pending.entry.title_id.encode()).hexdigest()[:32] + ".npz"
            paths[pending.position] = shards / name
            refs[pending.position] = task.remote(config_json, str(pending.entry.path),
                                                 str(paths[pending.position]), cpus_per_task)
        for pending in todo:  # merge in catalogue order: shot ids as in a local run
            shard = paths[pending.position]
            try:
                error = ray.get(refs[pending.position])
            except ray.exceptions.RayError as exc:
                error = f"{pending.entry.path}: Ray task failed ({str(exc).splitlines()[0]})"
            try:
                if error:
                    raise FPError(error)
                commit(store, pending, read_shard(shard), total, summary, emit)
            except FPError as exc:
                fail(pending.entry, pending.position, total, exc, summary, emit)
            finally:
                shard.unlink(missing_ok=True)
    finally:
        if ours:
            ray.shutdown()
        for shard in paths.values():  # an interrupted merge leaves nothing behind
            shard.unlink(missing_ok=True)
