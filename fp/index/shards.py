"""A catalogue sharded by title across machines, matched through Ray (`fp match --shard`).

Each shard is an ordinary fp index folder holding some of the catalogue's titles (built with
`fp index` on the machine that keeps it). A `ShardActor` on that machine opens it with an
`IndexReader` and answers k-NN searches and track windows; the driver's `ShardedReader` has
the members of `IndexReader`, so `Matcher(reader=ShardedReader([...]))` runs unchanged: a
search fans out to every shard at once and the answers are merged (`Neighbours.merged`), a
window is read from the one shard that holds the title. With exact shard indexes the merged
neighbours are those of one index holding every title, hence the same matches.

Placement: shard i runs on a node that offers the Ray resource `fp_shard_<i>` (started with
`ray start --resources '{"fp_shard_<i>": 1}'`) when the cluster has one; otherwise anywhere, so
its folder must then be readable wherever Ray places it (one machine, or a shared filesystem).
Every actor asks for a small fraction of its resource, so several drivers can match at once.

Only query vectors, title ids, times and track windows cross the network, through Ray's own
serialisation inside the cluster; suspect files are decoded on the driver. See docs/sharding.md.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import socket
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from fp.config import Config
from fp.data.catalogue import VIDEO_EXTENSIONS, scan_catalogue
from fp.errors import ConfigMismatchError, FPError, IndexStoreError
from fp.fingerprint.types import FeatureTrack
from fp.index.distributed import start_ray
from fp.index.reader import IndexReader, Neighbours
from fp.index.store import MODALITIES, IndexStore, TitleRecord

SHARD_RESOURCE = "fp_shard_{}"
"""The Ray resource that pins shard i (its position in the list) to the node holding it."""
RESOURCE_SHARE = 0.001
"""How much of a shard's resource one actor takes: up to 1000 readers of one shard at once."""
NAMESPACE = "fp"
"""Ray namespace of kept (named, detached) shard actors."""
INLINE_BYTES = 100 * 1024
"""Query vectors up to this size travel inline with each shard's call (Ray's own limit for
inlining arguments); larger ones are put in the object store once for every shard."""
OPEN_TIMEOUT = 600.0
"""Seconds a shard may take to be placed and opened before the driver gives up."""


def actor_name(position: int, folder: str) -> str:
    """The name of a kept shard actor (in namespace `NAMESPACE`)."""
    return f"fp-shard-{position}:{folder}"


def shard_of(title_id: str, shards: int) -> int:
    """The shard (0 to `shards` - 1) a title belongs to: a stable hash of its id, the same on
    every machine and in every run."""
    return int.from_bytes(hashlib.sha256(title_id.encode()).digest()[:8], "big") % shards


def split_catalogue(catalogue: str | os.PathLike, shards: int, dest: str | os.PathLike) -> list[Path]:
    """Lay `catalogue` out as `shards` folders `DEST/shard-<i>`, each holding symbolic links to
    its titles (by :func:`shard_of`) at their paths relative to the catalogue, with their sidecar
    files (`NAME.json`, `NAME.srt`...) beside them: `fp index DEST/shard-<i>` then gives each
    title the id it has in the whole catalogue. Run again after the catalogue changes: new titles
    are linked, links to files that are gone are removed (then `fp index --prune` drops them).
    Returns the shard folders."""
    if shards < 1:
        raise FPError(f"cannot split a catalogue into {shards} shards")
    dest = Path(dest)
    folders = [dest / f"shard-{i}" for i in range(shards)]
    for entry in scan_catalogue(catalogue):
        source = entry.path.resolve()
        target = folders[shard_of(entry.title_id, shards)] / entry.title_id
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            siblings = [p for p in source.parent.iterdir() if p.name.startswith(source.stem + ".")
                        and p.suffix.lower() not in VIDEO_EXTENSIONS and p.is_file()]
            for src, dst in [(source, target), *((p, target.parent / p.name) for p in siblings)]:
                if not (dst.is_symlink() and dst.resolve() == src.resolve()):
                    dst.unlink(missing_ok=True)
                    dst.symlink_to(src)
        except OSError as exc:
            raise FPError(f"{target}: cannot link {entry.title_id} ({exc.strerror})") from exc
    for folder in folders:
        folder.mkdir(parents=True, exist_ok=True)
        for path in folder.rglob("*"):
            if path.is_symlink() and not path.exists():
                path.unlink()
    return folders


