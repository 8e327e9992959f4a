"""`fp index`, `fp match`, `fp info`... Exit codes of `fp match`: see `EXIT_CODES`."""

from __future__ import annotations

import dataclasses
import json
import os
import sys
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

from fp import __version__
from fp.cli.render import print_index_summary, print_report, print_table
from fp.config import FINGERPRINT, INDEX, MATCH, Config
from fp.data.catalogue import AUDIO_EXTENSIONS, VIDEO_EXTENSIONS, scan_catalogue
from fp.errors import FPError
from fp.fingerprint.projection import default_dim
from fp.index.build import IndexEvent, index_catalogue
from fp.index.distributed import index_catalogue_ray
from fp.index.history import RunHistory
from fp.index.shards import ShardedReader
from fp.index.store import DB_NAME, RUNTIMES_KEY, IndexStore
from fp.matcher.calibration import length_thresholds
from fp.matcher.matcher import Matcher
from fp.matcher.policy import DEFAULT_POLICY, Policy
from fp.report.evidence import check
from fp.report.types import Evidence
from fp.report.render import clock, write_report

if TYPE_CHECKING:
    from fp.fingerprint.extract import Fingerprinter

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="Multimodal video fingerprinting: register a catalogue, find copies of it.")
# Wide when piped, so that tables and messages are not folded at 80 columns.
out = Console(highlight=False, width=None if sys.stdout.isatty() else 200)
err = Console(stderr=True, highlight=False, width=None if sys.stderr.isatty() else 200)

INDEX_OPTION = typer.Option(Path("fp-index"), "--index", "-i", help="Index folder.",
                            envvar="FP_INDEX")
RUNTIME_HELP = ("Where the encoders run: auto (torch on CUDA, onnx-int8 on a CPU with VNNI, else onnx), torch, "
                "onnx or onnx-int8 (default: $FP_RUNTIME, else auto).")
RUNTIME_OPTION = typer.Option(None, metavar="NAME", help=RUNTIME_HELP)
POLICY_OPTION = typer.Option(None, "--policy", help="Policy file (TOML); see the README.")
SETTINGS_OPTION = typer.Option([], "--set", metavar="NAME=VALUE", help="A match setting (repeatable; "
                               "fp.config.Config's match group), e.g. query_phases=2: a third less compute "
                               "per suspect for a little recall.")

EXIT_CODES = {"match": 0, "no_match": 1, "error": 2, "review": 3}
"""`fp match` exits with its policy verdict: the strongest over all suspects; any error wins."""


class State:
    quiet = False
    verbose = False


class Format(str, Enum):
    text = "text"
    json = "json"


def say(message: str) -> None:
    if not State.quiet:
        err.print(message, markup=False)


def fail(message: str) -> typer.Exit:
    err.print(f"error: {message}", markup=False, highlight=False, soft_wrap=True)
    return typer.Exit(2)


class Rendered:
    """Shows indexing progress: a live bar on a terminal, a line per title otherwise."""

    def __init__(self, quiet: bool, verbose: bool = False):
        self.quiet = quiet
        self.verbose = verbose
        self.live = err.is_terminal and not quiet
        self.progress = Progress(TextColumn("{task.description}"), BarColumn(),
                                 TextColumn("{task.completed:.0f}/{task.total:.0f} s"),
                                 TimeRemainingColumn(), console=err, transient=True)
        self.task = None

    def __call__(self, event: IndexEvent) -> None:
        tag = f"[{event.position}/{event.total}] {event.title_id}"
        if event.kind == "failed":
            err.print(f"error: {event.message}", markup=False, soft_wrap=True)
        elif self.quiet:
            return
        elif self.verbose and event.kind in ("title", "progress", "saving"):
            where = f" {event.seconds:.1f} s" if event.kind == "progress" else ""
            err.print(f"{tag}: {event.kind}{where}" if event.title_id else f"{event.kind}", markup=False)
        elif event.kind == "title" and self.live:
            if self.task is None:
                self.progress.start()
                self.task = self.progress.add_task(tag, total=event.seconds)
            self.progress.reset(self.task, total=event.seconds, description=tag)
        elif event.kind == "progress" and self.live and self.task is not None:
            self.progress.update(self.task, completed=event.seconds)
        elif event.kind == "done":
            err.print(f"{tag}: indexed ({event.seconds:.1f} s)", markup=False)
        elif event.kind == "skipped":
            err.print(f"{tag}: {event.message}, skipped", markup=False)

    def close(self) -> None:
        if self.task is not None:
            self.progress.stop()


