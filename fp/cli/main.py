"""`fp index`, `fp match`, `fp info`. Exit codes: 0 match found (or success), 1 no match, 2 error."""

from __future__ import annotations

import dataclasses
import json
import os
import sys
from enum import Enum
from pathlib import Path

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

from fp import __version__
from fp.cli.render import print_index_summary, print_report
from fp.config import Config
from fp.errors import FPError
from fp.index.build import IndexEvent, index_catalogue
from fp.index.store import IndexStore
from fp.matcher.matcher import Matcher

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="Multimodal video fingerprinting: register a catalogue, find copies of it.")
# Wide when piped, so that tables and messages are not folded at 80 columns.
out = Console(highlight=False, width=None if sys.stdout.isatty() else 200)
err = Console(stderr=True, highlight=False, width=None if sys.stderr.isatty() else 200)

INDEX_OPTION = typer.Option(Path("fp-index"), "--index", "-i", help="Index folder.",
                            envvar="FP_INDEX")


class Format(str, Enum):
    text = "text"
    json = "json"


def fail(message: str) -> typer.Exit:
    err.print(f"error: {message}", markup=False, highlight=False)
    return typer.Exit(2)


class Rendered:
    """Shows indexing progress: a live bar on a terminal, a line per title otherwise."""

    def __init__(self, quiet: bool):
        self.quiet = quiet
        self.live = err.is_terminal and not quiet
        self.progress = Progress(TextColumn("{task.description}"), BarColumn(),
                                 TextColumn("{task.completed:.0f}/{task.total:.0f} s"),
                                 TimeRemainingColumn(), console=err, transient=True)
        self.task = None

    def __call__(self, event: IndexEvent) -> None:
        tag = f"[{event.position}/{event.total}] {event.title_id}"
        if event.kind == "failed":
            err.print(f"error: {event.message}", markup=False)
        elif self.quiet:
            return
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
    encoder: str = typer.Option(None, help="Visual encoder for a new index: efficientnet_lite0 "
                                "(default) or clip:ARCH[:PRETRAINED]."),
    prune: bool = typer.Option(False, help="Remove indexed titles no longer in the catalogue."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Only errors and the summary."),
) -> None:
    """Fingerprint new and changed titles of CATALOGUE into the index (unchanged ones are skipped)."""
    config = None
    if encoder:
        config = dataclasses.replace(Config(), visual_encoder=encoder)
    elif (index_dir / "fp.duckdb").exists():
        with IndexStore.open(index_dir) as store:
            config = store.config
    shown = Rendered(quiet)
    try:
        summary = index_catalogue(catalogue, index_dir, config, prune=prune, on_event=shown)
    except FPError as exc:
        raise fail(str(exc)) from None
    finally:
        shown.close()
    print_index_summary(err if quiet else out, summary, str(index_dir))
    if summary.failed:
        raise typer.Exit(2)


@app.command()
def match(
    files: list[Path] = typer.Argument(..., help="Suspect video files."),
    index_dir: Path = INDEX_OPTION,
    output: Format = typer.Option(Format.text, "--format", "-f", help="text or json (one object per file and line)."),
    min_score: float = typer.Option(None, "--min-score", min=0.0, max=1.0,
                                    help="Also list candidates scoring at least this."),
) -> None:
    """Find copied segments of catalogue titles in FILES. Exit 0: match found, 1: none, 2: error."""
    found = errors = False
    try:
        matcher = Matcher(index_dir)
    except FPError as exc:
        raise fail(str(exc)) from None
    with matcher:
        for path in files:
            try:
                report = matcher.match(path, min_score=min_score)
            except FPError as exc:
                err.print(f"error: {exc}", markup=False)
                errors = True
                continue
            found |= report.found
            if output is Format.json:
                sys.stdout.write(json.dumps(report.to_dict()) + "\n")
            else:
                print_report(out, report)
    raise typer.Exit(2 if errors else 0 if found else 1)


@app.command()
def info(index_dir: Path = INDEX_OPTION) -> None:
    """Summarise an index: size, configuration, build times."""
    try:
        with IndexStore.open(index_dir) as store:
            counts, meta, titles = store.counts(), store.meta(), store.titles()
    except FPError as exc:
        raise fail(str(exc)) from None
    out.print(f"index       {index_dir}")
    out.print(f"titles      {counts['titles']} ({counts['hours']:.2f} h, {counts['shots']} shots)")
    out.print(f"created     {meta.get('created_at', '?')} by fp {meta.get('fp_version', '?')}")
    if titles:
        out.print(f"last added  {max(t.added_at for t in titles):%Y-%m-%d %H:%M:%S}")
    out.print("config      " + ", ".join(f"{k}={v}" for k, v in json.loads(meta["config"]).items()))


def version_callback(value: bool) -> None:
    if value:
        out.print(f"fp {__version__}")
        raise typer.Exit()


@app.callback()
def main_options(version: bool = typer.Option(False, "--version", callback=version_callback,
                                              is_eager=True, help="Show the version.")) -> None:
    """Multimodal video fingerprinting: register a catalogue, find copies of it."""


def main() -> None:
    """Console entry point: any unexpected failure still ends in one line and exit code 2."""
    try:
        app()
    except SystemExit:
        raise
    except KeyboardInterrupt:
        err.print("interrupted")
        sys.exit(130)
    except Exception as exc:  # a bug or an environment problem; never a bare traceback
        if os.environ.get("FP_DEBUG"):
            raise
        err.print(f"error: internal error: {type(exc).__name__}: {exc} (set FP_DEBUG=1 for details)",
                  markup=False)
        sys.exit(2)