class ShardActor:
    """One shard, served on the machine holding its folder. Started by `ShardedReader` as a Ray
    actor (`ray.remote(ShardActor)`); a plain object otherwise. It never raises on opening: a
    shard that cannot be opened answers :meth:`describe` with its error line."""

    def __init__(self, index_dir: str):
        self.index_dir = index_dir
        self.reader: IndexReader | None = None
        self.generation = -1
        self.error = ""
        self._open()

    def _open(self) -> None:
        try:
            with IndexStore.open(self.index_dir) as store:  # read first: a commit in between
                generation = store.generation()             # only costs one more reopen
            self.reader, self.generation, self.error = IndexReader(self.index_dir), generation, ""
        except FPError as exc:
            self.reader, self.error = None, str(exc)

    def describe(self) -> dict:
        """What the driver needs: the configuration (JSON), titles, searchable modalities and
        `meta`, where the shard runs; or `error`. Reopens the shard first when its titles changed
        since it was opened (a kept actor serving another driver)."""
        where = {"host": socket.gethostname(), "pid": os.getpid()}
        if self.reader is not None:
            try:
                moved = self.reader.store.generation() != self.generation
            except FPError as exc:
                return {**where, "error": str(exc)}
            if moved:
                self.reader.close()
                self._open()
        elif self.error:
            self._open()  # the folder may have appeared or been repaired meanwhile
        if self.reader is None:
            return {**where, "error": self.error}
        try:
            meta = self.reader.meta()
        except FPError as exc:
            return {**where, "error": str(exc)}
        return {**where, "config": self.reader.config.to_json(), "titles": self.reader.titles,
                "modalities": self.reader.modalities, "meta": meta}

    def neighbours(self, modality: str, queries: np.ndarray, k: int) -> Neighbours:
        return self.reader.neighbours(modality, queries, k)

    def window(self, title_id: str, first: int, stop: int) -> dict[str, FeatureTrack]:
        return self.reader.window(title_id, first, stop)

    def close(self) -> None:
        if self.reader is not None:
            self.reader.close()
            self.reader = None


class Shard:
    """The driver's handle on one shard."""

    def __init__(self, position: int, folder: str, actor, kept: bool):
        self.position, self.folder, self.actor, self.kept = position, folder, actor, kept
        self.modalities: list[str] = []
        self.host = ""


def import_ray():
    """The `ray` module, or FPError saying how to install it."""
    try:
        import ray
    except ImportError:
        raise FPError("sharded matching needs Ray: pip install 'fp-match[ray]'") from None
    return ray


_REMOTE = None


def _remote_class(ray):
    global _REMOTE
    if _REMOTE is None:
        _REMOTE = ray.remote(ShardActor)
    return _REMOTE


def _folder(path: str | os.PathLike) -> str:
    """A shard folder as the actor will open it: absolute when this machine has it (a relative
    path would be read from the Ray worker's directory), else as given (a path on the shard's
    machine)."""
    path = Path(path)
    return str(path.absolute()) if path.exists() else str(path)