@app.command()
def index(
    catalogue: Path = typer.Argument(..., help="Catalogue folder (searched recursively) or one file."),
    index_dir: Path = INDEX_OPTION,
    encoder: str = typer.Option(None, help="Visual encoder for a new index: fp-visual-v1 "
                                "(default), efficientnet_lite0 or clip:ARCH[:PRETRAINED]."),
    prune: bool = typer.Option(False, help="Remove indexed titles no longer in the catalogue."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Only errors and the summary."),
    ray: bool = typer.Option(False, "--ray", help="Fingerprint on Ray: a local instance, or the "
                             "cluster at --ray-address."),
    ray_address: str = typer.Option(None, "--ray-address", metavar="ADDRESS",
                                    help="With --ray: the cluster (auto, HOST:PORT or ray://HOST:10001)."),
    shards: Path = typer.Option(None, help="With --ray: shard folder every worker can reach "
                                "(default: INDEX/shards)."),
    runtime: str = RUNTIME_OPTION,
) -> None:
    """Fingerprint new and changed titles of CATALOGUE into the index (unchanged ones are skipped)."""
    quiet = quiet or State.quiet
    config = None
    if encoder:
        config = dataclasses.replace(Config(), visual_encoder=encoder,
                                     visual_dim=default_dim(encoder, Config().visual_dim))
    elif (index_dir / "fp.duckdb").exists():
        with IndexStore.open(index_dir) as store:
            config = store.config
    shown = Rendered(quiet, State.verbose)
    try:
        if ray_address is not None and not ray:
            raise FPError("--ray-address needs --ray")
        if runtime is not None and ray:
            raise FPError("--runtime applies to local indexing; Ray workers use their own $FP_RUNTIME")
        if not ray:
            summary = index_catalogue(catalogue, index_dir, config, prune=prune, on_event=shown,
                                      fingerprinter=make_fingerprinter(config or Config(), runtime))
        else:
            summary = index_catalogue_ray(catalogue, index_dir, config, prune=prune, on_event=shown,
                                          address=ray_address, shard_dir=shards)
    except FPError as exc:
        raise fail(str(exc)) from None
    finally:
        shown.close()
    print_index_summary(err if quiet else out, summary, str(index_dir))
    if summary.failed:
        raise typer.Exit(2)


def make_fingerprinter(config: Config, runtime: str | None) -> Fingerprinter:
    """The encoders load here (torch, ONNX Runtime), not when the CLI starts: commands that only
    read the index start in a fraction of the time."""
    from fp.fingerprint.extract import Fingerprinter

    return Fingerprinter(config, runtime=runtime)


def runtime_fingerprinter(index_dir: Path, runtime: str | None) -> Fingerprinter | None:
    """A fingerprinter for the index's configuration on `runtime`; None leaves the default."""
    if runtime is None:
        return None
    with IndexStore.open(index_dir) as store:
        return make_fingerprinter(store.config, runtime)


def sharded_matcher(shards: list[Path], address: str | None, keep: bool, runtime: str | None,
                    history: bool, settings: list[str]) -> Matcher:
    """A matcher over the shards' index, served by Ray; runs are recorded in the first shard."""
    reader = ShardedReader(shards, address=address, keep=keep)
    try:
        if history and not (reader.root / DB_NAME).is_file():
            raise FPError(f"runs are recorded in the first shard, {reader.root}, which this machine cannot "
                          "read: run fp match on the machine holding it, or add --no-history")
        return Matcher(config=reader.config.for_matching(settings) if settings else None, reader=reader,
                       fingerprinter=make_fingerprinter(reader.config, runtime) if runtime is not None else None)
    except BaseException:
        reader.close()
        raise


def suspects_of(paths: list[Path]) -> list[Path]:
    """Files as given; folders are searched recursively for video and sound files."""
    out = []
    for path in paths:
        if path.is_dir():
            found = [entry.path for entry in scan_catalogue(path, VIDEO_EXTENSIONS | AUDIO_EXTENSIONS)]
            if not found:
                raise FPError(f"{path}: no video or sound files in this folder")
            out += found
        else:
            out.append(path)
    return out


def report_paths(targets: list[Path], run_id: int | None, position: int, several: bool) -> list[Path]:
    """Where a suspect's reports go: as given for one suspect; with several, each name gets the
    run id, or (runs not recorded) the suspect's position in this call."""
    if not several:
        return targets
    tag = str(run_id) if run_id is not None else f"suspect{position}"
    return [t.with_name(f"{t.stem}-{tag}{t.suffix}") for t in targets]


def strongest(verdicts: list[str]) -> str:
    """The verdict of a run over several suspects: an error, else the strongest policy verdict."""
    for verdict in ("error", "match", "review"):
        if verdict in verdicts:
            return verdict
    return "no_match"


@app.command()
def match(
    files: list[Path] = typer.Argument(..., help="Suspect video files or folders."),
    index_dir: Path = INDEX_OPTION,
    output: Format = typer.Option(Format.text, "--format", "-f", help="text or json (one object per file and line)."),
    min_score: float = typer.Option(None, "--min-score", min=0.0, max=1.0,
                                    help="Also list candidates scoring at least this."),
    report: list[Path] = typer.Option([], "--report", "-r", help="Write a report: .html, .pdf, .csv or .json "
                                      "(repeatable; with several suspects the run id is added to the name)."),
    policy_file: Path = POLICY_OPTION,
    history: bool = typer.Option(True, help="Record the run in the index's history."),
    runtime: str = RUNTIME_OPTION,
    shard: list[Path] = typer.Option([], "--shard", metavar="DIR", help="Match against a sharded index: "
                                     "one shard's folder, repeated for each shard, in place of --index "
                                     "(served by Ray; see docs/sharding.md)."),
    ray_address: str = typer.Option(None, "--ray-address", metavar="ADDRESS",
                                    help="With --shard: the Ray cluster (auto, HOST:PORT or ray://HOST:10001)."),
    keep_shards: bool = typer.Option(False, "--keep-shards", help="With --shard: leave the shards open on "
                                     "the cluster for the next fp match (and use those already open)."),
    settings: list[str] = SETTINGS_OPTION,
) -> None:
    """Find copied segments of catalogue titles in FILES. Exit 0: match, 1: no match, 2: error,
    3: review (the policy's verdict; with several files the strongest)."""
    try:
        policy = Policy.load(policy_file) if policy_file else DEFAULT_POLICY
        if not shard and (ray_address is not None or keep_shards):
            raise FPError(f"{'--ray-address' if ray_address is not None else '--keep-shards'} needs --shard")
        if shard:
            matcher = sharded_matcher(shard, ray_address, keep_shards, runtime, history, settings)
        else:
            config = None
            if settings:
                with IndexStore.open(index_dir) as store:
                    config = store.config.for_matching(settings)
            matcher = Matcher(index_dir, config, fingerprinter=runtime_fingerprinter(index_dir, runtime))
        suspects = suspects_of(files)
    except FPError as exc:
        raise fail(str(exc)) from None
    rows = []
    with matcher, Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                           console=err, transient=True, disable=State.quiet or not err.is_terminal) as bar:
        task = bar.add_task("matching", total=len(suspects))
        for position, path in enumerate(suspects, 1):
            bar.update(task, description=f"matching {path.name}")
            try:
                evidence = check(matcher, path, policy=policy, min_score=min_score, record=history)
                for target in report_paths(report, evidence.run_id, position, len(suspects) > 1):
                    write_report(evidence, target)
                    say(f"report: {target}")
            except FPError as exc:
                err.print(f"error: {exc}", markup=False, soft_wrap=True)
                rows.append((str(path), "error", "", 0.0))
                continue
            finally:
                bar.advance(task)
            best = evidence.titles[0] if evidence.titles else None
            rows.append((str(path), evidence.verdict, best.title_id if best else "",
                         best.matched_seconds if best else 0.0))
            if output is Format.json:
                sys.stdout.write(json.dumps(evidence.contract()) + "\n")
            else:
                print_report(out, evidence.report, evidence.verdict, evidence.run_id)
    if len(suspects) > 1 and output is Format.text:
        print_table(out, ("suspect", "verdict", "best title", "matched"),
                    [(path, verdict, title, clock(seconds) if title else "") for path, verdict, title, seconds in rows],
                    title="summary")
    raise typer.Exit(EXIT_CODES[strongest([row[1] for row in rows])])


