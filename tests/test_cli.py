"""The command line as users run it: exit codes, one-line errors, JSON contract, incremental index."""

import hashlib
import json
import re
import shutil
import subprocess
import sys

import pytest

from conftest import VIDEO
from fp.config import Config
from fp.data.edits import Clip, pirate
from fp.index.store import IndexStore
from fp.matcher.decisions import DecisionParams


def fp(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "fp", *map(str, args)], capture_output=True,
                          text=True, cwd=cwd, timeout=600)


def index_state(index_dir):
    import duckdb

    con = duckdb.connect(str(index_dir / "fp.duckdb"), read_only=True)
    try:
        rows = [con.execute(f"SELECT * FROM {t} ORDER BY ALL").fetchall()
                for t in ("titles", "shots", "tracks")]
    finally:
        con.close()
    return hashlib.sha256(repr(rows).encode()).hexdigest()


@pytest.fixture(scope="module")
def bad_inputs(tmp_path_factory):
    root = tmp_path_factory.mktemp("bad")
    (root / "empty.mp4").write_bytes(b"")
    (root / "text.mp4").write_text("not a video at all\n" * 100)
    data = (VIDEO / "mdn_flower.mp4").read_bytes()
    (root / "truncated.mp4").write_bytes(data[: len(data) // 2])
    (root / "cues.srt").write_text("1\n00:00:01,000 --> 00:00:03,000\nHello\n")
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-i", str(root / "cues.srt"), str(root / "subtitles only.mkv")],
                   check=True)
    return {
        "empty": (root / "empty.mp4", "file is empty"),
        "text": (root / "text.mp4", "not a readable media file"),
        "truncated": (root / "truncated.mp4", "truncated|not a readable media file|could not decode"),
        "subtitles-only": (root / "subtitles only.mkv", "has no video stream and no decodable soundtrack"),
        "missing": (root / "missing.mp4", "no such file"),
    }


@pytest.mark.parametrize("kind", ["empty", "text", "truncated", "subtitles-only", "missing"])
def test_bad_input_gives_one_error_line_and_exit_2(index_dir, bad_inputs, kind):
    import re

    path, message = bad_inputs[kind]
    before = index_state(index_dir)
    result = fp("match", path, "--index", index_dir)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and re.search(message, lines[0]), lines
    assert "Traceback" not in result.stderr
    assert index_state(index_dir) == before


def test_indexing_a_catalogue_with_bad_files_keeps_good_titles(tmp_path, bad_inputs):
    catalogue = tmp_path / "cat"
    catalogue.mkdir()
    shutil.copy(VIDEO / "zwm_caminandes.mp4", catalogue / "good.mp4")
    for kind in ("empty", "text", "truncated"):
        shutil.copy(bad_inputs[kind][0], catalogue / f"{kind}.mp4")
    result = fp("index", catalogue, "--index", tmp_path / "idx")
    assert result.returncode == 2
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 3
    listed = fp("info", "--index", tmp_path / "idx")
    assert listed.returncode == 0 and "titles      1 " in listed.stdout
    assert re.search(r"disk .* MB \(tracks [0-9.]+, database [0-9.]+, knn [0-9.]+.*MB per catalogue hour",
                     listed.stdout)
    assert "\nfingerprint visual_encoder=fp-visual-v1, " in listed.stdout
    assert "\nmatch       this release's, per query (fp match --set NAME=VALUE); the same at build\n" in listed.stdout


def test_commands_that_only_read_the_index_start_without_the_encoders(index_dir, tmp_path):
    """`fp list`, `info`, `history`, `remove` and `--help` never import torch or ONNX Runtime
    (seconds of start-up each)."""
    copy = tmp_path / "index"
    shutil.copytree(index_dir, copy)
    with IndexStore.open(copy) as store:
        title = store.titles()[0].title_id
    code = ("import sys; from typer.testing import CliRunner; from fp.cli.main import app; "
            "runs = [CliRunner().invoke(app, args) for args in "
            "(['list', '--index', sys.argv[1]], ['info', '--index', sys.argv[1]], "
            "['history', '--index', sys.argv[1]], ['remove', sys.argv[2], '--index', sys.argv[1]], ['--help'])]; "
            "print([r.exit_code for r in runs], [m for m in ('torch', 'onnxruntime', 'open_clip') if m in sys.modules])")
    done = subprocess.run([sys.executable, "-c", code, str(copy), title], capture_output=True, text=True, timeout=600)
    assert done.stdout.strip() == "[0, 0, 0, 0, 0] []", done.stdout + done.stderr
    with IndexStore.open(copy) as store:
        assert title not in {t.title_id for t in store.titles()}


def test_match_json_contract_and_exit_codes(index_dir, tmp_path):
    copy = pirate(Clip(str(VIDEO / "zwm_sintel.mp4"), 1.0, 8.0), tmp_path / "copy.mp4", edits=["crop10"])
    result = fp("match", copy, VIDEO / "mdn_flower.mp4", "--index", index_dir, "--format", "json")
    assert result.returncode == 0, result.stderr
    first, second = [json.loads(line) for line in result.stdout.splitlines()]
    assert first["query"]["path"] == str(copy) and 7.5 <= first["query"]["duration"] <= 9.5
    m = first["matches"][0]
    assert set(m) >= {"title_id", "query_start", "query_end", "ref_start", "ref_end", "score",
                      "decision", "threshold", "modalities"}
    assert m["title_id"] == "zwm_sintel.mp4" and m["decision"] == "match"
    assert set(m["modalities"]) == {"visual"} and 0 <= m["score"] <= 1
    assert second["matches"] == []
    clean = fp("match", VIDEO / "mdn_flower.mp4", "--index", index_dir)
    assert clean.returncode == 1 and "no match" in clean.stdout


def test_verdict_exit_code_headline_and_json_agree(index_dir, tmp_path):
    copy = pirate(Clip(str(VIDEO / "zwm_sintel.mp4"), 1.0, 8.0), tmp_path / "copy.mp4", edits=["crop10"])
    clean = VIDEO / "mdn_flower.mp4"
    # several suspects, history off: every suspect gets its own reports, none overwritten
    both = fp("match", copy, clean, "--index", index_dir, "--no-history", "--report", tmp_path / "r.json",
              "--report", tmp_path / "r.html")
    assert both.returncode == 0, both.stderr  # the strongest verdict of the run
    first, second = (json.loads((tmp_path / f"r-suspect{k}.json").read_text()) for k in (1, 2))
    assert (first["verdict"], second["verdict"]) == ("match", "no_match")
    assert {p.name for p in tmp_path.glob("r-*")} == {"r-suspect1.json", "r-suspect1.html",
                                                      "r-suspect2.json", "r-suspect2.html"}
    lines = [line for line in both.stdout.splitlines() if line.startswith(("/", str(tmp_path)))]
    assert [("MATCH" in line, "no match" in line) for line in lines[:2]] == [(True, False), (False, True)]
    # each segment's row shows the threshold its score was decided against (rows of 7 cells: the
    # run's summary table below has 4)
    rows = [[cell.strip() for cell in line.split("│")] for line in both.stdout.splitlines() if "│" in line]
    decided = [row for row in rows if len(row) == 7 and row[5] == "match"]
    assert decided and all(float(row[3]) >= float(row[4]) >= Config().match_threshold for row in decided)
    # a policy that only asks for review: exit 3, the headline and the JSON say review
    policy = tmp_path / "review.toml"
    policy.write_text('[[rule]]\nverdict = "match"\nmin_seconds = 1000\n\n[[rule]]\nverdict = "review"\n')
    review = fp("match", copy, "--index", index_dir, "--policy", policy, "--report", tmp_path / "review.json")
    assert review.returncode == 3, review.stderr
    assert "REVIEW" in review.stdout and "MATCH" not in review.stdout
    assert json.loads((tmp_path / "review.json").read_text())["verdict"] == "review"
    as_json = fp("match", copy, "--index", index_dir, "--policy", policy, "--format", "json", "--no-history")
    assert as_json.returncode == 3 and json.loads(as_json.stdout)["verdict"] == "review"


def test_match_settings_are_set_per_run_and_checked(index_dir, tmp_path):
    copy = pirate(Clip(str(VIDEO / "zwm_sintel.mp4"), 1.0, 8.0), tmp_path / "copy.mp4", edits=["crop10"])
    strict = fp("match", copy, "--index", index_dir, "--no-history", "--set", "query_phases=1",
                "--set", "match_threshold=1.5")
    assert strict.returncode == 1 and "no match" in strict.stdout, strict.stderr  # a match by default
    # a fingerprint setting: refused in one line, however long the list of match settings it names
    bad = fp("match", copy, "--index", index_dir, "--set", "query_phases=2", "--set", "frame_rate=1")
    lines = bad.stderr.strip().splitlines()
    assert bad.returncode == 2 and len(lines) == 1 and lines[0].startswith("error: 'frame_rate=1'") \
        and "a match setting" in lines[0] and len(lines[0]) > 200, lines


def test_candidates_are_listed_only_with_min_score(index_dir):
    plain = fp("match", VIDEO / "askany_yoga.mp4", "--index", index_dir, "-f", "json")
    assert json.loads(plain.stdout)["matches"] == []
    loose = fp("match", VIDEO / "askany_yoga.mp4", "--index", index_dir, "-f", "json", "--min-score", "0")
    assert all(m["decision"] == "candidate" for m in json.loads(loose.stdout)["matches"])


def test_reindexing_an_unchanged_catalogue_does_no_work(tmp_path, monkeypatch):
    from fp.config import Config
    from fp.fingerprint.extract import Fingerprinter
    from fp.index import index_catalogue

    catalogue = tmp_path / "cat"
    catalogue.mkdir()
    for name in ("zwm_caminandes.mp4", "mdn_flower.mp4"):
        shutil.copy(VIDEO / name, catalogue / name)
    first = index_catalogue(catalogue, tmp_path / "idx", Config())
    assert sorted(first.added) == ["mdn_flower.mp4", "zwm_caminandes.mp4"]

    def refuse(*args, **kwargs):
        raise AssertionError("re-encoded an unchanged title")

    monkeypatch.setattr(Fingerprinter, "fingerprint", refuse)
    second = index_catalogue(catalogue, tmp_path / "idx", Config())
    assert sorted(second.unchanged) == ["mdn_flower.mp4", "zwm_caminandes.mp4"]
    assert second.media_seconds == 0
    # touched but identical content: hashed, not decoded
    (catalogue / "mdn_flower.mp4").touch()
    import os
    os.utime(catalogue / "mdn_flower.mp4", ns=(1, 1))
    third = index_catalogue(catalogue, tmp_path / "idx", Config())
    assert len(third.unchanged) == 2


def test_changed_title_is_replaced(tmp_path):
    from fp.config import Config
    from fp.index import IndexStore, index_catalogue

    catalogue = tmp_path / "cat"
    catalogue.mkdir()
    shutil.copy(VIDEO / "zwm_caminandes.mp4", catalogue / "film.mp4")
    index_catalogue(catalogue, tmp_path / "idx", Config())
    shutil.copy(VIDEO / "mdn_flower.mp4", catalogue / "film.mp4")
    summary = index_catalogue(catalogue, tmp_path / "idx", Config())
    assert summary.replaced == ["film.mp4"]
    with IndexStore.open(tmp_path / "idx") as store:
        assert store.title("film.mp4").duration == pytest.approx(5.05, abs=0.1)


def test_index_reports_progress_per_title_and_quiet_silences_it(tmp_path):
    catalogue = tmp_path / "cat"
    catalogue.mkdir()
    shutil.copy(VIDEO / "mdn_flower.mp4", catalogue / "flower.mp4")
    loud = fp("index", catalogue, "--index", tmp_path / "idx")
    assert loud.returncode == 0 and "[1/1] flower.mp4: indexed" in loud.stderr
    again = fp("-q", "index", catalogue, "--index", tmp_path / "idx")
    assert again.returncode == 0 and "[1/1]" not in again.stderr + again.stdout
    verbose = fp("-v", "match", tmp_path / "missing.mp4", "--index", tmp_path / "idx")
    assert verbose.returncode == 2 and verbose.stderr.strip() == f"error: {tmp_path / 'missing.mp4'}: no such file"


def test_titles_commit_in_the_background_and_a_failed_commit_is_reported(tmp_path, monkeypatch, fingerprinter):
    import threading

    from fp.config import Config
    from fp.errors import IndexStoreError
    from fp.index import IndexStore, index_catalogue

    catalogue = tmp_path / "cat"
    catalogue.mkdir()
    for name in ("a.mp4", "b.mp4", "c.mp4"):
        shutil.copy(VIDEO / "mdn_flower.mp4", catalogue / name)
    put_title, threads = IndexStore.put_title, set()

    def put(store, title_id, *args, **kwargs):
        threads.add(threading.current_thread().name)
        if title_id == "b.mp4":
            raise IndexStoreError("disk full")
        return put_title(store, title_id, *args, **kwargs)

    monkeypatch.setattr(IndexStore, "put_title", put)
    summary = index_catalogue(catalogue, tmp_path / "idx", Config(), fingerprinter=fingerprinter)
    assert summary.added == ["a.mp4", "c.mp4"] and summary.failed == [("b.mp4", "disk full")]
    assert all(name.startswith("fp-commit") for name in threads)  # never on the fingerprinting thread
    with IndexStore.open(tmp_path / "idx") as store:
        assert [t.title_id for t in store.titles()] == ["a.mp4", "c.mp4"]


def test_a_folder_of_suspects_includes_sound_files(index_dir, tmp_path):
    """`fp match FOLDER` takes the sound files in it too: a soundtrack ripped alone is matched on
    its sound; unrelated speech is no match."""
    uploads = tmp_path / "uploads"
    uploads.mkdir()
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-ss", "3", "-t", "15", "-i",
                    str(VIDEO / "psd_tv_documentary.mp4"), "-vn", "-b:a", "64k", str(uploads / "rip.mp3")], check=True)
    (uploads / "notes.txt").write_text("not media\n")
    result = fp("match", uploads, "--index", index_dir, "--format", "json", "--no-history")
    assert result.returncode == 0, result.stderr
    [line] = [json.loads(line) for line in result.stdout.splitlines()]
    assert line["query"]["path"] == str(uploads / "rip.mp3")
    m = line["matches"][0]
    assert m["title_id"] == "psd_tv_documentary.mp4" and m["modalities"]["visual"] is None
    assert m["modalities"]["audio"] > 0.5 and abs(m["ref_start"] - 3.0) <= 1.0


