"""The report's similarity series, plot and sections on hand-made evidence with known answers:
series carried through chained pieces and read at the nearest segment, the plot drawn in
Chromium with one line per modality present and the matched ranges where they belong, readable
sections without raw JSON, the series and the thresholds applied in CSV and JSON, a PDF without a
browser refused in one line."""

import csv
import dataclasses
import io
import json
import re
import subprocess
from html.parser import HTMLParser

import numpy as np
import pytest

from fp.config import FINGERPRINT_FIELDS, Config
from fp.data.probe import MediaInfo
from fp.errors import FPError
from fp.matcher.align import AlignedSegment, SimilaritySeries
from fp.matcher.decisions import DecisionParams, chain, decide
from fp.matcher.policy import DEFAULT_POLICY
from fp.report import Evidence, render_html, render_series_csv, write_report
from fp.report.plot import similarity_plot
from fp.report.render import css_string, series_path
from fp.report.similarity import title_similarity
from fp.report.view import config_groups

CHROMIUM = ["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync"]
STEP, SAMPLES, THRESHOLD = 0.5, 120, 0.55
"""A 60 s suspect sampled every half second."""
DECISIONS = dataclasses.replace(DecisionParams.from_config(Config(match_threshold=THRESHOLD)),
                                length_thresholds=((4.0, 0.69), (10.0, 0.62), (15.0, 0.55)))
"""Thresholds by segment length: 0.69 from 4 s, 0.62 from 10 s, `THRESHOLD` from 15 s."""


def dom_of(html_path, tmp_path) -> str:
    """The page's DOM as Chromium builds it."""
    done = subprocess.run(CHROMIUM + [f"--user-data-dir={tmp_path / 'dom-profile'}", "--dump-dom", html_path.as_uri()],
                          capture_output=True, text=True, timeout=120)
    assert "<body" in done.stdout, done.stderr[-2000:]
    return done.stdout


class Elements(HTMLParser):
    """Every element's tag and attributes, in document order."""

    def __init__(self, html: str):
        super().__init__()
        self.found: list[tuple[str, dict]] = []
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        self.found.append((tag, dict(attrs)))

    def having(self, tag: str, cls: str) -> list[dict]:
        return [a for t, a in self.found if t == tag and cls in (a.get("class") or "").split()]


def constant(value: float, nan: tuple[range, ...] = ()) -> np.ndarray:
    out = np.full(SAMPLES, value, np.float32)
    for r in nan:
        out[r.start:r.stop] = np.nan
    return out


def segment(q0, q1, r0, values: dict[str, np.ndarray], score: float = 0.8) -> tuple[str, AlignedSegment]:
    inside = slice(int(q0 / STEP), int(q1 / STEP))
    modalities = {m: None if np.isnan(v[inside]).all() else float(np.nanmean(v[inside])) for m, v in values.items()}
    return "a.mp4", AlignedSegment(q0, q1, r0, r0 + q1 - q0, score, modalities, SimilaritySeries(STEP, values))


# Three segments of one title, decided with `DECISIONS`: A at 10-25 s (reference 100-115 s) and
# B at 40-50 s (reference 200-210 s) are matches at 0.55 and 0.62; C at 54-58 s (reference
# 300-304 s) scores 0.62, above 0.55 but below its 4 s segment's 0.69: a candidate. A's soundtrack
# is silent for its first 2 s and at 15-17 s; C has no soundtrack; none has subtitles.
A, B, C = sorted(decide([
    segment(10.0, 25.0, 100.0, {"visual": constant(0.71), "audio": constant(0.9, (range(0, 4), range(30, 34))),
                                "text": constant(np.nan)}),
    segment(40.0, 50.0, 200.0, {"visual": constant(0.52), "audio": constant(0.3), "text": constant(np.nan)}),
    segment(54.0, 58.0, 300.0, {"visual": constant(0.62), "audio": constant(np.nan), "text": constant(np.nan)},
            0.62)], DECISIONS), key=lambda m: m.query_start)