@app.command("history")
def history_cmd(index_dir: Path = INDEX_OPTION,
                limit: int = typer.Option(20, help="How many of the latest runs.")) -> None:
    """List past `fp match` runs, newest first."""
    try:
        runs = RunHistory(index_dir).runs(limit)
    except FPError as exc:
        raise fail(str(exc)) from None
    print_table(out, ("run", "time (UTC)", "verdict", "suspect", "best title"), [
        (run.run_id, f"{run.created_at:%Y-%m-%d %H:%M:%S}", run.verdict, run.suspect_path,
         (run.evidence.get("titles") or [{"title_id": ""}])[0]["title_id"]) for run in runs])


@app.command("report")
def report_cmd(run_id: int = typer.Argument(..., help="A run id from `fp history`."),
               index_dir: Path = INDEX_OPTION,
               report: list[Path] = typer.Option([], "--report", "-r",
                                                 help="Write .html, .pdf, .csv or .json.")) -> None:
    """Show a past run again, or render it as a report."""
    try:
        run = RunHistory(index_dir).run(run_id)
        if run is None:
            raise FPError(f"no run {run_id} in {index_dir} (see `fp history`)")
        evidence = Evidence.from_dict(run.evidence)
        for target in report:
            write_report(evidence, target)
            say(f"report: {target}")
    except FPError as exc:
        raise fail(str(exc)) from None
    if not report:
        print_report(out, evidence.report, evidence.verdict, evidence.run_id)
        out.print(f"checked {run.created_at:%Y-%m-%d %H:%M:%S} UTC")


