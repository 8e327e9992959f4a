"""Evidence reports (HTML seen in a real browser, CSV, JSON), policies, history and catalogue
commands."""

import csv
import dataclasses
import io
import json
import re
import shutil
import subprocess
import sys

import numpy as np
import pytest

from conftest import VIDEO
from fp.data.edits import Clip, pirate, splice
from fp.matcher.policy import DEFAULT_POLICY, Policy, Rule, apply_policy, covered
from fp.matcher.types import Match, MatchReport
from fp.report import check, render_csv, write_report
from fp.report.render import series_path
from fp.report.view import span
from test_report_plot import CHROMIUM, Elements, visible_text

EVIL = '<script>document.title="pwned"</script><img src=x onerror=alert(1)>'


def fp(*args):
    return subprocess.run([sys.executable, "-m", "fp", *map(str, args)], capture_output=True, text=True,
                          timeout=600)


@pytest.fixture(scope="module")
def suspect(tmp_path_factory):
    d = tmp_path_factory.mktemp("suspect")
    copy = pirate(Clip(str(VIDEO / "intel_car-detection.mp4"), 6.0, 14.0), d / "copy.mp4", edits=["crop10"])
    return splice([Clip(str(VIDEO / "askany_yoga.mp4"), 0, 5), Clip(str(copy), 0, 14)], d / f"sus {EVIL[:8]}.mp4")


@pytest.fixture(scope="module")
def typed(matcher, suspect):
    ev = check(matcher, suspect, record=False)
    # metadata is untrusted text: it must reach the page as text
    ev.titles = [dataclasses.replace(t, metadata={"title": EVIL, "owner": "Rights & Co <legal>", "territory": "EU"})
                 for t in ev.titles]
    return ev


@pytest.fixture(scope="module")
def evidence(typed):
    """The evidence's JSON form, as reports and the history see it."""
    return typed.to_dict()


def test_evidence_carries_contract_verdict_and_provenance(evidence, suspect, matcher):
    assert evidence["verdict"] == "match" and evidence["query"]["path"] == str(suspect)
    title = evidence["titles"][0]
    assert title["title_id"] == "intel_car-detection.mp4" and title["verdict"] == "match"
    assert title["matched_seconds"] == pytest.approx(14.0, abs=1.5)
    assert title["suspect_percent"] == pytest.approx(100 * 14 / 19, abs=8)
    assert title["reference_percent"] == pytest.approx(100 * 14 / 30.2, abs=5)
    assert re.fullmatch(r"[0-9a-f]{64}", evidence["suspect"]["sha256"])
    assert evidence["index"]["config"]["visual_encoder"] == matcher.config.visual_encoder
    json.dumps(evidence, allow_nan=False)


def test_similarity_series_follow_the_match(evidence, matcher):
    """The plotted series are the matcher's own: inside the segment they average to its
    per-modality score, over the unrelated footage before it they stay under the threshold; the
    thresholds are those applied, the segment's over it."""
    [segment] = [m for m in evidence["matches"] if m["decision"] == "match"]
    similarity = evidence["titles"][0]["similarity"]
    assert similarity["step"] == 1 / matcher.config.frame_rate
    assert similarity["threshold"] == matcher.config.match_threshold
    length = segment["query_end"] - segment["query_start"]
    assert segment["threshold"] == pytest.approx(matcher.decisions.threshold(length), abs=1e-4)
    assert segment["score"] >= segment["threshold"] >= matcher.config.match_threshold
    thresholds = similarity["thresholds"]
    assert set(thresholds[round(segment["query_start"] * 2):round(segment["query_end"] * 2)]) == {segment["threshold"]}
    assert set(thresholds[:8]) == {matcher.config.match_threshold}
    present = {k for k, v in segment["modalities"].items() if v is not None}
    assert "visual" in present and present <= set(similarity["series"])
    visual = np.array([np.nan if v is None else v for v in similarity["series"]["visual"]])
    assert len(visual) == pytest.approx(evidence["query"]["duration"] * matcher.config.frame_rate, abs=2)
    inside = visual[round(segment["query_start"] * 2):round(segment["query_end"] * 2)]
    assert np.nanmean(inside) == pytest.approx(segment["modalities"]["visual"], abs=0.01)
    assert np.nanmean(visual[:8]) < similarity["threshold"]  # the yoga footage, 0-4 s


def screenshot_and_dom(html_path, tmp_path):
    png = tmp_path / "page.png"
    shot = subprocess.run(CHROMIUM + [f"--user-data-dir={tmp_path / 'profile'}", "--window-size=1200,1600",
                                      f"--screenshot={png}", html_path.as_uri()],
                          capture_output=True, text=True, timeout=120)
    assert png.exists(), shot.stderr[-2000:]
    dom = subprocess.run(CHROMIUM + [f"--user-data-dir={tmp_path / 'profile2'}", "--dump-dom", html_path.as_uri()],
                         capture_output=True, text=True, timeout=120).stdout
    return png, dom


