"""The anchors' own check, run by `make bench-accuracy` before the benchmark (not by `make test`,
whose environment has no anchors): the vPDQ and MPEG-7 signature anchors on a natural copy pair
(first 10 s of Big Buck Bunny, webm 720p vs mp4 480p) with an unrelated title in the catalogue."""

import subprocess
from pathlib import Path

import pytest

from bench.anchors import SignatureAnchor, VpdqAnchor, available

MEDIA = Path(__file__).resolve().parents[2] / "shared" / "media" / "video"
if not available():  # `make bench-accuracy` installs them before it runs this check
    raise pytest.UsageError("the anchors are not installed: pip install -e '.[anchors]'")


def excerpt(name: str, out: Path) -> Path:
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", str(MEDIA / name), "-t", "10", "-an", "-c:v", "libx264",
                    "-preset", "ultrafast", str(out)], check=True, timeout=120)
    return out


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("anchors")
    catalogue = {"bbb": excerpt("moviepy_big_buck_bunny_0_30.webm", tmp / "bbb.mp4"),
                 "sintel": excerpt("zwm_sintel.mp4", tmp / "sintel.mp4")}
    return catalogue, excerpt("bower_bbb_480p_30s.mp4", tmp / "query.mp4"), tmp / "work"


@pytest.mark.parametrize("anchor", [VpdqAnchor, SignatureAnchor])
def test_anchor_finds_the_copy_and_nothing_else(anchor, clips):
    catalogue, query, work = clips
    predictions = anchor(catalogue, work).match(query, "q")
    assert {p.ref_id for p in predictions if p.decision} == {"bbb"}
    best = max(predictions, key=lambda p: p.score)
    assert best.ref_id == "bbb" and best.query_end - best.query_start >= 7
    assert abs(best.ref_start - best.query_start) < 0.5  # the same timeline