@app.command("list")
def list_cmd(index_dir: Path = INDEX_OPTION) -> None:
    """List the titles of the index."""
    try:
        with IndexStore.open(index_dir) as store:
            titles = store.titles()
    except FPError as exc:
        raise fail(str(exc)) from None
    print_table(out, ("title id", "display title", "owner", "duration", "added (UTC)"), [
        (t.title_id, t.metadata.get("title", ""), t.metadata.get("owner", ""), clock(t.duration),
         f"{t.added_at:%Y-%m-%d %H:%M}") for t in titles])


@app.command()
def remove(title_id: str = typer.Argument(..., help="A title id from `fp list`."),
           index_dir: Path = INDEX_OPTION) -> None:
    """Remove a title from the index: its shots, vectors and tracks."""
    try:
        with IndexStore.open(index_dir) as reader:
            config = reader.config
            known = reader.title(title_id) is not None
        if not known:
            raise FPError(f"no title {title_id!r} in {index_dir} (see `fp list`)")
        with IndexStore.open_for_writing(index_dir, config) as store:
            store.remove_title(title_id)
    except FPError as exc:
        raise fail(str(exc)) from None
    say(f"removed {title_id}")


@app.command()
def serve(index_dir: Path = INDEX_OPTION,
          host: str = typer.Option("127.0.0.1", help="Address to listen on."),
          port: int = typer.Option(8000, min=0, max=65535, help="Port to listen on (0: any free port; the "
                                   "address is printed once it listens)."),
          max_upload_mb: int = typer.Option(2048, help="Largest accepted upload, in MiB."),
          timeout: float = typer.Option(900.0, help="Longest time one match may take, in seconds."),
          policy_file: Path = POLICY_OPTION,
          runtime: str = RUNTIME_OPTION,
          settings: list[str] = SETTINGS_OPTION) -> None:
    """Serve the HTTP API (POST /match, GET /titles, /runs/{id}, /runs/{id}/report, /healthz).
    Prints `listening on URL` once the port accepts connections."""
    import socket

    import uvicorn

    from fp.service import create_app

    try:
        policy = Policy.load(policy_file) if policy_file else DEFAULT_POLICY
        app_ = create_app(index_dir, max_upload_bytes=max_upload_mb << 20, match_timeout=timeout, policy=policy,
                          settings=settings, runtime=runtime)
    except FPError as exc:
        raise fail(str(exc)) from None
    ipv6 = ":" in host
    try:  # bound here, so that the address printed is one that already queues connections
        sock = socket.create_server((host, port), family=socket.AF_INET6 if ipv6 else socket.AF_INET)
    except OSError as exc:
        raise fail(f"cannot listen on {host}:{port} ({exc.strerror or exc})") from None
    port = sock.getsockname()[1]
    print(f"listening on http://{f'[{host}]' if ipv6 else host}:{port}", flush=True)
    config = uvicorn.Config(app_, host=host, port=port, log_level="warning" if State.quiet else "info")
    uvicorn.Server(config).run(sockets=[sock])