def test_info_names_the_settings_an_index_binds_and_those_it_was_built_with(index_dir, tmp_path):
    """An index built before the reframe track and with another match threshold: queries take
    its fingerprint settings (the reframe track off), matches this release's thresholds."""
    import duckdb

    copy = tmp_path / "index"
    shutil.copytree(index_dir, copy)
    con = duckdb.connect(str(copy / "fp.duckdb"))
    recorded = json.loads(con.execute("SELECT value FROM meta WHERE key = 'config'").fetchone()[0])
    del recorded["reframe_track"]
    recorded["match_threshold"] = 0.6
    con.execute("UPDATE meta SET value = ? WHERE key = 'config'", [json.dumps(recorded)])
    con.close()
    lines = {line[:12].strip(): line[12:] for line in fp("info", "--index", copy).stdout.splitlines()}
    assert lines["fingerprint"].endswith("reframe_track=False (queries and updates take these)")
    assert lines["index"].startswith("exact_index_max_vectors=")
    assert lines["match"] == "this release's, per query (fp match --set NAME=VALUE); at build: match_threshold=0.6"
    # the thresholds fp match applies at this index's size, by segment length
    with IndexStore.open(copy) as store:
        decisions = DecisionParams.from_config(Config(), store.counts()["hours"])
    rule, _, rest = lines["thresholds"].partition(" on; ")
    listed = [step.split(" from ") for step in rule.split(", ")]
    assert listed[0][1] == "4 s" and rest.startswith("shorter than 4 s, candidates")
    assert [float(t) for t, _ in listed] == [round(decisions.threshold(float(d[:-2])), 3) for _, d in listed]
    assert float(listed[-1][0]) == Config().match_threshold < float(listed[0][0])