def test_html_report_as_a_person_sees_it_in_chromium(typed, evidence, tmp_path):
    from PIL import Image

    page = write_report(typed, tmp_path / "report.html")
    html = page.read_text()
    assert "<script>" not in html and "onerror=alert" not in html.replace("onerror=alert(1)&gt;", "")
    png, dom = screenshot_and_dom(page, tmp_path)
    # the verdict first, in the verdict colour, across the top of the page
    img = Image.open(png).convert("RGB")
    assert img.getpixel((60, 40)) == (176, 0, 32)
    text = visible_text(dom)
    assert text.index("MATCH") < text.index("Similarity over") < text.index("Suspect file") < text.index("Index")
    assert "<script>" not in dom.split("<body>", 1)[1]  # the evil title stayed text...
    assert "document.title=&quot;pwned&quot;" in dom or 'document.title="pwned"' in text  # ...and is shown
    assert "<title>fp report" in dom  # not replaced by the injected script
    assert "Rights &amp; Co &lt;legal&gt;" in dom
    # no raw JSON anywhere: configuration, policy and probe data are tables of words
    assert not re.search(r"[\[{]\s*\"|\"\s*:|\bNone\b|\bnull\b", text), "raw data in the page"
    # side-by-side frames, timelines, per-modality scores, coverage, hash, configuration, summary
    assert dom.count('src="data:image/jpeg;base64,') >= 6
    assert dom.count('aria-label="suspect timeline"') == 1 and 'aria-label="reference timeline"' in dom
    for needle in ("picture", "% of the suspect", "% of the reference", evidence["suspect"]["sha256"],
                   evidence["index"]["config"]["visual_encoder"], "Fingerprint settings", "Match thresholds",
                   "0:05\u20130:19"):
        assert needle in text, needle
    title, [segment] = evidence["titles"][0], [m for m in evidence["matches"] if m["decision"] == "match"]
    summary = (f"{title['matched_seconds']:.1f} s of the suspect ({title['suspect_percent']:.0f} %) matches "
               f"{span(segment['ref_start'], segment['ref_end'])} of intel_car-detection.mp4, "
               f"picture {segment['modalities']['visual']:.2f}")
    assert summary in text, summary
    # the similarity plot: one line per modality the series carry, the match shaded where it is
    elements = Elements(dom)
    series = title["similarity"]["series"]
    assert sorted(a["data-modality"] for a in elements.having("path", "series")) == sorted(series)
    [area] = elements.having("rect", "plot-area")
    [band] = elements.having("rect", "matched")
    scale = float(area["width"]) / evidence["query"]["duration"]
    assert float(band["x"]) == pytest.approx(float(area["x"]) + scale * segment["query_start"], abs=0.1)
    assert float(band["width"]) == pytest.approx(scale * (segment["query_end"] - segment["query_start"]), abs=0.1)


def pdf_pages(pdf, first=1, last=None) -> list[str]:
    text = subprocess.run(["pdftotext", "-layout", "-f", str(first)] + (["-l", str(last)] if last else [])
                          + [str(pdf), "-"], capture_output=True, text=True, timeout=60, check=True).stdout
    return text.split("\f")[:-1]


def test_pdf_report_for_a_takedown_notice(typed, evidence, tmp_path):
    pdf = write_report(typed, tmp_path / "report.pdf")
    assert pdf.read_bytes()[:5] == b"%PDF-"
    pages = pdf_pages(pdf)
    assert len(pages) >= 2
    sha = evidence["suspect"]["sha256"]
    assert "MATCH" in pages[0] and "intel_car-detection.mp4" in pages[0]
    for page in pages:  # the header on every page: verdict, run id (none here: not recorded), hash
        assert "fp report \u00b7 MATCH" in page and sha in page
    # the configuration and the policy on pages of their own, the last ones
    config_at = next(i for i, page in enumerate(pages) if "Fingerprint settings" in page)
    assert any("Policy" in page for page in pages[config_at:])
    assert all("Suspect file" not in page for page in pages[config_at:])
    # the frames: six or more images, each drawn whole on one page, each pair on the same page
    listing = subprocess.run(["pdfimages", "-list", str(pdf)], capture_output=True, text=True, timeout=60,
                             check=True).stdout.splitlines()[2:]
    placed = [(int(row.split()[0]), int(row.split()[10])) for row in listing]  # (page, object id)
    assert len({obj for _, obj in placed}) >= 6
    assert len(placed) == len({obj for _, obj in placed}), "an image is drawn on two pages: split"
    assert all(placed[i][0] == placed[i + 1][0] for i in range(0, len(placed) - 1, 2)), "a pair split"


