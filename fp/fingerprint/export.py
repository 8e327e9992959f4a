"""Export the encoders to ONNX and quantise the picture encoder to int8 (see `runtime`).

    python -m fp.fingerprint.export [--encoder efficientnet_lite0] [--media ../shared/media/video]

Writes the shipped exports into `fp/fingerprint/weights/`: `<encoder>.int8.onnx` and
`fp-audio-v1.onnx`, each with a JSON beside it (checksums, versions, calibration footage and the
measured distance to float32). The float32 picture export, which the int8 one is quantised from,
is built into the cache as on first use.

Quantisation is static (QDQ, every operator ONNX Runtime quantises): weights int8 per output
channel, activations uint8 per tensor with MinMax ranges calibrated on `CALIBRATION_VIDEOS`; the
layers named in `FLOAT_LAYERS` and the input's scaling stay float32.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import warnings
from pathlib import Path

import numpy as np
import torch

from fp.config import Config
from fp.data import iter_frames, probe
from fp.errors import FPError
from fp.fingerprint import runtime
from fp.fingerprint.audio import load_audio_model
from fp.fingerprint.encoders import EfficientNetLiteEncoder, EmbeddingNet, load_visual_encoder
from fp.fingerprint.trained import file_digest

OPSET = 17
MEDIA = Path(__file__).resolve().parents[3] / "shared" / "media" / "video"
"""Allowed footage (this project's ../shared/media)."""
CALIBRATION_VIDEOS = (
    "moviepy_airshow.mp4", "mmaction2_demo_armwrestling.mp4", "mmaction2_test_makeup.avi",
    "mmaction2_basketball.mp4", "decord_flipping_a_pancake.mkv", "mdn_friday_hisgirlfriday.mp4",
    "videollama_ironman.mp4", "videollama_skateboarding_dog.mp4", "videollama_silence_girl.mp4",
    "videollava_demo1_baby.mp4", "videollava_demo3_toddler.mp4", "videollava_demo9_peppers.mp4",
)
"""Calibration footage (2 min, 234 frames at 2/s): real scenes of every kind, none of them in the
accuracy benchmark (catalogue, queries, negatives) or the tests' catalogue. The distance to
float32 is measured on every other video of the folder."""
CALIBRATION_BATCH = 16
FLOAT_LAYERS = ("/conv_stem/", "/blocks.0/", "/blocks.1/blocks.1.0/")
"""Convolutions kept in float32 (their node name holds one of these): the stem and the first two
blocks, at 112 px, where per-tensor int8 activations lose most. Measured on 920 held-out frames
(cosine distance to float32, median / p99 / max; frames per CPU-second, batch 32, one thread):
every layer in int8 0.024 / 0.10 / 0.25, 168/s; these three float 0.0054 / 0.015 / 0.032,
162/s; the whole first two stages float 0.0054 / 0.014 / 0.025, 149/s; float32 90/s.
Quantising only the convolutions (activations requantised around every ReLU6 and sum) was both
slower and worse: 0.17 median."""


def _export(module: torch.nn.Module, example: torch.Tensor, path: Path, input_name: str,
            sources: tuple[Path, ...], **extra) -> None:
    """`module` to ONNX at `path` (batch size free), with its JSON; both replaced atomically."""
    with tempfile.TemporaryDirectory(dir=path.parent) as tmp:
        model = Path(tmp) / path.name
        with warnings.catch_warnings(), torch.inference_mode(False), torch.no_grad():
            warnings.simplefilter("ignore")  # the TorchScript exporter's deprecation notices
            torch.onnx.export(module.eval(), (example,), str(model), dynamo=False, opset_version=OPSET,
                              input_names=[input_name], output_names=["embeddings"],
                              dynamic_axes={input_name: {0: "n"}, "embeddings": {0: "n"}})
        _publish(model, path, sources, exported_with={"torch": torch.__version__, "opset": OPSET}, **extra)


def _publish(model: Path, path: Path, sources: tuple[Path, ...], **extra) -> None:
    """Move `model` to `path` and write its JSON (checksums first, then `extra`)."""
    manifest = {"sha256": file_digest([model]), "source_sha256": file_digest(sources),
                "sources": [p.name for p in sources], **extra}
    note = model.with_name(path.name + ".json")
    note.write_text(json.dumps(manifest, indent=1) + "\n")
    os.replace(model, path)
    os.replace(note, path.with_name(note.name))


def export_visual(name: str, path: Path) -> None:
    """The float32 picture encoder `name`, frames to embeddings, as ONNX at `path`."""
    encoder = load_visual_encoder(name, "cpu")
    example = torch.zeros(2, encoder.input_size, encoder.input_size, 3, dtype=torch.uint8)
    _export(EmbeddingNet(encoder), example, path, "frames", runtime.visual_export(name, int8=False).sources)


class _AudioEmbed(torch.nn.Module):
    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, spec: torch.Tensor) -> torch.Tensor:
        return self.model.embed(spec)


def export_audio(name: str, path: Path) -> None:
    """The audio encoder `name` (log-mel to embeddings; the front end stays in torch) at `path`."""
    model, cfg = load_audio_model(name)
    with torch.no_grad():
        example = model.frontend(torch.zeros(2, int(cfg.window * 16000)))
    _export(_AudioEmbed(model), example, path, "logmel", runtime.audio_export(name).sources)


def video_frames(paths: list[Path]) -> np.ndarray:
    """Frames of `paths` as fp samples them (rate and size of the default configuration)."""
    cfg = Config()
    return np.concatenate([batch for path in paths for batch in iter_frames(probe(path), cfg.frame_rate, cfg.frame_size)])