def _first_line(exc: BaseException) -> str:
    cause = getattr(exc, "cause", None)  # a Ray task error wraps what the actor raised
    text = str(cause if cause is not None else exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


class ShardedReader:
    """The shards of one catalogue, read as one index: the members of `IndexReader` (`config`,
    `titles`, `modalities`, `hours`, `root`, `meta()`, `neighbours`, `window`, `close`).

    `shards`: the shard folders, each an fp index, as paths on the machines holding them (shard i
    is pinned to the node offering resource `fp_shard_<i>` when there is one). `address`: the Ray
    cluster (`auto`, `HOST:PORT` or `ray://HOST:10001`); None starts a local Ray instance, or uses
    the one this process has already started. `keep`: name the actors and leave them running
    after `close` (detached, in namespace `fp`), and reuse running ones: later drivers find the
    shards open (a kept shard reopens itself when its titles have changed).

    `root` and `meta()` are the first shard's: runs are recorded in its folder (`fp history
    --index FIRST_SHARD`) and reports name it as the index.
    """

    def __init__(self, shards: Sequence[str | os.PathLike], *, address: str | None = None,
                 keep: bool = False):
        if not shards:
            raise FPError("a sharded index needs at least one shard folder")
        folders = [_folder(p) for p in shards]
        for position, folder in enumerate(folders):
            if folder in folders[:position]:
                raise FPError(f"{folder}: shard given twice")
        self.ray = ray = import_ray()
        self.keep = keep
        self._closed = False
        self.shards: list[Shard] = []
        self._owner: dict[str, Shard] = {}
        self._ours = start_ray(ray, address)
        try:
            self._start(folders)
            self._load()
        except BaseException:
            self.close()
            raise

    # ---------------------------------------------------------------- opening
    def _start(self, folders: list[str]) -> None:
        ray = self.ray
        offered = ray.cluster_resources()
        actor_class = _remote_class(ray)
        for position, folder in enumerate(folders):
            options = {"num_cpus": 0}  # a shard's searches run in its own threads, not Ray's
            resource = SHARD_RESOURCE.format(position)
            if resource in offered:
                options["resources"] = {resource: RESOURCE_SHARE}
            if self.keep:
                options.update(name=actor_name(position, folder), namespace=NAMESPACE,
                               lifetime="detached", get_if_exists=True)
            actor = actor_class.options(**options).remote(folder)
            self.shards.append(Shard(position, folder, actor, self.keep))

    def _load(self) -> None:
        described = self._get(self.shards, [s.actor.describe.remote() for s in self.shards], "opening",
                              timeout=OPEN_TIMEOUT)
        for shard, info in zip(self.shards, described):
            shard.host = info["host"]
            if "error" in info:
                raise IndexStoreError(f"shard {shard.position} on {shard.host}: {info['error']}")
        first = self.shards[0]
        self.config = Config.from_json(described[0]["config"])
        for shard, info in zip(self.shards[1:], described[1:]):
            try:
                self.config.check_compatible(Config.from_json(info["config"]), f"shard {shard.folder}")
            except ConfigMismatchError as exc:
                raise ConfigMismatchError(f"{exc}; the shards of one index share one configuration "
                                          f"(the index here is the first shard, {first.folder})") from None
        titles: list[TitleRecord] = []
        for shard, info in zip(self.shards, described):
            shard.modalities = list(info["modalities"])
            for title in info["titles"]:
                other = self._owner.get(title.title_id)
                if other is not None:
                    raise IndexStoreError(
                        f"title {title.title_id!r} is in two shards, {other.folder} and {shard.folder}: "
                        f"a title belongs to one shard (remove one with `fp remove {title.title_id} "
                        f"--index {shard.folder}`)")
                self._owner[title.title_id] = shard
                titles.append(title)
        self.titles: list[TitleRecord] = sorted(titles, key=lambda t: t.title_id)
        self._meta: dict[str, str] = described[0]["meta"]

    def _get(self, shards: list[Shard], refs: list, doing: str, timeout: float | None = None) -> list:
        """`ray.get` of one call per shard of `shards`, errors as one line."""
        ray = self.ray
        try:
            return ray.get(refs, timeout=timeout)
        except ray.exceptions.GetTimeoutError:
            raise FPError(f"{doing} the shards took over {timeout:.0f} s: are the nodes holding them "
                          "(resources fp_shard_<i>) still up?") from None
        except ray.exceptions.RayError as exc:
            failed = ""
            for shard, ref in zip(shards, refs):  # name the shard that failed
                try:
                    ray.get(ref, timeout=0)
                except ray.exceptions.GetTimeoutError:
                    continue
                except ray.exceptions.RayError:
                    failed = f"shard {shard.position} ({shard.folder}): "
                    break
            raise FPError(f"{failed}{doing} failed on Ray ({_first_line(exc)})") from None

    # ---------------------------------------------------------------- IndexReader's members
    @property
    def root(self) -> Path:
        """The first shard's folder: runs are recorded there."""
        return Path(self.shards[0].folder)

    def meta(self) -> dict[str, str]:
        """The first shard's `meta` (creation time, configuration), as of opening."""
        return dict(self._meta)

    @property
    def modalities(self) -> list[str]:
        """Modalities searchable in any shard."""
        return [m for m in MODALITIES if any(m in s.modalities for s in self.shards)]

    @property
    def hours(self) -> float:
        return sum(t.duration for t in self.titles) / 3600

    def neighbours(self, modality: str, queries: np.ndarray, k: int) -> Neighbours:
        """Every shard searched at once; the `k` best of their answers, best first."""
        owners = [s for s in self.shards if modality in s.modalities]
        if not owners:
            n = len(queries)
            return Neighbours(np.zeros((n, 0), np.float32), np.zeros((n, 0), object),
                              np.zeros((n, 0)), np.zeros((n, 0)))
        queries = np.ascontiguousarray(queries, np.float32)
        shared = self.ray.put(queries) if len(owners) > 1 and queries.nbytes > INLINE_BYTES else queries
        parts = self._get(owners, [s.actor.neighbours.remote(modality, shared, k) for s in owners], "searching")
        if len(parts) == 1:
            found = parts[0]  # arrays from Ray's object store are read-only: hand out copies
            return Neighbours(found.sims.copy(), found.titles.copy(), found.starts.copy(), found.ends.copy())
        return Neighbours.merged(parts, k)

    def window(self, title_id: str, first: int, stop: int) -> dict[str, FeatureTrack]:
        """Read from the shard holding the title; empty for a title no shard holds."""
        shard = self._owner.get(title_id)
        if shard is None:
            return {}
        ref = shard.actor.window.remote(title_id, first, stop)
        try:
            tracks = self.ray.get(ref)
        except self.ray.exceptions.RayError as exc:
            raise FPError(f"shard {shard.position} ({shard.folder}): reading {title_id} failed on Ray "
                          f"({_first_line(exc)})") from None
        return {m: FeatureTrack(t.modality, t.step, t.vectors.copy(), t.valid.copy(), t.start)
                for m, t in tracks.items()}

    def close(self, *, stop: bool = False) -> None:
        """End the shard actors (kept ones only with `stop`), and the Ray instance this reader
        started."""
        ray = getattr(self, "ray", None)
        if ray is None or self._closed:
            return
        self._closed = True
        for shard in self.shards:
            if shard.kept and not stop:
                continue
            try:
                ray.kill(shard.actor)
            except Exception:  # noqa: BLE001 - already gone
                pass
        if self._ours and ray.is_initialized():
            ray.shutdown()

    def __enter__(self) -> ShardedReader:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def main(argv: list[str] | None = None) -> int:
    """`python -m fp.index.shards CATALOGUE N DEST`: see :func:`split_catalogue`."""
    parser = argparse.ArgumentParser(prog="python -m fp.index.shards",
                                     description="Split a catalogue by title into N shard folders of links.")
    parser.add_argument("catalogue", type=Path)
    parser.add_argument("shards", type=int)
    parser.add_argument("dest", type=Path)
    args = parser.parse_args(argv)
    try:
        folders = split_catalogue(args.catalogue, args.shards, args.dest)
    except FPError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for folder in folders:
        print(f"{folder}: {len(scan_catalogue(folder))} titles")
    return 0


if __name__ == "__main__":
    sys.exit(main())
