"""Crash safety and concurrency: SIGKILL during `fp index`, `fp match` during `fp index`, two writers."""

import shutil
import signal
import subprocess
import sys

import pytest

from conftest import VIDEO
from fp.config import Config
from fp.index import IndexStore
from fp.matcher import Matcher

TITLES = ["mdn_flower.mp4", "zwm_caminandes.mp4", "imageio_cockatoo.mp4", "zwm_sintel.mp4"]


@pytest.fixture(scope="module")
def catalogue(tmp_path_factory):
    root = tmp_path_factory.mktemp("relcat")
    for name in TITLES:
        shutil.copy(VIDEO / name, root / name)
    return root


def start_index(catalogue, index, *flags):
    return subprocess.Popen([sys.executable, "-m", "fp", *flags, "index", str(catalogue), "--index", str(index)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def check_consistent(index):
    """Database rows, tracks and FAISS vectors agree; returns the indexed title ids."""
    with IndexStore.open(index) as store:
        snap = store.snapshot(("visual", "audio"))
        titles = {t.title_id for t in snap.titles}
        assert set(snap.shots.title_ids) == titles
        for title in titles:
            assert "visual" in store.tracks(title)
        for record in snap.tracks.values():  # every committed track has its whole file
            assert len(store.track_codes(record)) == record.n
        for vectors in snap.vectors.values():  # every vector belongs to a committed shot
            assert set(vectors.ids().tolist()) <= set(snap.shots.shot_ids.tolist())
        if titles:
            with_vectors = {snap.shots.title_ids[i] for i in snap.shots.title_index[
                snap.shots.rows(snap.vectors["visual"].ids())]}
            assert with_vectors == titles
    return titles


EVENTS = {"title": ": title", "progress": ": progress ", "done": ": indexed", "saving": "saving"}
"""What `fp -v index` prints on stderr at each kill point: a title starts (the first one of a run
while the models load), a batch of frames is encoded (mid-decode), a title is committed to DuckDB
(before the FAISS files are written), the FAISS files are being written."""
KILL_PLAN = [kind for _ in TITLES[:2] for kind in ("title", "progress", "done")] + ["done"] * (len(TITLES) - 2) \
    + ["saving"] * 2
"""Every kind of kill point with no title committed and with one; the later titles are killed only
once committed (each run costs a process start and the models' loading)."""

QUICK_QUERY = Config(query_phases=1, query_mirrored=False)
"""Whole titles matched as they are need neither later phases nor the mirror image."""


def kill_at(catalogue, index, kind):
    """Run `fp -v index` and SIGKILL it as soon as it reports the event `kind`."""
    proc = start_index(catalogue, index, "-v")
    for line in proc.stderr:
        if EVENTS[kind] in line:
            proc.send_signal(signal.SIGKILL)
            break
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, f"never saw a {kind!r} event: {proc.stderr.read()}"


def test_sigkill_at_progress_events_never_corrupts_the_index(catalogue, tmp_path, matcher):
    index = tmp_path / "idx"
    seen: set[str] = set()
    for kind in KILL_PLAN:
        kill_at(catalogue, index, kind)
        if not (index / "fp.duckdb").exists():
            continue
        titles = check_consistent(index)
        assert titles >= seen  # committed titles stay committed
        if kind == "done":  # a title was just committed: it answers queries at once
            assert len(titles) == len(seen) + 1
            with Matcher(index, QUICK_QUERY, fingerprinter=matcher.fingerprinter) as fresh:
                (new,) = titles - seen
                report = fresh.match(catalogue / new)
                assert report.found and report.matches[0].title_id == new
        seen = titles
    assert seen == set(TITLES)
    done = subprocess.run([sys.executable, "-m", "fp", "index", str(catalogue), "--index", str(index), "-q"],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    assert check_consistent(index) == set(TITLES)


def wait_for(proc, kind):
    """Read `fp -v index` progress until the event `kind`."""
    for line in proc.stderr:
        if EVENTS[kind] in line:
            return
    raise AssertionError(f"indexing ended without a {kind!r} event")


def test_match_during_indexing_sees_the_last_committed_state(catalogue, tmp_path):
    index = tmp_path / "idx"
    proc = start_index(catalogue, index, "-v")
    try:
        wait_for(proc, "done")
        answered = 0
        while proc.poll() is None:
            with Matcher(index) as matcher:
                report = matcher.match(catalogue / TITLES[2])  # imageio_cockatoo: third in order
                titles = set(matcher.durations)
            if TITLES[2] in titles:
                assert report.found and report.matches[0].title_id == TITLES[2]
            else:
                assert not report.found
            answered += 1
        assert proc.wait() == 0, proc.stderr.read()
        assert answered >= 1
    finally:
        if proc.poll() is None:
            proc.kill()


def test_a_second_index_run_is_refused_while_one_is_writing(catalogue, tmp_path):
    index = tmp_path / "idx"
    proc = start_index(catalogue, index, "-v")
    try:
        wait_for(proc, "title")  # the writer holds the index...
        proc.send_signal(signal.SIGSTOP)  # ...and keeps holding it while the second run asks
        second = subprocess.run([sys.executable, "-m", "fp", "index", str(catalogue), "--index", str(index)],
                                capture_output=True, text=True, timeout=120)
        assert second.returncode == 2
        assert "another fp process is writing" in second.stderr
        assert len(second.stderr.strip().splitlines()) == 1
    finally:
        proc.kill()
        proc.wait()