def hand_made_evidence() -> dict:
    probe = MediaInfo("suspect.mp4", 1_234_567, 60.0, 60.0, "mov,mp4,m4a,3gp,3g2,mj2", 0, 1280, 720, 25.0, 0,
                      "1:1", "h264", False, None, None, ()).to_dict()
    return {
        "query": {"path": "suspect.mp4", "duration": 60.0}, "matches": [m.to_dict() for m in (A, B, C)],
        "verdict": "match", "run_id": 3, "created_at": "2024-05-01T12:00:00+00:00", "fp_version": "0.1.0",
        "titles": [{"title_id": "a.mp4", "verdict": "match", "matched_seconds": 25.0, "suspect_percent": 41.67,
                    "reference_percent": 10.0, "path": None, "duration": 250.0,
                    "metadata": {"title": "A <film>", "owner": ""},
                    "similarity": title_similarity([A, B, C], THRESHOLD)}],
        "suspect": {"path": "suspect.mp4", "sha256": "ab" * 32, "size_bytes": 1_234_567, "probe": probe},
        "index": {"path": "idx", "created_at": "2024-04-01T08:00:00+00:00", "updated_at": "2024-04-02T09:30:00",
                  "config": json.loads(Config().to_json())},
        "policy": [dataclasses.asdict(rule) for rule in DEFAULT_POLICY.rules],
    }


def test_a_segment_above_the_match_threshold_but_below_its_lengths_is_a_candidate():
    assert [(m.decision, m.threshold) for m in (A, B, C)] == [("match", 0.55), ("match", 0.62), ("candidate", 0.69)]
    assert THRESHOLD < C.score < C.threshold and C.to_dict()["threshold"] == 0.69


def test_series_are_read_at_the_nearest_segment():
    sim = title_similarity([A, B], THRESHOLD)
    assert sim["step"] == STEP and sim["threshold"] == THRESHOLD
    # each segment's threshold over its samples (B: 40-50 s), `match_threshold` elsewhere
    assert sim["thresholds"] == [0.55] * 80 + [0.62] * 20 + [0.55] * 20
    assert set(sim["series"]) == {"visual", "audio"}  # no subtitles anywhere: no series
    visual, audio = sim["series"]["visual"], sim["series"]["audio"]
    assert len(visual) == len(audio) == SAMPLES
    # halfway between A (ends at 25 s) and B (starts at 40 s) is 32.5 s: sample 64 is A's, 65 B's
    assert visual[:65] == [0.71] * 65 and visual[65:] == [0.52] * (SAMPLES - 65)
    assert audio[:4] == [None] * 4 and audio[30:34] == [None] * 4 and audio[4] == 0.9 and audio[100] == 0.3
    assert title_similarity([dataclasses.replace(A, series=None)], THRESHOLD) is None


def test_chained_pieces_keep_each_pieces_series():
    first = AlignedSegment(0.0, 10.0, 5.0, 15.0, 0.7, {"visual": 0.6},
                           SimilaritySeries(STEP, {"visual": np.full(40, 0.6, np.float32)}))
    second = AlignedSegment(10.5, 20.0, 15.6, 25.1, 0.9, {"visual": 0.9, "audio": 0.8},
                            SimilaritySeries(STEP, {"visual": np.full(40, 0.9, np.float32),
                                                    "audio": np.full(40, 0.8, np.float32)}))
    [(title, joined)] = chain([("t", first), ("t", second)], DecisionParams.from_config(Config()))
    assert (joined.query_start, joined.query_end) == (0.0, 20.0)
    # cut halfway between the pieces, at 10.25 s (sample 20)
    np.testing.assert_allclose(joined.series.values["visual"], [0.6] * 20 + [0.9] * 20)
    assert np.isnan(joined.series.values["audio"][:20]).all() and (joined.series.values["audio"][20:] == 0.8).all()


