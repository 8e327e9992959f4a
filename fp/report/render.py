"""Render evidence as one self-contained HTML page, a PDF of that page, CSV or JSON.

The page comes from Jinja2 templates (`templates/`) with autoescaping: every string taken from a
file, a path or metadata reaches the page as text.
"""

from __future__ import annotations

import base64
import csv
import io
import json
import subprocess
from pathlib import Path

from jinja2 import Environment, PackageLoader, StrictUndefined
from markupsafe import Markup

from fp.data.probe import require_tool
from fp.errors import FPError
from fp.index.store import EVIDENCE
from fp.report.pdf import html_to_pdf
from fp.report.plot import similarity_plot
from fp.report.types import Evidence
from fp.report.view import (MODALITY_NAMES, clock, config_groups, hms, policy_rows, probe_rows, span,
                            title_summary, when)

THUMB_WIDTH = 320
"""Width in pixels of the frames taken from the suspect and the reference."""
THUMB_TIMEOUT = 60.0
"""Seconds one frame may take ffmpeg."""
FRAME_SEGMENTS, FRAME_MOMENTS = 3, 3
"""Frames are shown for this many segments per title, at this many moments of each."""
MAX_TITLES = 5
"""Matched titles shown in full on the page (all are in the CSV and JSON)."""
VERDICT_STYLE = {"match": ("#b00020", "MATCH"), "review": ("#b36b00", "REVIEW"), "no_match": ("#1b7a35", "NO MATCH")}

__all__ = ["clock", "render_csv", "render_html", "render_json", "render_series_csv", "series_path", "write_report"]

