"""Audio embeddings: log-mel windows through a compact CNN trained contrastively by fp itself
(`python -m fp.fingerprint.audio_train`); the weights ship in `weights/`.

One L2-normalised embedding per `window` seconds of audio, every `hop` seconds.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
import torch
import torch.nn.functional as F
import torchaudio
from torch import nn

from fp.errors import FPError
from fp.fingerprint.trained import trained_files

SAMPLE_RATE = 16000
SHIPPED = "fp-audio-v1"


@dataclass(frozen=True)
class AudioNetConfig:
    width: int = 16
    dim: int = 128
    n_mels: int = 64
    window: float = 1.0
    """Seconds of audio per embedding."""


class LogMel(nn.Module):
    """Mono 16 kHz waveform windows (B, samples) -> log-mel (B, n_mels, frames), level-free."""

    def __init__(self, n_mels: int):
        super().__init__()
        self.mel = torchaudio.transforms.MelSpectrogram(
            sample_rate=SAMPLE_RATE, n_fft=512, win_length=400, hop_length=160, f_min=60.0,
            f_max=7600.0, n_mels=n_mels, power=2.0)

    def forward(self, wave: torch.Tensor) -> torch.Tensor:
        spec = torch.log10(self.mel(wave) + 1e-8)
        spec = torch.maximum(spec, spec.amax(dim=(1, 2), keepdim=True) - 8.0)  # 80 dB range
        return spec - spec.mean(dim=(1, 2), keepdim=True)  # volume does not matter


def _block(cin: int, cout: int, stride: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False),
                         nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


class AudioNet(nn.Module):
    """Log-mel front end + five conv blocks + mean pooling + linear projection."""

    def __init__(self, cfg: AudioNetConfig):
        super().__init__()
        w = cfg.width
        self.frontend = LogMel(cfg.n_mels)
        self.body = nn.Sequential(_block(1, w, 2), _block(w, 2 * w, 2), _block(2 * w, 4 * w, 2),
                                  _block(4 * w, 8 * w, 2), _block(8 * w, 8 * w, 1))
        self.head = nn.Linear(8 * w, cfg.dim)

    def forward(self, wave: torch.Tensor) -> torch.Tensor:
        return self.embed(self.frontend(wave))

    def embed(self, spec: torch.Tensor) -> torch.Tensor:
        """Log-mel (B, n_mels, frames) -> L2-normalised embeddings (B, dim): what is exported."""
        x = self.body(spec.unsqueeze(1)).mean(dim=(2, 3))
        return F.normalize(self.head(x), dim=1)


def save_audio_model(model: AudioNet, cfg: AudioNetConfig, path: Path, extra: dict) -> None:
    """Weights as safetensors plus a JSON with the architecture and how they were trained."""
    from safetensors.torch import save_file

    save_file({k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()},
              str(path.with_suffix(".safetensors")))
    path.with_suffix(".json").write_text(json.dumps({"architecture": asdict(cfg), **extra}, indent=1) + "\n")


def load_audio_model(name: str = SHIPPED) -> tuple[AudioNet, AudioNetConfig]:
    """`name` is the shipped model's name or a path to a `.safetensors` file with its `.json`."""
    from safetensors.torch import load_file

    path, meta = trained_files(name)
    if not path.is_file() or not meta.is_file():
        raise FPError(f"audio model {name!r} not found (expected {path} and {meta.name})")
    cfg = AudioNetConfig(**json.loads(meta.read_text())["architecture"])
    model = AudioNet(cfg)
    model.load_state_dict(load_file(str(path)))
    return model.eval(), cfg


class AudioEncoder:
    """Waveform -> (n, dim) embeddings of `window`-second windows every `hop` seconds."""

    runtime = "torch"

    def __init__(self, name: str = SHIPPED, device: str | None = None):
        from fp.fingerprint.encoders import pick_device

        self.name = name
        self.model, self.cfg = load_audio_model(name)
        self.device = pick_device(device)
        self.model.to(self.device)
        self.dim = self.cfg.dim

    def windows(self, pcm: np.ndarray, hop: float) -> np.ndarray:
        """(n, samples) windows starting every `hop` seconds; the tail is zero-padded."""
        return np.concatenate(list(self.stream_windows([pcm], hop)))

    def stream_windows(self, chunks: Iterable[np.ndarray], hop: float) -> Iterator[np.ndarray]:
        """:meth:`windows` of the concatenated `chunks`, as they come: after each chunk, the
        windows it completes (and at the end the zero-padded tail), so that only about a chunk of
        sound is held at a time."""
        size, step = int(self.cfg.window * SAMPLE_RATE), int(round(hop * SAMPLE_RATE))
        held, received, done = np.zeros(0, np.float32), 0, 0  # held starts at window `done`
        for chunk in chunks:
            received += len(chunk)
            held = np.concatenate([held, np.asarray(chunk, np.float32)])
            ready = (len(held) - size) // step + 1 if len(held) >= size else 0
            if ready:
                yield sliding_window_view(held[: (ready - 1) * step + size], size)[::step].copy()
                held, done = held[ready * step:], done + ready
        left = max(1, -(-received // step)) - done
        if left > 0:
            padded = np.zeros((left - 1) * step + size, np.float32)
            padded[: len(held)] = held[: len(padded)]
            yield sliding_window_view(padded, size)[::step][:left]

    @torch.inference_mode()
    def encode(self, windows: np.ndarray, batch: int = 256) -> np.ndarray:
        out = [self.model(torch.from_numpy(np.array(windows[i:i + batch], np.float32)).to(self.device))
               for i in range(0, len(windows), batch)]
        return torch.cat(out).float().cpu().numpy() if out else np.zeros((0, self.dim), np.float32)


def loudness_db(windows: np.ndarray) -> np.ndarray:
    """RMS level of each window in dBFS."""
    return 10 * np.log10(np.mean(windows.astype(np.float64) ** 2, axis=1) + 1e-12)