def float_nodes(model_path: Path, patterns: tuple[str, ...] = FLOAT_LAYERS) -> list[str]:
    """The nodes left in float32: convolutions named by `patterns`, and the input's scaling
    (every node before the first convolution: uint8 pixels need no requantising)."""
    import onnx

    nodes = list(onnx.load(str(model_path)).graph.node)
    first = next(i for i, n in enumerate(nodes) if n.op_type == "Conv")
    return [n.name for i, n in enumerate(nodes)
            if i < first or (n.op_type == "Conv" and any(p in n.name for p in patterns))]


def quantise_visual(float_path: Path, path: Path, frames: np.ndarray, sources: tuple[Path, ...],
                    float_layers: tuple[str, ...] = FLOAT_LAYERS, **extra) -> None:
    """Static int8 quantisation of the float32 export at `float_path`, calibrated on `frames`."""
    from onnxruntime.quantization import (CalibrationDataReader, CalibrationMethod, QuantFormat, QuantType,
                                          quantize_static)
    from onnxruntime.quantization.shape_inference import quant_pre_process

    class Frames(CalibrationDataReader):
        def __init__(self):
            self.batches = iter(frames[i:i + CALIBRATION_BATCH]
                                for i in range(0, len(frames) - CALIBRATION_BATCH + 1, CALIBRATION_BATCH))

        def get_next(self):
            batch = next(self.batches, None)
            return None if batch is None else {"frames": batch}

    with tempfile.TemporaryDirectory(dir=path.parent) as tmp:
        prepared, model = Path(tmp) / "prepared.onnx", Path(tmp) / path.name
        quant_pre_process(str(float_path), str(prepared), skip_symbolic_shape=True)
        quantize_static(str(prepared), str(model), Frames(), quant_format=QuantFormat.QDQ, per_channel=True,
                        activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
                        calibrate_method=CalibrationMethod.MinMax,
                        nodes_to_exclude=float_nodes(prepared, float_layers))
        _publish(model, path, sources, **extra)


def cosine_distances(a: runtime.OnnxVisualEncoder, b, frames: np.ndarray) -> np.ndarray:
    """Per-frame cosine distance between two encoders' embeddings of `frames`."""
    out = []
    for i in range(0, len(frames), runtime.ONNX_BATCH):
        batch = frames[i:i + runtime.ONNX_BATCH]
        out.append(1.0 - np.einsum("ij,ij->i", a.encode(batch), b.encode(batch)))
    return np.concatenate(out)


def summary(distances: np.ndarray) -> dict:
    return {"frames": int(len(distances)), "median": round(float(np.median(distances)), 5),
            "p99": round(float(np.quantile(distances, 0.99)), 5), "max": round(float(distances.max()), 5)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--encoder", default=EfficientNetLiteEncoder.name)
    parser.add_argument("--audio", default=Config().audio_encoder)
    parser.add_argument("--media", type=Path, default=MEDIA, help="folder of the calibration footage")
    args = parser.parse_args()
    missing = [name for name in CALIBRATION_VIDEOS if not (args.media / name).is_file()]
    if missing:
        raise SystemExit(f"error: calibration footage missing in {args.media}: {', '.join(missing)}")
    out = runtime.shipped_dir()
    float_export = runtime.visual_export(args.encoder, int8=False)
    int8_export = runtime.visual_export(args.encoder, int8=True)
    if float_export is None or int8_export is None:
        raise SystemExit(f"error: fp has no ONNX export of the {args.encoder} encoder")
    export_audio(args.audio, out / runtime.audio_export(args.audio).file)
    float_path = runtime.locate(float_export, lambda target: export_visual(args.encoder, target))
    calibration = video_frames([args.media / name for name in CALIBRATION_VIDEOS])
    held_out = sorted(p for p in args.media.iterdir() if p.is_file() and p.name not in CALIBRATION_VIDEOS)
    frames = video_frames(held_out)
    float32 = runtime.OnnxVisualEncoder(args.encoder, "onnx", float_path)
    torch_encoder = load_visual_encoder(args.encoder, "cpu")
    to_torch = cosine_distances(float32, torch_encoder, frames)
    target = out / int8_export.file
    quantise_visual(float_path, target, calibration, int8_export.sources, quantisation={
        "format": "QDQ, all operators", "weights": "int8, per output channel",
        "activations": "uint8, per tensor, MinMax",
        "float_layers": list(FLOAT_LAYERS), "calibration_videos": list(CALIBRATION_VIDEOS),
        "calibration_frames": int(len(calibration))})
    to_float = cosine_distances(runtime.OnnxVisualEncoder(args.encoder, "onnx-int8", target), float32, frames)
    note = target.with_name(int8_export.manifest_name)
    manifest = json.loads(note.read_text())
    manifest["cosine_distance_to_float32"] = {**summary(to_float), "videos": [p.name for p in held_out]}
    manifest["onnx_float32_to_torch"] = summary(to_torch)
    note.write_text(json.dumps(manifest, indent=1) + "\n")
    if to_float.max() > runtime.INT8_MAX_COSINE_DISTANCE:
        raise SystemExit(f"error: int8 embeddings lie up to {to_float.max():.4f} from float32, more than "
                         f"runtime.INT8_MAX_COSINE_DISTANCE ({runtime.INT8_MAX_COSINE_DISTANCE})")
    print(f"{target.name}: {target.stat().st_size / 1e6:.1f} MB; cosine distance to float32 on "
          f"{len(frames)} held-out frames: median {np.median(to_float):.4f}, max {to_float.max():.4f} "
          f"(float32 ONNX to torch: max {to_torch.max():.2g})")
    print(f"{runtime.audio_export(args.audio).file}: written to {out}")


if __name__ == "__main__":
    try:
        main()
    except FPError as exc:
        raise SystemExit(f"error: {exc}") from None
