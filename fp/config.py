"""The one configuration object: encoder names, sampling rate, shot and matching thresholds.

The index records the configuration it was built with; the *fingerprint* fields (those that
change what a vector means) must agree between the index and every query or update.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, fields

from fp.errors import ConfigMismatchError

FINGERPRINT_FIELDS = (
    "visual_encoder",
    "audio_encoder",
    "text_encoder",
    "silence_db",
    "frame_rate",
    "frame_size",
    "min_shot_seconds",
    "max_shot_seconds",
    "shot_cut_distance",
    "blank_std",
    "plain_share",
)


@dataclass(frozen=True)
class Config:
    # --- fingerprinting (recorded in the index; queries must agree) ---
    visual_encoder: str = "efficientnet_lite0"
    """`efficientnet_lite0` (offline default) or `clip:ARCH:PRETRAINED` (open_clip; ARCH may be a
    model-config JSON path, PRETRAINED a hub tag or a local checkpoint path)."""
    audio_encoder: str = "fp-audio-v1"
    """fp's own contrastively trained audio encoder (shipped), a `.safetensors` path, or "" (off)."""
    text_encoder: str = "shingles"
    """Subtitle cues: `shingles` (hashed character 3-grams: measured best by bench/subtitles.py),
    `minilm`, `clip` (the CLIP visual encoder's text tower), `auto` (clip with a CLIP visual
    encoder, else minilm), or "" (off)."""
    frame_rate: float = 2.0
    """Samples per second of every track (frames; audio windows hop by the same step)."""
    silence_db: float = -50.0
    """Audio windows quieter than this (dBFS) carry no evidence."""
    frame_size: int = 224
    """Frames are decoded square at this size, then resized to the encoder's input size."""
    min_shot_seconds: float = 1.0
    max_shot_seconds: float = 6.0
    """Longer shots are split so that every few seconds carry a searchable fingerprint."""
    shot_cut_distance: float = 0.5
    """Cosine distance between consecutive samples above which a cut is declared."""
    blank_std: float = 6.0
    """Frames whose grey-level standard deviation is below this are blank (black, white, flat)."""
    plain_share: float = 0.85
    """Frames (bars trimmed) lying this much on one dark or bright background are blank too: text
    cards and logos on black look alike across videos (bench/accuracy.py: such cards in two
    unrelated promos aligned at 0.58, above real copies under heavy edits)."""

    # --- index structure (the FAISS files are derived from the stored vectors: free to change) ---
    exact_index_max_vectors: int = 1_000_000
    """Exact (Flat) search up to this many shot vectors per modality, a compressed index past it
    (bench/scale.py: 1M exact 1280-d vectors take 4.8 GiB and, on 2 CPU cores, 4.8 s per minute
    of suspect, as long as the rest of its matching; compressed: 1.2 GiB, 0.65 s)."""
    compressed_index: str = "IVF{nlist}(PCA64,Flat),SQ8"
    """`faiss.index_factory` string of the compressed index; `{nlist}` becomes the power of two
    nearest sqrt(vectors). Chosen by bench/scale.py: inverted lists of 8-bit scalar-quantised
    vectors (scores within 0.001 of exact, recall@24 0.98), assigned to lists in a 64-d PCA
    projection (as good as full-size centroids and far cheaper to fill); PQ and PCA-reduced
    codes lost recall (0.57-0.77), HNSW cannot remove titles."""
    probe_fraction: float = 0.125
    """Share of the compressed index's inverted lists searched per query (recall@24 0.98 at
    1/8, 0.95 at 1/16 on bench/scale.py's copies)."""
    training_vectors: int = 100_000
    """Stored vectors sampled to train the compressed index (at least 64 per inverted list)."""
    retrain_growth: float = 4.0
    """The compressed index is retrained (from the stored vectors) once it holds this many times
    the vectors its inverted lists were sized for."""

    # --- matching (free per query) ---
    knn: int = 24
    """Neighbours retrieved per query shot."""
    shot_min_similarity: float = 0.30
    """Shot neighbours below this cosine similarity cast no vote."""
    max_hypotheses: int = 24
    """(title, offset) hypotheses refined per query variant."""
    frame_min_similarity: float = 0.38
    """A sample belongs to a copied segment when its aligned similarity reaches this."""
    gap_seconds: float = 2.0
    """Gaps up to this long inside a copied segment are bridged."""
    min_segment_seconds: float = 2.0
    shared_content_titles: int = 4
    """A stretch of the suspect that aligns with this many titles or more is content the
    catalogue shares (a studio logo, a stock intro): it is reported as `candidate` only."""
    rival_margin: float = 0.05
    """A segment over most of whose stretch another title aligns better by more than this is
    outshone (see `fp.matcher.matcher.outshone`); near-duplicate titles score alike and are kept."""
    min_match_seconds: float = 4.0
    """Shorter segments are at most `candidate`s: a few seconds of look-alike frames is no proof."""
    agreement_bonus: float = 0.05
    """Added to a sample's score for each further modality that agrees at frame level."""
    audio_frame_min_similarity: float = 0.60
    audio_match_threshold: float = 0.72
    """Raw audio similarities mapped onto the visual scale: these two land on the visual
    `frame_min_similarity` and `match_threshold`. Measured: copies 0.95-0.99 (0.75-0.81 sped up
    25/24 under 10 dB noise); unrelated audio up to 0.78 per window, 0.52 over 4 s."""
    text_frame_min_similarity: float = 0.55
    text_match_threshold: float = 0.75
    """Likewise for subtitle text (shingles: re-typed or OCR-damaged cues 0.8-1.0)."""
    match_threshold: float = 0.55
    """Calibrated decision (bench/accuracy.py): segments scoring at least this are `match`.
    Measured: copies 0.31-1.00 (median 0.85); the strongest wrong-title segment 0.535 (inside a
    blurred picture-in-picture copy of another title); negatives: nothing above 0.30."""
    candidate_threshold: float = 0.30
    """Segments below this are dropped altogether."""

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> Config:
        data = json.loads(text)
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})

    def fingerprint_settings(self) -> dict:
        return {name: getattr(self, name) for name in FINGERPRINT_FIELDS}

    def check_compatible(self, other: Config, what: str = "this query") -> None:
        """Raise if `other` fingerprints differently from `self` (the index's configuration)."""
        mine, theirs = self.fingerprint_settings(), other.fingerprint_settings()
        diff = [f"{k}={theirs[k]!r} (index: {mine[k]!r})" for k in mine if mine[k] != theirs[k]]
        if diff:
            raise ConfigMismatchError(
                f"{what} uses another fingerprint configuration than the index: " + ", ".join(diff)
            )
