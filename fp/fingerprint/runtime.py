"""Where the encoders run, chosen at load time: PyTorch (float32 on the CPU, float16 on CUDA) or
ONNX Runtime on the CPU (float32, or the picture encoder in int8).

Every runtime gives the same embeddings within a measured distance (the int8 picture encoder
within `INT8_MAX_COSINE_DISTANCE` of float32 on a CPU with `INT8_CPU_FLAGS`; `auto` uses it on no
other), so an index built with one answers queries made with another: the runtime is no
fingerprint setting. The index records which runtimes built it.

Exported models (`python -m fp.fingerprint.export`), each with a JSON beside it holding its
SHA-256 and the SHA-256 of the weights it was exported from:
* shipped in `weights/`: the picture encoder in int8 (calibrated on frames of real footage, which
  a user's machine may not have) and the audio encoder;
* built on first use into the cache (`$FP_CACHE_DIR`, default `~/.cache/fp-match`): the picture
  encoder in float32 (13 MB), and any export missing from `weights/`.
A missing, corrupt or stale exported model costs one warning line: a float32 one is exported
again into the cache; the int8 one cannot be (it needs the calibration footage) and the picture
encoder falls back to torch.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from fp.errors import FPError
from fp.fingerprint import audio, encoders
from fp.fingerprint.trained import file_digest, is_head, trained_files, weights_dir
from fp.fingerprint.visual_head import HeadEncoder, head_config

RUNTIMES = ("torch", "onnx", "onnx-int8")
"""`torch`: PyTorch eager (float16 on CUDA); `onnx`: ONNX Runtime on the CPU, float32;
`onnx-int8`: ONNX Runtime on the CPU, the picture encoder statically quantised to int8 (the audio
encoder stays float32: it is 0.26 M parameters)."""
AUTO = "auto"
"""torch on CUDA when a GPU is there, else onnx-int8 on a CPU with `INT8_CPU_FLAGS`, onnx on
any other (torch for picture encoders fp does not export: open_clip towers)."""
INT8_CPU_FLAGS = frozenset({"avx512_vnni", "avx_vnni", "amx_int8", "asimddp"})
"""CPU features (`/proc/cpuinfo` flags) with which ONNX Runtime sums uint8 x int8 products without
saturating 16-bit pairs: VNNI and AMX on x86, the dot-product instructions on ARM. Without them
(AVX2 alone, AVX-512 before VNNI) the shipped int8 picture encoder lay up to 0.154 from float32
(median 0.040, on 140 frames of an AMD EPYC with AVX2; 0.032 and 0.006 with VNNI) and ran no
faster than float32 (58 against 60 frames/s), so `auto` takes onnx there. Weights cut to 7 bits
(`reduce_range`) brought it to 0.060 and uint8 weights to 0.020, at 13 frames/s."""
CPUINFO = Path("/proc/cpuinfo")
RUNTIME_ENV = "FP_RUNTIME"
"""Environment variable naming the runtime when the caller does not (the CLI's `--runtime`)."""
CACHE_ENV = "FP_CACHE_DIR"
"""Environment variable overriding the cache folder of exports built on first use."""

INT8_MAX_COSINE_DISTANCE = 0.04
"""int8 picture embeddings lie within this cosine distance of float32 ones, frame by frame, on a
CPU with `INT8_CPU_FLAGS`.
`python -m fp.fingerprint.export` measured, on 1400 frames of 30 videos it was not calibrated on:
median 0.0058, p99 0.017, max 0.032 (`weights/efficientnet_lite0.int8.onnx.json`), against
0.6-0.99 similarity between a copy and its original. The export fails past this bound."""
ONNX_BATCH = 64
"""Frames or audio windows per ONNX Runtime call."""

log = logging.getLogger("fp")


@dataclass(frozen=True)
class Export:
    """One exported model file and the weights it is derived from."""

    file: str
    """File name, in `weights/` when shipped, else in the cache."""
    sources: tuple[Path, ...]
    shipped_only: bool = False
    """True for int8 exports: they need calibration footage, so they are never built on use."""

    @property
    def manifest_name(self) -> str:
        return self.file + ".json"


def int8_cpu() -> bool:
    """Whether this CPU runs ONNX Runtime's int8 kernels without saturation (`INT8_CPU_FLAGS`);
    False where it cannot tell."""
    try:
        lines = CPUINFO.read_text().splitlines()
    except OSError:
        return False
    flags = {flag for line in lines if line.startswith(("flags", "Features")) for flag in line.split(":", 1)[-1].split()}
    return bool(flags & INT8_CPU_FLAGS)


def resolve_runtime(runtime: str | None = None, device: str | None = None,
                    encoder: str = encoders.EfficientNetLiteEncoder.name) -> str:
    """The runtime to use for picture encoder `encoder`: `runtime`, else $FP_RUNTIME, else auto
    (see `AUTO`)."""
    name = runtime or os.environ.get(RUNTIME_ENV) or AUTO
    if name == AUTO:
        exported = encoders.weight_files(encoders.trunk_of(encoder)) is not None
        if not exported or encoders.pick_device(device).type == "cuda":
            return "torch"
        return "onnx-int8" if int8_cpu() else "onnx"
    if name not in RUNTIMES:
        raise FPError(f"unknown runtime {name!r}: use {AUTO}, " + ", ".join(RUNTIMES))
    return name


def cache_dir() -> Path:
    root = os.environ.get(CACHE_ENV) or Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "fp-match"
    return Path(root) / "onnx"


def visual_export(name: str, int8: bool) -> Export | None:
    """The export of picture encoder `name` (None: fp does not export that encoder)."""
    sources = encoders.weight_files(name)
    if sources is None:
        return None
    return Export(f"{name}.{'int8' if int8 else 'fp32'}.onnx", tuple(sources), shipped_only=int8)


def audio_export(name: str) -> Export:
    weights, meta = trained_files(name)
    return Export(f"{weights.stem}.onnx", (weights, meta))


def problem(path: Path, export: Export) -> str | None:
    """Why the exported model at `path` cannot be used (missing, corrupt, stale), or None."""
    manifest = path.with_name(export.manifest_name)
    if not path.is_file() or not manifest.is_file():
        return f"{path} is missing"
    try:
        recorded = json.loads(manifest.read_text())
        digest, source = recorded["sha256"], recorded["source_sha256"]
    except (OSError, ValueError, KeyError, TypeError):
        return f"{manifest} is unreadable"
    if file_digest([path]) != digest:
        return f"{path} is corrupt (checksum mismatch)"
    try:
        if file_digest(export.sources) != source:
            return f"{path} was exported from other weights"
    except OSError as exc:
        return f"the weights {path.name} is exported from cannot be read ({exc.strerror})"
    return None


def shipped_dir() -> Path:
    """Where shipped exports live (the package's `weights/`)."""
    return weights_dir()


def locate(export: Export, build) -> Path:
    """A verified file for `export`: the shipped one, else one in the cache, built there by
    `build(path)` when missing or bad (under a lock file beside it, so that processes starting at
    once build it once). Raises FPError saying why when there is none to be had."""
    shipped = shipped_dir() / export.file
    why = problem(shipped, export)
    if why is None:
        return shipped
    if export.shipped_only:
        raise FPError(f"{why} (rebuild it with `python -m fp.fingerprint.export`)")
    cached = cache_dir() / export.file
    if problem(cached, export) is None:
        return cached
    try:
        cached.parent.mkdir(parents=True, exist_ok=True)
        with open(cached.parent / f"{export.file}.lock", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # fp processes starting at once: one exports, the rest wait
            if problem(cached, export) is None:
                return cached
            if shipped.exists():  # a bad shipped file deserves a word; a float32 export not shipped does not
                log.warning("warning: %s; exporting it again into %s", why, cached.parent)
            build(cached)
    except (OSError, RuntimeError) as exc:
        raise FPError(f"cannot export {export.file} into {cached.parent} "
                      f"({str(exc).splitlines()[0] if str(exc) else type(exc).__name__})") from exc
    return cached


def session(path: Path, threads: int | None = None):
    """An ONNX Runtime CPU session; raises FPError when the file does not load."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads or torch.get_num_threads()
    opts.inter_op_num_threads = 1
    # idle workers sleep instead of spinning: the decoder and the other encoder need the cores
    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    try:
        return ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own exception types for bad files
        raise FPError(f"{path} does not load in ONNX Runtime ({str(exc).splitlines()[0]})") from exc


class OnnxVisualEncoder:
    """A picture encoder through ONNX Runtime; same interface as `encoders.VisualEncoder`. The
    graph takes uint8 RGB frames at its input size (see `encoders.EmbeddingNet`); frames of
    another size are resized first (bilinear, antialiased, rounded back to uint8)."""

    def __init__(self, name: str, runtime: str, path: Path):
        self.name, self.runtime, self.path = name, runtime, path
        self.session = session(path)
        shape = self.session.get_inputs()[0].shape
        self.input_size = int(shape[1])
        self.dim = int(self.session.get_outputs()[0].shape[1])

    def encode(self, frames: np.ndarray) -> np.ndarray:
        """(n, h, w, 3) uint8 RGB frames -> (n, dim) float32, L2-normalised."""
        if len(frames) == 0:
            return np.zeros((0, self.dim), np.float32)
        if frames.shape[1:3] != (self.input_size, self.input_size):
            x = torch.from_numpy(np.ascontiguousarray(frames)).permute(0, 3, 1, 2).float()
            x = F.interpolate(x, size=(self.input_size, self.input_size), mode="bilinear",
                              align_corners=False, antialias=True)
            frames = x.round_().clamp_(0, 255).to(torch.uint8).permute(0, 2, 3, 1).numpy()
        frames = np.ascontiguousarray(frames)
        return np.concatenate([self.session.run(None, {"frames": frames[i:i + ONNX_BATCH]})[0]
                               for i in range(0, len(frames), ONNX_BATCH)])


class OnnxAudioEncoder(audio.AudioEncoder):
    """The audio encoder with its network through ONNX Runtime (the log-mel front end stays in
    torch: it is an STFT, cheap, and exports poorly)."""

    runtime = "onnx"

    def __init__(self, name: str, path: Path):
        super().__init__(name, "cpu")
        self.path = path
        self.session = session(path)

    @torch.inference_mode()
    def encode(self, windows: np.ndarray, batch: int = ONNX_BATCH) -> np.ndarray:
        out = [self.session.run(None, {"logmel": self.model.frontend(torch.from_numpy(
            np.array(windows[i:i + batch], np.float32))).numpy()})[0] for i in range(0, len(windows), batch)]
        return np.concatenate(out) if out else np.zeros((0, self.dim), np.float32)


def load_visual(name: str, runtime: str, device: str | None = None):
    """Picture encoder `name` on `runtime` (see `resolve_runtime`); on torch, after one warning
    line, when its export cannot be had or loaded. A trained head runs after its trunk, on the
    trunk's runtime."""
    if is_head(name):
        return HeadEncoder(name, load_visual(head_config(name).trunk, runtime, device))
    if runtime == "torch":
        return encoders.load_visual_encoder(name, device)
    from fp.fingerprint.export import export_visual

    if runtime == "onnx-int8" and not int8_cpu():
        log.warning("warning: this CPU has no VNNI or dot-product instructions: int8 picture embeddings may lie "
                    "beyond %g of float32 (up to 0.15 measured); --runtime onnx keeps them within 1e-4",
                    INT8_MAX_COSINE_DISTANCE)
    try:
        export = visual_export(name, int8=runtime == "onnx-int8")
        if export is None:
            raise FPError(f"fp has no ONNX export of the {name} encoder")
        return OnnxVisualEncoder(name, runtime, locate(export, lambda target: export_visual(name, target)))
    except FPError as exc:
        log.warning("warning: %s; the picture encoder runs on torch instead of %s", exc, runtime)
    return encoders.load_visual_encoder(name, device)


def load_audio(name: str, runtime: str, device: str | None = None) -> audio.AudioEncoder:
    """Audio encoder `name`: through ONNX Runtime for the onnx runtimes, else torch (after one
    warning line when its export cannot be had or loaded)."""
    if runtime == "torch" or not trained_files(name)[0].is_file():  # torch says what is missing
        return audio.AudioEncoder(name, device)
    from fp.fingerprint.export import export_audio

    try:
        return OnnxAudioEncoder(name, locate(audio_export(name), lambda target: export_audio(name, target)))
    except FPError as exc:
        log.warning("warning: %s; the audio encoder runs on torch instead of %s", exc, runtime)
    return audio.AudioEncoder(name, device)
