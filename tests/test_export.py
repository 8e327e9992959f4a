"""Encoder runtimes: ONNX exports against torch, int8 against float32, checksums and fallbacks,
the CLI's --runtime and `fp info`, and indexes answering queries made on another runtime."""

import fcntl
import json
import logging
import shutil
import subprocess
import sys
import threading

import numpy as np
import pytest

from conftest import VIDEO
from fp.config import Config
from fp.data import iter_frames, probe
from fp.data.decode import decode_audio
from fp.fingerprint import runtime
from fp.fingerprint.audio import SAMPLE_RATE, AudioEncoder
from fp.fingerprint.encoders import VisualEncoder, load_visual_encoder
from fp.fingerprint.extract import Fingerprinter
from fp.fingerprint.trained import file_digest

ENCODER = "efficientnet_lite0"
ONNX_TOLERANCE = 1e-4
"""Largest difference per embedding component between float32 ONNX Runtime and torch."""


def frames_of(name, fps=2.0):
    return np.concatenate(list(iter_frames(probe(VIDEO / name), fps, 224)))


@pytest.fixture(scope="module")
def reference_frames():
    """Real frames the int8 encoder was not calibrated on: a dark animation, a bright documentary
    and a text-heavy promo, and their mirror images."""
    frames = np.concatenate([frames_of(name, 1.0)[:8] for name in
                             ("zwm_sintel.mp4", "psd_tv_documentary.mp4", "mejs_echo-hereweare.webm")])
    return np.concatenate([frames, frames[:, :, ::-1]])


@pytest.fixture(scope="module")
def torch_encoder():
    return load_visual_encoder(ENCODER, "cpu")


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv(runtime.CACHE_ENV, str(tmp_path / "cache"))
    return tmp_path / "cache" / "onnx"


def warnings_in(caplog):
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]


def test_shipped_exports_match_their_checksums_and_weights():
    for export in (runtime.visual_export(ENCODER, int8=True), runtime.audio_export(Config().audio_encoder)):
        assert runtime.problem(runtime.shipped_dir() / export.file, export) is None


def test_float_export_is_built_offline_and_matches_torch(cache, reference_frames, torch_encoder):
    encoder = runtime.load_visual(ENCODER, "onnx")
    assert isinstance(encoder, runtime.OnnxVisualEncoder) and encoder.path.parent == cache
    got, want = encoder.encode(reference_frames), torch_encoder.encode(reference_frames)
    assert got.shape == want.shape == (len(reference_frames), 1280)
    assert np.abs(got - want).max() < ONNX_TOLERANCE
    # built once: a second load finds it in the cache, checksum verified
    assert runtime.problem(encoder.path, runtime.visual_export(ENCODER, int8=False)) is None


def test_audio_export_matches_torch_on_real_sound():
    pcm = decode_audio(probe(VIDEO / "intel_car-detection.mp4"), SAMPLE_RATE)[: 10 * SAMPLE_RATE]
    onnx, torch_audio = runtime.load_audio(Config().audio_encoder, "onnx"), AudioEncoder()
    assert isinstance(onnx, runtime.OnnxAudioEncoder)
    windows = onnx.windows(pcm, 0.5)
    assert np.abs(onnx.encode(windows) - torch_audio.encode(windows)).max() < ONNX_TOLERANCE


@pytest.mark.skipif(not runtime.int8_cpu(), reason="the stated distance holds on CPUs with VNNI or dot-product "
                    "instructions; on others `auto` takes float32 (test_int8_needs_a_cpu_that_does_not_saturate)")
def test_int8_embeddings_lie_within_the_stated_distance_of_float32(reference_frames, torch_encoder):
    int8 = runtime.load_visual(ENCODER, "onnx-int8")
    assert isinstance(int8, runtime.OnnxVisualEncoder) and int8.runtime == "onnx-int8"
    distance = 1 - np.einsum("ij,ij->i", int8.encode(reference_frames), torch_encoder.encode(reference_frames))
    assert distance.max() <= runtime.INT8_MAX_COSINE_DISTANCE
    # the bound is no formality: an unrelated scene lies far beyond it
    shifted = np.roll(torch_encoder.encode(reference_frames), 8, axis=0)
    assert np.median(1 - np.einsum("ij,ij->i", int8.encode(reference_frames), shifted)) > 10 * runtime.INT8_MAX_COSINE_DISTANCE