def test_csv_and_json_reports(typed, evidence, tmp_path):
    rows = list(csv.DictReader(io.StringIO(render_csv(evidence))))
    assert rows and rows[0]["title_id"] == "intel_car-detection.mp4" and rows[0]["display_title"] == EVIL
    data = json.loads(write_report(typed, tmp_path / "r.json").read_text())
    assert {"query", "matches", "verdict", "titles", "suspect", "index"} <= set(data)
    assert data["titles"][0]["similarity"] == evidence["titles"][0]["similarity"]
    write_report(typed, tmp_path / "r.csv")
    samples = list(csv.DictReader(series_path(tmp_path / "r.csv").open()))
    assert len(samples) == len(evidence["titles"][0]["similarity"]["series"]["visual"])
    assert {r["title_id"] for r in samples} == {"intel_car-detection.mp4"}
    with pytest.raises(Exception, match="report format unknown"):
        write_report(typed, tmp_path / "r.docx")


def m(q0, q1, title="t", score=0.8, audio=None):
    return Match(title, q0, q1, q0 + 100, q1 + 100, score, "match", {"visual": score, "audio": audio})


def test_policy_rules_and_coverage():
    assert covered([(0, 10), (5, 12), (20, 21)]) == 13
    report = MatchReport("s.mp4", 100.0, [m(0, 6), m(50, 56, "u", audio=0.9)])
    verdict, titles = apply_policy(report, {"t": 600.0, "u": 60.0})
    assert verdict == "review" and {t.verdict for t in titles} == {"review"}
    strict = Policy((Rule("match", min_reference_percent=5.0, modality="audio"), Rule("review", min_seconds=100)))
    verdict, titles = apply_policy(report, {"t": 600.0, "u": 60.0}, strict)
    assert verdict == "match" and [t.title_id for t in titles if t.verdict == "match"] == ["u"]
    assert apply_policy(MatchReport("s", 10.0, []), {}, DEFAULT_POLICY)[0] == "no_match"


def test_policy_file_is_validated(tmp_path):
    good = tmp_path / "p.toml"
    good.write_text('[[rule]]\nverdict = "match"\nmin_seconds = 30\nmodality = "visual"\n')
    assert Policy.load(good).rules == (Rule("match", min_seconds=30.0, modality="visual"),)
    bad = tmp_path / "bad.toml"
    bad.write_text('[[rule]]\nverdict = "takedown"\n')
    with pytest.raises(Exception, match="rule 1 is not valid"):
        Policy.load(bad)


def test_history_report_list_and_remove_through_the_cli(tmp_path, suspect):
    catalogue = tmp_path / "cat"
    catalogue.mkdir()
    shutil.copy(VIDEO / "intel_car-detection.mp4", catalogue / "car.mp4")
    shutil.copy(VIDEO / "zwm_caminandes.mp4", catalogue / "caminandes.mp4")
    (catalogue / "car.json").write_text(json.dumps({"title": "Highway <Cam>", "owner": "Studio A",
                                                    "licence_end": "2030-01-01", "secret": "dropped"}))
    index = tmp_path / "idx"
    assert fp("index", catalogue, "--index", index, "-q").returncode == 0
    listed = fp("list", "--index", index)
    assert "Highway <Cam>" in listed.stdout and "Studio A" in listed.stdout
    policy = tmp_path / "policy.toml"
    policy.write_text('[[rule]]\nverdict = "review"\nmin_seconds = 1\n')
    folder = tmp_path / "suspects"
    folder.mkdir()
    shutil.copy(suspect, folder / "a.mp4")
    shutil.copy(VIDEO / "mdn_flower.mp4", folder / "b.mp4")
    run = fp("match", folder, "--index", index, "--policy", policy, "--report", tmp_path / "out.html")
    assert run.returncode == 3, run.stderr  # the strongest verdict, review
    assert "summary" in run.stdout and "review" in run.stdout and "no_match" in run.stdout
    assert (tmp_path / "out-1.html").exists() and (tmp_path / "out-2.html").exists()
    history = fp("history", "--index", index)
    assert re.search(r"2\s.*no_match.*b\.mp4", history.stdout) and re.search(r"1\s.*review.*a\.mp4", history.stdout)
    again = fp("report", "1", "--index", index, "--report", tmp_path / "again.json", "--report", tmp_path / "again.pdf")
    assert again.returncode == 0, again.stderr
    assert (tmp_path / "again.pdf").read_bytes()[:5] == b"%PDF-"
    assert "Highway <Cam>" in "".join(pdf_pages(tmp_path / "again.pdf", 1, 1))
    data = json.loads((tmp_path / "again.json").read_text())
    assert data["run_id"] == 1 and data["titles"][0]["metadata"]["title"] == "Highway <Cam>"
    assert "secret" not in data["titles"][0]["metadata"]
    assert fp("report", "99", "--index", index).returncode == 2
    removed = fp("remove", "car.mp4", "--index", index)
    assert removed.returncode == 0
    assert "car.mp4" not in fp("list", "--index", index).stdout
    gone = fp("match", suspect, "--index", index, "--no-history")
    assert gone.returncode == 1
    assert fp("remove", "car.mp4", "--index", index).returncode == 2