_templates = Environment(loader=PackageLoader("fp.report", "templates"), autoescape=True,
                         undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
_templates.filters["span"] = span


def css_string(text: str) -> Markup:
    """`text` as a CSS string literal: anything but letters, digits and spaces hex-escaped, so no
    value can leave the string (page headers are drawn by CSS)."""
    body = "".join(c if (c.isascii() and c.isalnum()) or c == " " else f"\\{ord(c):x} " for c in text)
    return Markup(f'"{body}"')


def thumbnail(path: str | None, seconds: float) -> str | None:
    """A JPEG data URI of the frame at `seconds`, or None when the file cannot give one."""
    if not path or not Path(path).is_file():
        return None
    cmd = [require_tool("ffmpeg"), "-nostdin", "-v", "error", "-ss", f"{max(0.0, seconds):.3f}", "-i", path,
           "-frames:v", "1", "-vf", f"scale={THUMB_WIDTH}:-2", "-f", "image2pipe", "-c:v", "mjpeg", "pipe:"]
    try:
        out = subprocess.run(cmd, capture_output=True, timeout=THUMB_TIMEOUT, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        return None
    if out.returncode != 0 or not out.stdout:
        return None
    return "data:image/jpeg;base64," + base64.b64encode(out.stdout).decode()


def _moments(m: dict, count: int = FRAME_MOMENTS) -> list[tuple[float, float]]:
    """Suspect and reference times at `count` evenly spread moments of a segment."""
    q0, q1, r0, r1 = m["query_start"], m["query_end"], m["ref_start"], m["ref_end"]
    rate = (r1 - r0) / (q1 - q0) if q1 > q0 else 1.0
    out = []
    for k in range(count):
        q = q0 + (q1 - q0) * (k + 0.5) / count
        out.append((q, r0 + (q - q0) * rate))
    return out


def _timeline(label: str, total: float, ranges: list[tuple[float, float]]) -> dict:
    bars = [(1000 * a / total, max(2.0, 1000 * (b - a) / total), span(a, b)) for a, b in ranges] if total > 0 else []
    return {"label": label, "total": clock(total), "bars": bars}


def _title_view(ev: dict, title: dict, thumbnails: bool) -> dict:
    shown = sorted((m for m in ev["matches"] if m["title_id"] == title["title_id"]), key=lambda m: m["query_start"])
    segs = [m for m in shown if m["decision"] == "match"]
    meta = title.get("metadata") or {}
    colour, word = VERDICT_STYLE.get(title["verdict"], VERDICT_STYLE["no_match"])
    details = [("title id", title["title_id"])]
    details += [(k.replace("_", " "), v) for k, v in meta.items() if v not in (None, "")]
    if title.get("path"):
        details.append(("reference file", title["path"]))
    if title.get("duration"):
        details.append(("reference duration", hms(title["duration"])))
    details += [("matched", f"{title['matched_seconds']:.1f} s: {title['suspect_percent']:.1f} % of the suspect, "
                            f"{title['reference_percent']:.1f} % of the reference")]
    present = [k for k in EVIDENCE if any(m["modalities"].get(k) is not None for m in segs)]
    rows = [{"suspect": span(m["query_start"], m["query_end"]), "reference": span(m["ref_start"], m["ref_end"]),
             "length": f"{m['query_end'] - m['query_start']:.1f} s", "score": f"{m['score']:.3f}",
             "scores": ["\u2013" if m["modalities"].get(k) is None else f"{m['modalities'][k]:.2f}" for k in present]}
            for m in segs]
    pairs = []
    for m in sorted(segs, key=lambda m: -m["score"])[:FRAME_SEGMENTS]:
        for q, r in _moments(m):
            sides = (("suspect", ev["suspect"]["path"], q), ("reference", title.get("path"), r))
            pairs.append([{"label": label, "time": clock(t), "uri": thumbnail(path, t) if thumbnails else None}
                          for label, path, t in sides])
    duration = ev["query"]["duration"]
    return {
        "title_id": title["title_id"], "heading": meta.get("title") or title["title_id"],
        "colour": colour, "word": word, "summary": title_summary(title, segs), "details": details,
        "columns": [MODALITY_NAMES[k] for k in present], "segments": rows,
        "timelines": [
            _timeline("suspect", duration, [(m["query_start"], m["query_end"]) for m in segs]),
            _timeline("reference", title.get("duration") or 0.0, [(m["ref_start"], m["ref_end"]) for m in segs])],
        "plot": similarity_plot(title.get("similarity"), shown, duration),
        "step": f"{(title.get('similarity') or {}).get('step', 0.0):g}",
        "pairs": pairs,
    }


def render_html(ev: dict, *, thumbnails: bool = True, max_titles: int = MAX_TITLES) -> str:
    """The report page (also what the PDF prints). `thumbnails=False` leaves the frames out."""
    colour, word = VERDICT_STYLE.get(ev.get("verdict", "no_match"), VERDICT_STYLE["no_match"])
    suspect, index = ev["suspect"], ev["index"]
    titles = ev.get("titles", [])
    run = "" if ev.get("run_id") is None else f" \u00b7 run {ev['run_id']}"
    probe = suspect.get("probe") or {}
    index_rows = [(label, value) for label, value in (
        ("folder", index["path"]), ("created", when(index.get("created_at"))),
        ("last title added", when(index.get("updated_at"))), ("fp version", ev.get("fp_version"))) if value]
    return _templates.get_template("report.html.j2").render(
        verdict={"colour": colour, "word": word},
        page_header=css_string(f"fp report \u00b7 {word}{run}"),
        page_sha=css_string(f"suspect SHA-256 {suspect['sha256']}"),
        suspect={"path": suspect["path"], "name": Path(suspect["path"]).name, "sha256": suspect["sha256"],
                 "duration": clock(ev["query"]["duration"]),
                 "rows": probe_rows(probe)},
        run_id=ev.get("run_id"), created_at=when(ev.get("created_at")),
        titles=[_title_view(ev, t, thumbnails) for t in titles[:max_titles]],
        more_titles=max(0, len(titles) - max_titles),
        index_rows=index_rows, config_groups=config_groups(index.get("config") or {}),
        policy=policy_rows(ev.get("policy") or []), thumb_width=THUMB_WIDTH,
    )


CSV_FIELDS = ["run_id", "suspect", "suspect_sha256", "verdict", "title_id", "display_title", "title_verdict",
              "query_start", "query_end", "ref_start", "ref_end", "score", "threshold", "decision", "visual", "audio",
              "text"]
SERIES_FIELDS = ["run_id", "title_id", "time", "visual", "audio", "text", "threshold"]


def render_csv(ev: dict) -> str:
    """One row per segment."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CSV_FIELDS)
    writer.writeheader()
    titles = {t["title_id"]: t for t in ev.get("titles", [])}
    for m in ev["matches"]:
        t = titles.get(m["title_id"], {})
        writer.writerow({
            "run_id": ev.get("run_id"), "suspect": ev["suspect"]["path"], "suspect_sha256": ev["suspect"]["sha256"],
            "verdict": ev["verdict"], "title_id": m["title_id"],
            "display_title": (t.get("metadata") or {}).get("title", ""), "title_verdict": t.get("verdict", ""),
            **{k: m[k] for k in ("query_start", "query_end", "ref_start", "ref_end", "score", "decision")},
            "threshold": m.get("threshold"),
            **{k: m["modalities"].get(k) for k in ("visual", "audio", "text")}})
    return out.getvalue()


def render_series_csv(ev: dict) -> str:
    """One row per matched title and suspect sample: the similarity plot's data (`time` in
    seconds of the suspect; values on the picture's scale, empty where a modality has none;
    `threshold`: the decision threshold applied there; see `fp.report.similarity`)."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=SERIES_FIELDS)
    writer.writeheader()
    for title in ev.get("titles", []):
        similarity = title.get("similarity")
        if not similarity or not similarity["series"]:
            continue
        series = similarity["series"]
        # a run stored before per-sample thresholds has one for all samples
        thresholds = similarity.get("thresholds", ())
        for i in range(max(len(v) for v in series.values())):
            writer.writerow({"run_id": ev.get("run_id"), "title_id": title["title_id"],
                             "time": round(i * similarity["step"], 3),
                             "threshold": thresholds[i] if i < len(thresholds) else similarity["threshold"],
                             **{k: series[k][i] if k in series and i < len(series[k]) else None for k in EVIDENCE}})
    return out.getvalue()


def render_json(ev: dict) -> str:
    return json.dumps(ev, indent=1)


def series_path(path: str | Path) -> Path:
    """Where a CSV report's per-sample similarities go: `NAME-series.csv` beside `NAME.csv`."""
    path = Path(path)
    return path.with_name(f"{path.stem}-series{path.suffix}")


def write_report(evidence: Evidence, path: str | Path) -> Path:
    """Write by the file's extension: .html, .pdf, .csv (plus its `series_path`) or .json."""
    ev = evidence.to_dict()
    path = Path(path)
    kind = path.suffix.lower()
    if kind not in (".html", ".htm", ".pdf", ".csv", ".json"):
        raise FPError(f"{path}: report format unknown; use .html, .pdf, .csv or .json")
    try:
        if kind in (".html", ".htm"):
            path.write_text(render_html(ev), encoding="utf-8")
        elif kind == ".pdf":
            html_to_pdf(render_html(ev), path)
        elif kind == ".csv":
            path.write_text(render_csv(ev), encoding="utf-8")
            series_path(path).write_text(render_series_csv(ev), encoding="utf-8")
        else:
            path.write_text(render_json(ev), encoding="utf-8")
    except OSError as exc:
        raise FPError(f"{path}: cannot write the report ({exc.strerror or exc})") from exc
    return path