def fake_cpu(monkeypatch, tmp_path, flags):
    """/proc/cpuinfo of a CPU with `flags` (x86 lines)."""
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text(f"processor\t: 0\nflags\t\t: fpu sse2 avx avx2 {flags}\n\nprocessor\t: 1\n")
    monkeypatch.setattr(runtime, "CPUINFO", cpuinfo)


def test_int8_needs_a_cpu_that_does_not_saturate(tmp_path, monkeypatch, caplog):
    """`auto` takes int8 only where the CPU sums int8 products without saturating (VNNI); elsewhere
    float32 ONNX, and int8 asked for by name runs after one warning line."""
    monkeypatch.delenv(runtime.RUNTIME_ENV, raising=False)
    fake_cpu(monkeypatch, tmp_path, "avx512f avx512_vnni")
    assert runtime.int8_cpu() and runtime.resolve_runtime(None, "cpu") == "onnx-int8"
    fake_cpu(monkeypatch, tmp_path, "avx512f")
    assert not runtime.int8_cpu() and runtime.resolve_runtime(None, "cpu") == "onnx"
    with caplog.at_level(logging.WARNING, logger="fp"):
        encoder = runtime.load_visual(ENCODER, "onnx-int8")
    assert encoder.runtime == "onnx-int8"
    [line] = warnings_in(caplog)
    assert "no VNNI" in line and "--runtime onnx" in line
    monkeypatch.setattr(runtime, "CPUINFO", tmp_path / "absent")
    assert not runtime.int8_cpu()


