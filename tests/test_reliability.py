"""Crash safety and concurrency: SIGKILL during `fp index`, `fp match` during `fp index`, two writers."""

import os
import random
import shutil
import signal
import subprocess
import sys
import time

import pytest

from conftest import VIDEO
from fp.index import IndexStore
from fp.matcher import Matcher

TITLES = ["mdn_flower.mp4", "zwm_caminandes.mp4", "imageio_cockatoo.mp4", "zwm_sintel.mp4",
          "psd_testvideo.mp4", "intel_car-detection.mp4"]


@pytest.fixture(scope="module")
def catalogue(tmp_path_factory):
    root = tmp_path_factory.mktemp("relcat")
    for name in TITLES:
        shutil.copy(VIDEO / name, root / name)
    return root


def start_index(catalogue, index):
    return subprocess.Popen([sys.executable, "-m", "fp", "index", str(catalogue), "--index", str(index), "-q"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def check_consistent(index):
    """Database rows, tracks and FAISS vectors agree; returns the indexed title ids."""
    with IndexStore.open(index) as store:
        snap = store.snapshot(("visual", "audio"))
        titles = {t.title_id for t in snap.titles}
        assert set(snap.shots.title_ids) == titles
        for title in titles:
            assert "visual" in store.tracks(title)
        for vectors in snap.vectors.values():  # every vector belongs to a committed shot
            assert set(vectors.ids().tolist()) <= set(snap.shots.shot_ids.tolist())
        if titles:
            with_vectors = {snap.shots.title_ids[i] for i in snap.shots.title_index[
                snap.shots.rows(snap.vectors["visual"].ids())]}
            assert with_vectors == titles
    return titles


def test_sigkill_at_random_points_never_corrupts_the_index(catalogue, tmp_path):
    index = tmp_path / "idx"
    rng = random.Random(1)
    seen = set()
    for _ in range(6):
        proc = start_index(catalogue, index)
        time.sleep(rng.uniform(2.0, 9.0))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        if not (index / "fp.duckdb").exists():
            continue
        titles = check_consistent(index)
        assert titles >= seen  # committed titles stay committed
        seen = titles
        if titles:
            with Matcher(index) as matcher:
                first = sorted(titles)[0]
                report = matcher.match(catalogue / first)
                assert report.found and report.matches[0].title_id == first
    done = subprocess.run([sys.executable, "-m", "fp", "index", str(catalogue), "--index", str(index), "-q"],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    assert check_consistent(index) == set(TITLES)
    assert seen, "no kill landed after a commit: the test exercised nothing"


def test_match_during_indexing_sees_the_last_committed_state(catalogue, tmp_path):
    index = tmp_path / "idx"
    proc = start_index(catalogue, index)
    try:
        while not (index / "fp.duckdb").exists() or not IndexStore.open(index).titles():
            assert proc.poll() is None, proc.stderr.read()
            time.sleep(0.2)
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
        assert proc.returncode == 0, proc.stderr.read()
        assert answered >= 1
    finally:
        if proc.poll() is None:
            proc.kill()


def test_a_second_index_run_is_refused_while_one_is_writing(catalogue, tmp_path):
    index = tmp_path / "idx"
    proc = start_index(catalogue, index)
    try:
        while not (index / "write.lock").exists():
            time.sleep(0.1)
        time.sleep(0.5)
        second = subprocess.run([sys.executable, "-m", "fp", "index", str(catalogue), "--index", str(index)],
                                capture_output=True, text=True, timeout=120)
        if proc.poll() is None:  # still writing when the second run asked
            assert second.returncode == 2
            assert "another fp process is writing" in second.stderr
            assert len(second.stderr.strip().splitlines()) == 1
    finally:
        proc.kill()
        proc.wait()