def test_the_plot_in_chromium_has_a_line_per_modality_and_the_matched_ranges_in_place(tmp_path):
    ev = hand_made_evidence()
    page = tmp_path / "report.html"
    page.write_text(render_html(ev))
    html = dom_of(page, tmp_path)
    dom = Elements(html)
    [area] = dom.having("rect", "plot-area")
    x0, y0, width, height = (float(area[k]) for k in ("x", "y", "width", "height"))

    def x(seconds):
        return x0 + width * seconds / 60.0

    lines = {a["data-modality"]: a["d"] for a in dom.having("path", "series")}
    assert sorted(lines) == ["audio", "visual"]  # one each; subtitles absent
    assert len(dom.having("path", "series")) == 2
    visual_moves = re.findall(r"M([\d.]+) ([\d.]+)", lines["visual"])
    assert len(visual_moves) == 1 and float(visual_moves[0][0]) == pytest.approx(x(0.0), abs=0.1)
    assert float(visual_moves[0][1]) == pytest.approx(y0 + height * (1 - 0.71), abs=0.2)
    audio_moves = [float(mx) for mx, _ in re.findall(r"M([\d.]+) ([\d.]+)", lines["audio"])]
    assert audio_moves == pytest.approx([x(2.0), x(17.0)], abs=0.1)  # silent at 0-2 s and 15-17 s
    bands = dom.having("rect", "matched")
    assert [float(b["x"]) for b in bands] == pytest.approx([x(10.0), x(40.0)], abs=0.1)
    assert [float(b["width"]) for b in bands] == pytest.approx([x(25.0) - x(10.0), x(50.0) - x(40.0)], abs=0.1)
    [candidate] = dom.having("rect", "candidate")
    assert (float(candidate["x"]), float(candidate["width"])) == pytest.approx((x(54.0), x(58.0) - x(54.0)), abs=0.1)
    assert [float(b["data-threshold"]) for b in bands + [candidate]] == [0.55, 0.62, 0.69]
    # the threshold applied: each segment's over its band, 0.55 elsewhere
    levels = [(float(a["x1"]), float(a["x2"]), float(a["y1"]), float(a["data-threshold"]))
              for a in dom.having("line", "threshold")]
    edges = [0, 40, 50, 54, 58, 60]
    assert [x1 for x1, _, _, _ in levels] == pytest.approx([x(t) for t in edges[:-1]], abs=0.1)
    assert [x2 for _, x2, _, _ in levels] == pytest.approx([x(t) for t in edges[1:]], abs=0.1)
    assert [t for _, _, _, t in levels] == [0.55, 0.62, 0.55, 0.69, 0.55]
    assert [y for _, _, y, _ in levels] == pytest.approx([y0 + height * (1 - t) for _, _, _, t in levels], abs=0.1)
    assert ">0.62</text>" in html and ">0.69</text>" in html  # the raised thresholds, labelled
    legend = re.sub(r"<[^>]+>", "|", html.split('class="legend"', 1)[1].split(">", 1)[1].split("</g>", 1)[0])
    assert [t for t in legend.split("|") if t.strip()] == [
        "picture", "soundtrack", "matched (reference range)", "candidate",
        "decision threshold: 0.55, raised over a segment by its length and the catalogue's size"]
    for label in ("ref 1:40\u20131:55", "ref 3:20\u20133:30", "ref 5:00\u20135:04"):
        assert f">{label}</text>" in html, label


def visible_text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html.split("<body>", 1)[1]))


def test_sections_read_as_words_not_data():
    ev = hand_made_evidence()
    text = visible_text(render_html(ev, thumbnails=False))
    assert not re.search(r"[\[{]\s*\"|\"\s*:|\bNone\b|\bnull\b|\bTrue\b|\bFalse\b", text), "raw data in the page"
    assert ("25.0 s of the suspect (42 %) matches 1:40\u20131:55, 3:20\u20133:30 of a.mp4, "
            "picture 0.63, soundtrack 0.66") in text
    # probe data as human fields, nothing empty or repeated
    for shown in ("duration 0:01:00 (60.00 s)", "resolution 1280 \u00d7 720", "frame rate 25 fps",
                  "video codec h264", "streams video #0", "size 1.2 MB (1,234,567 bytes)"):
        assert shown in text, shown
    for hidden in ("audio codec", "size_bytes", "video stream duration", "subtitle_streams", "owner"):
        assert hidden not in text, hidden
    assert "created 2024-04-01 08:00:00 UTC" in text and "last title added 2024-04-02 09:30:00 UTC" in text
    for heading in ("Fingerprint settings", "Index structure", "Match thresholds", "Policy"):
        assert heading in text
    assert "1 match 10 0 0 any" in text and "3 review 0 0 0 any" in text  # the policy's rules, in order
    assert "A &lt;film&gt;" in render_html(ev, thumbnails=False)