@pytest.mark.parametrize("damage", ["missing", "corrupt", "unloadable"])
def test_a_bad_int8_export_costs_one_line_and_falls_back_to_torch(tmp_path, monkeypatch, caplog, damage):
    fake_cpu(monkeypatch, tmp_path, "avx512_vnni")
    export = runtime.visual_export(ENCODER, int8=True)
    shipped = tmp_path / "weights"
    shutil.copytree(runtime.shipped_dir(), shipped)
    model = shipped / export.file
    if damage == "missing":
        model.unlink()
    elif damage == "corrupt":
        data = bytearray(model.read_bytes())
        data[len(data) // 2] ^= 0xFF
        model.write_bytes(bytes(data))
    else:  # right checksum, not a model
        model.write_bytes(b"not an onnx model")
        note = shipped / export.manifest_name
        note.write_text(json.dumps({**json.loads(note.read_text()), "sha256": file_digest([model])}))
    monkeypatch.setattr(runtime, "shipped_dir", lambda: shipped)
    with caplog.at_level(logging.WARNING, logger="fp"):
        encoder = runtime.load_visual(ENCODER, "onnx-int8")
    assert isinstance(encoder, VisualEncoder) and encoder.runtime == "torch"
    [line] = warnings_in(caplog)
    assert {"missing": "is missing", "corrupt": "checksum mismatch", "unloadable": "does not load"}[damage] in line
    assert "runs on torch" in line and "\n" not in line


def test_a_corrupt_float_export_is_exported_again(tmp_path, monkeypatch, cache, caplog):
    export = runtime.audio_export(Config().audio_encoder)
    shipped = tmp_path / "weights"
    shutil.copytree(runtime.shipped_dir(), shipped)
    (shipped / export.file).write_bytes(b"\0" * 100)
    monkeypatch.setattr(runtime, "shipped_dir", lambda: shipped)
    with caplog.at_level(logging.WARNING, logger="fp"):
        encoder = runtime.load_audio(Config().audio_encoder, "onnx")
    assert isinstance(encoder, runtime.OnnxAudioEncoder) and encoder.path == cache / export.file
    [line] = warnings_in(caplog)
    assert "checksum mismatch" in line and "exporting it again" in line


def test_runtime_names_resolve(monkeypatch, tmp_path):
    monkeypatch.delenv(runtime.RUNTIME_ENV, raising=False)
    fake_cpu(monkeypatch, tmp_path, "avx512_vnni")
    assert runtime.resolve_runtime(None, "cpu") == "onnx-int8"
    assert runtime.resolve_runtime(None, "cuda") == "torch"
    monkeypatch.setenv(runtime.RUNTIME_ENV, "onnx")
    assert runtime.resolve_runtime(None, "cpu") == "onnx" and runtime.resolve_runtime("torch") == "torch"
    with pytest.raises(Exception, match="unknown runtime 'tensorrt'"):
        runtime.resolve_runtime("tensorrt")


def fp(*args):
    return subprocess.run([sys.executable, "-m", "fp", *map(str, args)], capture_output=True, text=True, timeout=600)


def test_cli_picks_the_runtime_and_fp_info_records_it(tmp_path):
    catalogue, index = tmp_path / "catalogue", tmp_path / "index"
    catalogue.mkdir()
    shutil.copy(VIDEO / "mdn_flower.mp4", catalogue / "flower.mp4")
    assert fp("index", catalogue, "--index", index, "--runtime", "onnx-int8").returncode == 0
    assert "runtimes    onnx-int8\n" in fp("info", "--index", index).stdout
    shutil.copy(VIDEO / "zwm_caminandes.mp4", catalogue / "caminandes.mp4")
    assert fp("index", catalogue, "--index", index, "--runtime", "torch").returncode == 0
    assert "runtimes    onnx-int8, torch\n" in fp("info", "--index", index).stdout
    done = fp("match", VIDEO / "zwm_caminandes.mp4", "--index", index, "--runtime", "onnx", "--format", "json")
    assert done.returncode == 0 and json.loads(done.stdout)["matches"][0]["title_id"] == "caminandes.mp4"
    bad = fp("index", catalogue, "--index", index, "--runtime", "tensorrt")
    assert bad.returncode == 2 and bad.stderr.strip().splitlines() == [
        "error: unknown runtime 'tensorrt': use auto, torch, onnx, onnx-int8"]


def test_an_index_built_on_torch_answers_int8_queries(tmp_path):
    from fp.index import index_catalogue
    from fp.matcher import Matcher

    catalogue = tmp_path / "catalogue"
    catalogue.mkdir()
    for name in ("moviepy_big_buck_bunny_0_30.webm", "zwm_sintel.mp4"):
        shutil.copy(VIDEO / name, catalogue / name)
    index_catalogue(catalogue, tmp_path / "index", Config(), fingerprinter=Fingerprinter(Config(), runtime="torch"))
    scores = {}
    for name in ("torch", "onnx-int8"):
        with Matcher(tmp_path / "index", fingerprinter=Fingerprinter(Config(), runtime=name)) as matcher:
            best = max(matcher.match(VIDEO / "bower_bbb_480p_30s.mp4").matches, key=lambda m: m.score)
        assert best.title_id == "moviepy_big_buck_bunny_0_30.webm" and best.decision == "match"
        scores[name] = best.score
    assert abs(scores["torch"] - scores["onnx-int8"]) < 0.02


def test_processes_locating_a_missing_export_at_once_build_it_once(cache, tmp_path, monkeypatch):
    """The export is built under a lock: one that finds it missing while another builds it waits,
    then takes the other's file instead of building it again."""
    source = tmp_path / "weights.bin"
    source.write_bytes(b"weights")
    export = runtime.Export("model.onnx", (source,))

    def build(path):
        path.write_bytes(b"model")
        path.with_name(export.manifest_name).write_text(json.dumps(
            {"sha256": file_digest([path]), "source_sha256": file_digest([source])}))

    checked = threading.Event()
    first_check = runtime.problem

    def problem(path, export):
        found = first_check(path, export)
        checked.set()
        return found

    monkeypatch.setattr(runtime, "problem", problem)
    built = []
    cache.mkdir(parents=True)
    with open(cache / f"{export.file}.lock", "a") as lock:  # another process, exporting
        fcntl.flock(lock, fcntl.LOCK_EX)
        waiting = threading.Thread(target=lambda: built.append(runtime.locate(export, lambda p: built.append("again"))))
        waiting.start()
        checked.wait()  # it has found the export missing
        build(cache / export.file)
    waiting.join()
    assert built == [cache / export.file]
