"""Human-readable rendering of results for the terminal."""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from fp.index.build import IndexSummary
from fp.matcher.types import MatchReport
from fp.report.render import clock


HEADLINES = {"match": ("MATCH", "red"), "review": ("REVIEW", "yellow"), "no_match": ("no match", "green")}
"""The terminal headline of each policy verdict, and its colour."""


def print_report(console: Console, report: MatchReport, verdict: str, run_id: int | None = None) -> None:
    """One suspect: the policy verdict as the headline, then its segments."""
    word, colour = HEADLINES[verdict]
    listed = len(report.matches)
    console.print(f"[bold]{escape(report.query_path)}[/bold] ({clock(report.query_duration)}): "
                  f"[{colour}]{word}[/]"
                  + (f", {listed} segment{'s' * (listed != 1)}" if listed else "")
                  + (f" (run {run_id})" if run_id is not None else ""),
                  highlight=False)
    if not listed:
        return
    table = Table(show_edge=False, pad_edge=False)
    for column in ("title", "suspect range", "reference range", "score", "threshold", "decision", "modalities"):
        table.add_column(column, justify="right" if column in ("score", "threshold") else "left")
    for m in report.matches:
        table.add_row(
            m.title_id, f"{clock(m.query_start)}-{clock(m.query_end)}",
            f"{clock(m.ref_start)}-{clock(m.ref_end)}", f"{m.score:.3f}",
            "" if m.threshold is None else f"{m.threshold:.3f}", m.decision,
            " ".join(f"{k} {v:.2f}" for k, v in m.modalities.items() if v is not None))
    console.print(table)


def print_index_summary(console: Console, summary: IndexSummary, index_dir: str) -> None:
    rate = summary.media_seconds / summary.wall_seconds if summary.wall_seconds else 0.0
    console.print(
        f"{index_dir}: {len(summary.added)} added, {len(summary.replaced)} replaced, "
        f"{len(summary.unchanged)} unchanged, {len(summary.pruned)} removed, "
        f"{len(summary.failed)} failed; {summary.media_seconds:.0f} s of media in "
        f"{summary.wall_seconds:.1f} s ({rate:.1f}x real time)", highlight=False)
    if summary.not_in_catalogue:
        console.print(f"{len(summary.not_in_catalogue)} indexed title(s) are not in this catalogue "
                      "folder; --prune removes them", highlight=False)


def print_table(console: Console, columns: tuple[str, ...], rows: list[tuple], title: str | None = None) -> None:
    table = Table(show_edge=False, title=title)
    for column in columns:
        table.add_column(column)
    for row in rows:
        table.add_row(*(str(v) for v in row))
    console.print(table)
