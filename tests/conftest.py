"""Shared fixtures: real media from ../shared/media, one indexed catalogue per session."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from fp.config import Config
from fp.fingerprint.extract import Fingerprinter

ROOT = Path(__file__).resolve().parents[1]
MEDIA = ROOT.parent / "shared" / "media"
VIDEO = MEDIA / "video"
AUDIO = MEDIA / "audio"
DATA = Path(__file__).resolve().parent / "data"

# The test catalogue: one twin of each natural copy pair plus varied real footage.
CATALOGUE = [
    "moviepy_big_buck_bunny_0_30.webm",
    "psd_goldeneye_vfr_drop3.mp4",
    "dvrscan_traffic_camera.mp4",
    "psd_tv_documentary.mp4",
    "psd_testvideo.mp4",
    "intel_car-detection.mp4",
    "videohash_nasa_rocket.mkv",
    "mejs_echo-hereweare.webm",
    "zwm_sintel.mp4",
    "zwm_caminandes.mp4",
    "imageio_cockatoo.mp4",
]
# Footage that is not in the catalogue.
OUTSIDE = ["askany_yoga.mp4", "videollama_boat.mp4", "mdn_flower.mp4", "facerec_hamilton_clip.mp4",
           "zwm_tears_of_steel.mp4", "moviepy_chaplin.mp4"]


def pytest_configure(config):
    if not VIDEO.is_dir():
        raise pytest.UsageError(f"the tests read real media from {MEDIA}; it is missing")


@pytest.fixture(scope="session")
def fingerprinter() -> Fingerprinter:
    return Fingerprinter(Config())


@pytest.fixture(scope="session")
def catalogue_dir(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("catalogue")
    for name in CATALOGUE:
        shutil.copy(VIDEO / name, root / name)
    # the documentary's subtitles, as a sidecar file
    shutil.copy(DATA / "documentary.srt", root / "psd_tv_documentary.srt")
    return root


@pytest.fixture(scope="session")
def index_dir(tmp_path_factory, catalogue_dir, fingerprinter) -> Path:
    from fp.index import index_catalogue

    index = tmp_path_factory.mktemp("index") / "idx"
    summary = index_catalogue(catalogue_dir, index, Config(), fingerprinter=fingerprinter)
    assert not summary.failed, summary.failed
    return index


@pytest.fixture(scope="session")
def matcher(index_dir, fingerprinter):
    from fp.matcher import Matcher

    with Matcher(index_dir, fingerprinter=fingerprinter) as m:
        yield m
