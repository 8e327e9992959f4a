"""Evidence reports: what was matched, gathered once (`build_evidence`) and rendered as HTML, PDF,
CSV or JSON; stored with every run so that a past run can be rendered again."""

from fp.report.evidence import build_evidence, check
from fp.report.render import render_csv, render_html, render_json, render_series_csv, write_report
from fp.report.types import Evidence

__all__ = ["Evidence", "build_evidence", "check", "render_csv", "render_html", "render_json",
           "render_series_csv", "write_report"]
