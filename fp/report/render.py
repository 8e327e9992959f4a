"""Render evidence as one self-contained HTML page, CSV rows or JSON.

Every string that comes from a file, a path or metadata is escaped before it reaches the page.
"""

from __future__ import annotations

import base64
import csv
import io
import json
import subprocess
from html import escape
from pathlib import Path

from fp.data.probe import require_tool

THUMB_WIDTH = 320
VERDICT_STYLE = {"match": ("#b00020", "MATCH"), "review": ("#b36b00", "REVIEW"), "no_match": ("#1b7a35", "NO MATCH")}


def clock(seconds: float) -> str:
    """1:02:03.5 / 2:03.5 style timestamps."""
    minutes, secs = divmod(max(0.0, seconds), 60)
    hours, minutes = divmod(int(minutes), 60)
    return f"{hours}:{minutes:02d}:{secs:04.1f}" if hours else f"{minutes}:{secs:04.1f}"


def e(value) -> str:
    return escape("" if value is None else str(value), quote=True)


def thumbnail(path: str | None, seconds: float) -> str | None:
    """A JPEG data URI of the frame at `seconds`, or None when the file cannot give one."""
    if not path or not Path(path).is_file():
        return None
    cmd = [require_tool("ffmpeg"), "-nostdin", "-v", "error", "-ss", f"{max(0.0, seconds):.3f}", "-i", path,
           "-frames:v", "1", "-vf", f"scale={THUMB_WIDTH}:-2", "-f", "image2pipe", "-c:v", "mjpeg", "pipe:"]
    try:
        out = subprocess.run(cmd, capture_output=True, timeout=60, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        return None
    if out.returncode != 0 or not out.stdout:
        return None
    return "data:image/jpeg;base64," + base64.b64encode(out.stdout).decode()


def _timeline(label: str, total: float, ranges: list[tuple[float, float]], colour: str) -> str:
    width = 720
    bars = "".join(
        f'<rect x="{width * a / total:.1f}" y="4" width="{max(2.0, width * (b - a) / total):.1f}" height="18" '
        f'fill="{colour}"><title>{e(clock(a))}-{e(clock(b))}</title></rect>'
        for a, b in ranges) if total > 0 else ""
    return (f'<div class="tl"><span>{e(label)}</span><svg width="{width}" height="26" role="img" '
            f'aria-label="{e(label)} timeline"><rect x="0" y="4" width="{width}" height="18" fill="#e4e4e4"/>'
            f'{bars}</svg><span>{e(clock(total))}</span></div>')


def _score(value) -> str:
    return "-" if value is None else f"{value:.2f}"


def _moments(m: dict, count: int = 3) -> list[tuple[float, float]]:
    q0, q1, r0, r1 = m["query_start"], m["query_end"], m["ref_start"], m["ref_end"]
    rate = (r1 - r0) / (q1 - q0) if q1 > q0 else 1.0
    out = []
    for k in range(count):
        q = q0 + (q1 - q0) * (k + 0.5) / count
        out.append((q, r0 + (q - q0) * rate))
    return out


def render_html(ev: dict, *, thumbnails: bool = True, max_titles: int = 5) -> str:
    colour, word = VERDICT_STYLE.get(ev.get("verdict", "no_match"), VERDICT_STYLE["no_match"])
    suspect, query = ev["suspect"], ev["query"]
    parts = [f"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>fp report: {e(Path(suspect['path']).name)}</title>
<style>
body{{font-family:system-ui,sans-serif;margin:24px;color:#222;max-width:1100px}}
.verdict{{font-size:32px;font-weight:700;color:#fff;background:{colour};padding:12px 20px;border-radius:6px}}
h2{{margin-top:28px;border-bottom:1px solid #ccc}} table{{border-collapse:collapse}}
td,th{{padding:4px 10px;border-bottom:1px solid #eee;text-align:left;vertical-align:top}}
.tl{{display:flex;align-items:center;gap:8px;margin:4px 0}} .tl span:first-child{{width:90px}}
.pair{{display:flex;gap:12px;margin:8px 0;align-items:flex-start}} figure{{margin:0}}
figcaption{{font-size:12px;color:#555}} img{{width:{THUMB_WIDTH}px;border:1px solid #999}}
.missing{{width:{THUMB_WIDTH}px;height:180px;background:#eee;display:flex;align-items:center;justify-content:center;color:#777}}
code{{font-size:12px;word-break:break-all}}
</style></head><body>
<div class="verdict" id="verdict">{word}</div>
<p>Suspect <b>{e(suspect['path'])}</b> ({e(clock(query['duration']))})
{'' if ev.get('run_id') is None else f"- run {e(ev['run_id'])}"} - checked {e(ev.get('created_at'))}
against {len(ev.get('titles', []))} matched title(s).</p>"""]
    for title in ev.get("titles", [])[:max_titles]:
        segs = [m for m in ev["matches"] if m["title_id"] == title["title_id"] and m["decision"] == "match"]
        meta = title.get("metadata") or {}
        tcolour, tword = VERDICT_STYLE.get(title["verdict"], VERDICT_STYLE["no_match"])
        rows = "".join(f"<tr><th>{e(k.replace('_', ' '))}</th><td>{e(v)}</td></tr>" for k, v in meta.items())
        parts.append(f"""<h2>{e(meta.get('title') or title['title_id'])}
<span style="color:{tcolour}">[{tword}]</span></h2>
<table><tr><th>title id</th><td>{e(title['title_id'])}</td></tr>{rows}
<tr><th>reference file</th><td><code>{e(title.get('path'))}</code></td></tr>
<tr><th>matched</th><td>{title['matched_seconds']:.1f} s: {title['suspect_percent']:.1f} % of the suspect,
{title['reference_percent']:.1f} % of the reference</td></tr></table>""")
        parts.append(_timeline("suspect", query["duration"], [(m["query_start"], m["query_end"]) for m in segs], colour))
        parts.append(_timeline("reference", title.get("duration") or 0.0,
                               [(m["ref_start"], m["ref_end"]) for m in segs], colour))
        table = "".join(
            f"<tr><td>{e(clock(m['query_start']))}-{e(clock(m['query_end']))}</td>"
            f"<td>{e(clock(m['ref_start']))}-{e(clock(m['ref_end']))}</td><td>{m['score']:.3f}</td>"
            + "".join(f"<td>{_score(m['modalities'].get(k))}</td>" for k in ("visual", "audio", "text"))
            + "</tr>" for m in segs)
        parts.append("<table><tr><th>suspect</th><th>reference</th><th>score</th><th>picture</th>"
                     f"<th>soundtrack</th><th>subtitles</th></tr>{table}</table>")
        for m in segs[:3]:
            for q, r in _moments(m):
                pair = []
                for label, path, t in (("suspect", suspect["path"], q), ("reference", title.get("path"), r)):
                    uri = thumbnail(path, t) if thumbnails else None
                    img = f'<img src="{uri}" alt="{label} frame at {e(clock(t))}">' if uri else \
                        f'<div class="missing">{label} frame not available</div>'
                    pair.append(f"<figure>{img}<figcaption>{label} {e(clock(t))}</figcaption></figure>")
                parts.append(f'<div class="pair">{"".join(pair)}</div>')
    probe = suspect.get("probe", {})
    parts.append(f"""<h2>Suspect file</h2><table>
<tr><th>path</th><td><code>{e(suspect['path'])}</code></td></tr>
<tr><th>SHA-256</th><td><code>{e(suspect['sha256'])}</code></td></tr>
<tr><th>size</th><td>{e(f"{suspect['size_bytes']:,}")} bytes</td></tr>
{''.join(f'<tr><th>{e(k)}</th><td>{e(v)}</td></tr>' for k, v in probe.items() if k not in ('path',))}
</table><h2>Index</h2><table>
<tr><th>folder</th><td><code>{e(ev['index']['path'])}</code></td></tr>
<tr><th>created</th><td>{e(ev['index'].get('created_at'))}</td></tr>
<tr><th>last title added</th><td>{e(ev['index'].get('updated_at'))}</td></tr>
<tr><th>configuration</th><td><code>{e(json.dumps(ev['index']['config'], sort_keys=True))}</code></td></tr>
<tr><th>policy</th><td><code>{e(json.dumps(ev.get('policy')))}</code></td></tr>
<tr><th>fp version</th><td>{e(ev.get('fp_version'))}</td></tr></table></body></html>""")
    return "\n".join(parts)


CSV_FIELDS = ["run_id", "suspect", "suspect_sha256", "verdict", "title_id", "display_title", "title_verdict",
              "query_start", "query_end", "ref_start", "ref_end", "score", "decision", "visual", "audio", "text"]


def render_csv(ev: dict) -> str:
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
            **{k: m["modalities"].get(k) for k in ("visual", "audio", "text")}})
    return out.getvalue()


def render_json(ev: dict) -> str:
    return json.dumps(ev, indent=1)


def write_report(ev: dict, path: str | Path) -> Path:
    """Write by the file's extension: .html, .csv or .json."""
    path = Path(path)
    renderers = {".html": render_html, ".htm": render_html, ".csv": render_csv, ".json": render_json}
    if path.suffix.lower() not in renderers:
        from fp.errors import FPError

        raise FPError(f"{path}: report format unknown; use .html, .csv or .json")
    path.write_text(renderers[path.suffix.lower()](ev), encoding="utf-8")
    return path