def test_configuration_groups_hold_every_setting_once():
    config = json.loads(Config().to_json()) | {"future_setting": 1}
    groups = dict(config_groups(config))
    assert list(groups) == ["Fingerprint settings", "Index structure", "Match thresholds", "Other settings"]
    names = [name for rows in groups.values() for name, _ in rows]
    assert sorted(names) == sorted(k.replace("_", " ") for k in config)
    assert [n for n, _ in groups["Fingerprint settings"]] == [k.replace("_", " ") for k in FINGERPRINT_FIELDS]
    assert groups["Other settings"] == [("future setting", "1")]
    assert dict(groups["Index structure"])["exact index max vectors"] == "1,000,000"
    assert "match threshold" in dict(groups["Match thresholds"])


def test_series_travel_in_csv_and_json(tmp_path):
    ev = hand_made_evidence()
    target = write_report(Evidence.from_dict(ev), tmp_path / "r.csv")
    rows = list(csv.DictReader(io.StringIO(series_path(target).read_text())))
    assert len(rows) == SAMPLES and rows[0]["title_id"] == "a.mp4"
    assert [float(r["time"]) for r in rows[:3]] == [0.0, 0.5, 1.0]
    assert rows[0]["visual"] == "0.71" and rows[0]["audio"] == "" and rows[0]["text"] == ""
    assert rows[100]["visual"] == "0.52" and rows[100]["threshold"] == "0.55"
    assert [rows[i]["threshold"] for i in (79, 80, 99, 107, 108, 115, 116)] == \
        ["0.55", "0.62", "0.62", "0.55", "0.69", "0.69", "0.55"]  # B at 40-50 s, C at 54-58 s
    assert render_series_csv(ev).splitlines() == series_path(target).read_text().splitlines()
    data = json.loads(write_report(Evidence.from_dict(ev), tmp_path / "r.json").read_text())
    assert data["titles"][0]["similarity"]["series"]["audio"][:4] == [None] * 4
    assert data["titles"][0]["similarity"]["thresholds"][108:116] == [0.69] * 8
    assert (data["matches"][2]["decision"], data["matches"][2]["threshold"]) == ("candidate", 0.69)


def test_a_run_stored_without_applied_thresholds_shows_the_match_threshold():
    ev = hand_made_evidence()
    del ev["titles"][0]["similarity"]["thresholds"]
    for m in ev["matches"]:
        del m["threshold"]
    assert {r["threshold"] for r in csv.DictReader(io.StringIO(render_series_csv(ev)))} == {"0.55"}
    plot = similarity_plot(ev["titles"][0]["similarity"], ev["matches"], 60.0)
    assert [(level.x, level.width, level.threshold) for level in plot.levels] == \
        [(plot.left, plot.inner_width, 0.55)]
    assert Evidence.from_dict(ev).report.matches[0].threshold is None
    [line] = Elements(render_html(ev, thumbnails=False)).having("line", "threshold")
    assert line["data-threshold"] == "0.55"


def test_page_header_strings_cannot_leave_css():
    quoted = str(css_string('x"; } body { color: red } \\'))
    assert quoted.startswith('"') and quoted.endswith('"') and '"' not in quoted[1:-1]
    assert not set(";{}") & set(quoted)


def test_pdf_without_a_browser_is_one_clear_error(tmp_path, monkeypatch):
    monkeypatch.setattr("fp.report.pdf.BROWSERS", ("no-such-browser-here",))
    with pytest.raises(FPError, match=r"needs Chromium.*apt-get install chromium") as caught:
        write_report(Evidence.from_dict(hand_made_evidence()), tmp_path / "r.pdf")
    assert "\n" not in str(caught.value) and not (tmp_path / "r.pdf").exists()


def test_evidence_reads_back_from_its_stored_json_form():
    data = json.loads(json.dumps(hand_made_evidence()))
    typed = Evidence.from_dict(data)
    assert typed.verdict == "match" and typed.run_id == 3 and typed.report.matches[0].title_id == data["matches"][0]["title_id"]
    assert typed.to_dict() == data
    assert typed.contract() == {k: data[k] for k in ("query", "matches", "verdict", "run_id")}