def _settings(values: dict) -> str:
    return ", ".join(f"{k}={v}" for k, v in values.items())


def _thresholds(cfg: Config, hours: float) -> str:
    """The decision thresholds `fp match` applies by segment length against `hours` of catalogue
    (`DecisionParams.threshold`): the false-match tail's, down to `match_threshold`."""
    base, steps = cfg.match_threshold, []
    for shortest, threshold in length_thresholds(cfg, hours):
        steps.append(f"{max(threshold, base):.3f} from {shortest:g} s")
        if threshold <= base:
            break
    rule = ", ".join(steps) + " on" if steps else f"{base:.3f} for every length"
    return (f"{rule}; shorter than {cfg.min_match_seconds:g} s, candidates (this release's, for "
            f"{max(hours, cfg.false_match_hours):.2f} catalogue hours)")


@app.command()
def info(index_dir: Path = INDEX_OPTION) -> None:
    """Summarise an index: size, configuration, build times."""
    try:
        with IndexStore.open(index_dir) as store:
            counts, meta, titles, usage = store.counts(), store.meta(), store.titles(), store.disk_usage()
    except FPError as exc:
        raise fail(str(exc)) from None
    out.print(f"index       {index_dir}")
    out.print(f"titles      {counts['titles']} ({counts['hours']:.2f} h, {counts['shots']} shots)")
    per_hour = f", {sum(usage.values()) / 2**20 / counts['hours']:.2f} MB per catalogue hour" if counts["hours"] else ""
    out.print(f"disk        {sum(usage.values()) / 2**20:.1f} MB ("
              + ", ".join(f"{part} {size / 2**20:.1f}" for part, size in usage.items() if size) + f"){per_hour}")
    out.print(f"created     {meta.get('created_at', '?')} by fp {meta.get('fp_version', '?')}")
    if titles:
        out.print(f"last added  {max(t.added_at for t in titles):%Y-%m-%d %H:%M:%S}")
    built = Config.from_json(meta["config"])
    # whole lines (the terminal wraps them): one setting group per line for grep and scripts
    out.print(f"fingerprint {_settings(built.group(FINGERPRINT))} (queries and updates take these)", soft_wrap=True)
    out.print(f"index       {_settings(built.group(INDEX))} (at build)", soft_wrap=True)
    changed = {k: v for k, v in built.group(MATCH).items() if v != getattr(Config(), k)}
    out.print("match       this release's, per query (fp match --set NAME=VALUE); "
              + (f"at build: {_settings(changed)}" if changed else "the same at build"), soft_wrap=True)
    out.print(f"thresholds  {_thresholds(Config(), counts['hours'])}", soft_wrap=True)
    out.print(f"runtimes    {meta.get(RUNTIMES_KEY, '').replace(',', ', ') or 'not recorded'}")
    weights = json.loads(meta.get("weights") or "{}")
    out.print("weights     " + (", ".join(f"{k} {v}" for k, v in weights.items()) or "not recorded"))


def version_callback(value: bool) -> None:
    if value:
        out.print(f"fp {__version__}")
        raise typer.Exit()


@app.callback()
def main_options(version: bool = typer.Option(False, "--version", callback=version_callback,
                                              is_eager=True, help="Show the version."),
                 quiet: bool = typer.Option(False, "--quiet", "-q", help="Only results and errors."),
                 verbose: bool = typer.Option(False, "--verbose", "-v", help="More detail; tracebacks of "
                                              "internal errors.")) -> None:
    """Multimodal video fingerprinting: register a catalogue, find copies of it."""
    State.quiet, State.verbose = quiet, verbose


def main() -> None:
    """Console entry point: any unexpected failure still ends in one line and exit code 2."""
    try:
        app(args=sys.argv[1:])
    except SystemExit:
        raise
    except KeyboardInterrupt:
        err.print("interrupted")
        sys.exit(130)
    except Exception as exc:  # a bug or an environment problem; never a bare traceback
        if os.environ.get("FP_DEBUG") or State.verbose:
            raise
        err.print(f"error: internal error: {type(exc).__name__}: {exc} (run with --verbose for details)",
                  markup=False, soft_wrap=True)
        sys.exit(2)
