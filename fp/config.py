"""The one configuration object: encoder names, sampling rate, shot and matching thresholds.

The index records the configuration it was built with; the *fingerprint* fields (those that
change what a vector means) must agree between the index and every query or update.
"""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass, field, fields

from fp.errors import ConfigError, ConfigMismatchError

FINGERPRINT = "fingerprint"
"""Settings that change what a stored vector means: recorded in the index, queries must agree."""
INDEX = "index"
"""Settings of the index's structure: the FAISS files are derived from the stored vectors, so
these are free to change."""
MATCH = "match"
"""Settings that decide a match: free per query."""
GROUPS = (FINGERPRINT, INDEX, MATCH)


def setting(default, group: str, bounds: tuple[float, float] | None = None):
    """A `Config` field of `group` (one of `GROUPS`); a number's `bounds` are the lowest and
    highest values it takes (both included), checked when a `Config` is made."""
    return field(default=default, metadata={"group": group, "bounds": bounds})


@dataclass(frozen=True)
class Config:
    # --- fingerprinting (recorded in the index; queries must agree) ---
    visual_encoder: str = setting("fp-visual-v1", FINGERPRINT)
    """`fp-visual-v1` (default: fp's copy-detection head over EfficientNet-Lite0, 256-d; see
    fp.fingerprint.visual_head), `efficientnet_lite0` (its ImageNet trunk alone, 1280-d) or
    `clip:ARCH:PRETRAINED` (open_clip; ARCH may be a model-config JSON path, PRETRAINED a hub tag or
    a local checkpoint path)."""
    audio_encoder: str = setting("fp-audio-v1", FINGERPRINT)
    """fp's own contrastively trained audio encoder (shipped), a `.safetensors` path, or "" (off)."""
    visual_dim: int = setting(0, FINGERPRINT, (0, 4096))
    """Picture vectors are projected onto this many principal components, shipped per encoder
    (`fp.fingerprint.projection`: 128 and 256 for efficientnet_lite0); 0 keeps the encoder's own
    size. Off by default (fp-visual-v1 is 256-d already): bench/projection.py (held-out folds)
    measured frame-level AP 0.979 for all 1280 ImageNet dimensions against 0.958 (256) and 0.951
    (128), and the projection raises unrelated frames' similarity (+0.02 to +0.04)."""
    text_encoder: str = setting("shingles", FINGERPRINT)
    """Subtitle cues: `shingles` (hashed character 3-grams: measured best by bench/subtitles.py),
    `minilm`, `clip` (the CLIP visual encoder's text tower), `auto` (clip with a CLIP visual
    encoder, else minilm), or "" (off)."""
    frame_rate: float = setting(2.0, FINGERPRINT, (0.1, 30))
    """Samples per second of every track (frames; audio windows hop by the same step)."""
    silence_db: float = setting(-50.0, FINGERPRINT, (-120, 0))
    """Audio windows quieter than this (dBFS) carry no evidence."""
    frame_size: int = setting(224, FINGERPRINT, (32, 1024))
    """Frames are decoded square at this size, then resized to the encoder's input size."""
    min_shot_seconds: float = setting(1.0, FINGERPRINT, (0.1, 60))
    max_shot_seconds: float = setting(6.0, FINGERPRINT, (0.5, 600))
    """Longer shots are split so that every few seconds carry a searchable fingerprint."""
    shot_cut_distance: float = setting(0.5, FINGERPRINT, (0, 2))
    """Cosine distance between consecutive samples above which a cut is declared."""
    blank_std: float = setting(6.0, FINGERPRINT, (0, 128))
    """Frames whose grey-level standard deviation is below this are blank (black, white, flat)."""
    plain_share: float = setting(0.85, FINGERPRINT, (0, 1))
    """Frames (bars trimmed) lying this much on one dark or bright background are blank too: text
    cards and logos on black look alike across videos (bench/accuracy.py: such cards in two
    unrelated promos aligned at 0.58, above real copies under heavy edits)."""
    bars_judged_inside: bool = setting(True, FINGERPRINT)
    """Black bars are judged inside each other's (`fp.fingerprint.frames.border_box`): where one
    axis has bars, the other's lines are judged again inside them, so that bars a copy adds on
    one axis do not turn lines of the other dark (a pillarboxed title card keeps its rows of
    lettering and is cropped like the card). bench/frames.py, session 23's 477 held-out frames
    and draws: fp-visual-v1's mean AP 0.8768 -> 0.8801, letterbox 0.9936 -> 0.9996, pillarbox
    0.9922 -> 0.9972. Accuracy benchmark: recall 0.964 -> 0.967; copies kept at 10,000 catalogue
    hours 72 -> 73 of 82. An index recorded before this setting existed was built without it."""
    reframe_track: bool = setting(True, FINGERPRINT)
    """Catalogue titles also keep a `reframe` track: each landscape frame's centre square at its
    own aspect (`fp.fingerprint.frames.centre_square`), which a suspect's portrait samples are also
    compared with (9:16 phone reframes of a film: a strip of a third of its width). One more
    encoding pass per catalogue sample; suspects are not encoded again. bench/frames.py's 477
    held-out frames, 9:16 strips (the suspect's two portrait renders) against every frame: AP
    0.861 -> 0.917, recall@1 0.939 -> 0.971, positive median 0.644 -> 0.777, negatives' p99.9
    0.442 -> 0.473. Accuracy benchmark: 9:16 reframes found 3 -> 6 of 6, hard draw recall 0.878
    -> 0.961, no negative matched. bench/throughput.py on a VNNI CPU (int8): indexing 32.9x ->
    27.2x real time. An index recorded before this setting existed was built without it."""

    # --- index structure (the FAISS files are derived from the stored vectors: free to change) ---
    exact_index_max_vectors: int = setting(1_000_000, INDEX, (0, math.inf))
    """Exact search (every vector compared, stored as float16) up to this many shot vectors per
    modality, about 1,040 catalogue hours; a compressed index past it (bench/scale.py: exact search
    over 1M 128-d vectors takes about 0.2 s per minute of suspect on 2 CPU cores, the compressed
    index 0.09 s; bench/catalogue_scale.py measures both structures at 100 and 1,000 hours)."""
    compressed_index: str = setting("IVF{nlist},PQ{pq}np", INDEX)
    """`faiss.index_factory` string of the compressed index; `{nlist}` becomes the power of two
    nearest sqrt(vectors), `{pq}` half the vectors' dimension. Chosen by bench/scale.py on 1M
    synthetic 128-d vectors modelled on fp-visual-v1's: inverted lists of product-quantised
    vectors, a byte per two dimensions, 73 bytes per vector with its id (the copy's source in the
    top 24 for 0.931 of queries, against 0.938 for 8-bit scalar codes at 137 bytes and 0.959 for
    exact search; 4-bit codes, 32-byte PQ and fast-scan PQ fell to 0.72-0.92). Half the bytes is
    what keeps a 10,000-hour index in RAM and quick to open (bench/catalogue_scale.py). At 256-d
    (`bench/scale.py --compare-only`, 100k vectors modelled on fp-visual-v1's): PQ128, 139 bytes,
    the source in the top 24 for 0.944 of copies, against 0.947 uncompressed in the same lists,
    0.950 for 8-bit scalar codes (267 bytes) and 0.988 for exact search."""
    probe_fraction: float = setting(0.125, INDEX, (0.001, 1))
    """Share of the compressed index's inverted lists searched per query (bench/scale.py at 1M
    128-d vectors, product codes: the copy's source in the top 24 for 0.931 of copies at 1/8,
    against 0.959 for exact search; with the earlier 1280-d scalar codes, recall@24 was 0.98 at
    1/8 and 0.95 at 1/16)."""
    training_vectors: int = setting(100_000, INDEX, (1, math.inf))
    """Stored vectors sampled to train the compressed index (at least 64 per inverted list)."""
    retrain_growth: float = setting(4.0, INDEX, (0.001, math.inf))
    """The compressed index is retrained (from the stored vectors) once it holds this many times
    the vectors its inverted lists were sized for."""

    # --- matching (free per query) ---
    knn: int = setting(24, MATCH, (1, 4096))
    """Neighbours retrieved per query shot."""
    shot_min_similarity: float = setting(0.30, MATCH, (-1, 1))
    """Shot neighbours below this cosine similarity cast no vote."""
    hypotheses_per_minute: int = setting(24, MATCH, (1, 100_000))
    """(title, offset) hypotheses refined per query variant and started minute of suspect (24 for
    any suspect up to a minute long). A long upload holds more copies, and a sped-up copy of a
    feature drifts through more offsets: with a fixed 24, a 20-minute suspect made of 40 copies of
    one 30 s title had 26 of them found (774 of 1200 s); with 24 per minute, all 40 (1193 s), for
    3.7 s of alignment beside 70 s of fingerprinting (`align_context_seconds`)."""
    frame_min_similarity: float = setting(0.38, MATCH, (-1, 1))
    """A sample belongs to a copied segment when its aligned similarity reaches this."""
    gap_seconds: float = setting(2.0, MATCH, (0, 600))
    """Gaps up to this long inside a copied segment are bridged."""
    min_segment_seconds: float = setting(2.0, MATCH, (0, 3600))
    shared_content_titles: int = setting(4, MATCH, (2, math.inf))
    """A stretch of the suspect that aligns with this many titles or more is content the
    catalogue shares (a studio logo, a stock intro): it is reported as `candidate` only."""
    rival_margin: float = setting(0.05, MATCH, (0, 1))
    """A segment over most of whose stretch another title aligns better by more than this is
    outshone (see `fp.matcher.decisions.outshone`); near-duplicate titles score alike and are kept."""
    min_match_seconds: float = setting(4.0, MATCH, (0, 3600))
    """Shorter segments are at most `candidate`s: a few seconds of look-alike frames is no proof."""
    agreement_bonus: float = setting(0.05, MATCH, (0, 1))
    """Added to a sample's score for each further modality that agrees at frame level."""
    audio_frame_min_similarity: float = setting(0.60, MATCH, (-1, 1))
    audio_match_threshold: float = setting(0.72, MATCH, (-1, 1))
    """Raw audio similarities mapped onto the visual scale: these two land on the visual
    `frame_min_similarity` and `match_threshold`. Measured: copies 0.95-0.99 (0.75-0.81 sped up
    25/24 under 10 dB noise); unrelated audio up to 0.78 per window, 0.52 over 4 s."""
    text_frame_min_similarity: float = setting(0.55, MATCH, (-1, 1))
    text_match_threshold: float = setting(0.75, MATCH, (-1, 1))
    """Likewise for subtitle text (shingles: re-typed or OCR-damaged cues 0.8-1.0)."""
    match_threshold: float = setting(0.55, MATCH, (0, 2))
    """Calibrated decision (bench/accuracy.py): segments scoring at least this are `match`.
    Measured: copies 0.31-1.00 (median 0.85); the strongest wrong-title segment 0.535 (inside a
    blurred picture-in-picture copy of another title); negatives: nothing above 0.30."""
    candidate_threshold: float = setting(0.30, MATCH, (0, 2))
    """Segments below this are dropped altogether."""
    vote_neighbour_weight: float = setting(0.5, MATCH, (0, 1))
    """Votes of the neighbouring one-second offset bins count this much towards a bin's peak (an
    offset between two bins splits its votes)."""
    align_context_seconds: float = setting(60.0, MATCH, (0, math.inf))
    """A hypothesis is aligned over the stretch of the suspect whose shots voted for it and this
    many seconds either side (the whole of any suspect up to two minutes), not along the whole
    suspect: a hypothesis then costs the same however long the upload. A clean 20-minute suspect
    against a two-hour title (903 hypotheses at 24 per minute): 38.5 s of alignment along the
    whole suspect, 11.7 s around the votes, beside 64-72 s of fingerprinting (1.6 s for the 47
    hypotheses of a fixed 24 per variant)."""
    align_radius_seconds: float = setting(7.0, MATCH, (0, 3600))
    """Alignment searches shifts within this many seconds of a voted offset: a shot of up to
    `max_shot_seconds` (6 s) votes with its start and its end, so its offset can be off by that
    much, plus a second of bin rounding."""
    align_jitter_seconds: float = setting(0.25, MATCH, (0, 60))
    """A sample's picture similarity at a shift is the best at the shifts up to this many seconds
    either side (those the phases measure: `query_phases`): a copy's frames may fall this far off
    the reference's and still meet them, so a sped-up copy (PAL 25/24 drifts 0.25 s in 6 s) or
    fast motion sampled a phase off stays one segment. A segment found so is placed at the exact
    shift within reach that its samples match best, its ends where that shift's own samples
    match (a cut stays sharp). Accuracy benchmark (--no-anchors; the
    false-match tail refitted for each), 0 -> 0.125 -> 0.25 s: picture-in-picture copies found
    10 -> 11 -> 12 of 14, with a logo 13 -> 13 -> 14 of 14, recall at decision 0.957 -> 0.961 ->
    0.968 (0.964 placed), micro-AP 0.992 throughout, segment AP 0.960 -> 0.956 -> 0.957 (0.959
    placed), no negative matched;
    the unrelated segments above the tail's level 39 -> 40 -> 40 (visual 2 -> 4 -> 4; 39 and 3
    with the placing), the thresholds at 10,000 catalogue hours within 0.01; no measurable query
    cost."""
    max_segments_per_hypothesis: int = setting(8, MATCH, (1, 1000))
    """Segments taken out of one hypothesis's band of shifts, strongest first."""
    dedupe_overlap: float = setting(0.5, MATCH, (0, 1))
    """A segment lying more than this share inside a stronger one of the same title is dropped."""
    cover_share: float = setting(0.5, MATCH, (0, 1))
    """Another title's segment spanning more than this share of a segment's stretch is its rival
    and counts as sharing it (`shared_content_titles`)."""
    chain_overlap_seconds: float = setting(1.0, MATCH, (0, 600))
    """Consecutive pieces of one copy may overlap by this much in the suspect and still chain."""
    chain_rate_tolerance: float = setting(0.1, MATCH, (0, 1))
    """Chained pieces advance in the reference at the suspect's rate give or take this share:
    speed changes of up to 10 %, PAL 25/24 (4 %) included."""
    outshone_power: float = setting(4.0, MATCH, (0, 100))
    """An outshone segment's score is scaled by (score / rival) to this power: 0.68 against a 0.90
    rival falls to 0.22, well under the threshold, while near-duplicates are spared by the margin."""
    query_mirrored: bool = setting(False, MATCH)
    """Also search a suspect's mirror image (a picture variant: one more encoding pass over its
    frames), for copies flipped left to right. Off: fp-visual-v1 scores a mirror image nearly as
    the frame itself (bench/frames.py: AP 1.0000, recall@1 1.000 on 475 held-out frames), and on
    the accuracy benchmark (all edits) the pass found no copy more (flipped
    copies 16 of 16 either way; micro-AP 0.984 both, recall 0.915 against 0.913) and cost 12.6 s
    of compute per suspect minute against 9.8 without it. (With the 128-d head of an earlier
    training, dropping it lost: recall 0.860 -> 0.811, flipped copies 16 -> 14.)"""
    query_phases: int = setting(4, MATCH, (1, 8))
    """Sample the suspect's picture (and its picture-in-picture window) this many times per step,
    at even fractions of it, from the same decoding pass, and align at the fractional shifts
    between the whole ones with those samples: a copy cut at any instant samples its picture up
    to half a step away from the reference's, and across fast cuts and motion those frames differ.
    1 samples the grid alone; each further phase is one more encoding pass over the frames, and
    offsets are tried every 1 / phases of a step. Measured on Sintel's trailer, 360p copies
    cut an eighth of a second off the grid scored 0.46-0.52 with 2 phases (missed) and 0.84-0.85
    with 4; on the accuracy benchmark, recall at decision 0.835 -> 0.854 (blurred-background fills
    4 -> 6 of 6), micro-AP 0.983 -> 0.984, no false-positive query, for 47 % more query compute
    (bench/query_cost.py --phases 2,4 on an AVX2 CPU: 9.7 -> 14.3 s per suspect minute, the later
    phases' frames that show their sample's picture not encoded again). 2 is the cheaper setting
    for an upload stream that can spare the recall."""
    query_window_detail: int = setting(2, MATCH, (1, 16))
    """Decode the suspect's frames at this multiple of `frame_size`: its picture is averaged back
    down to `frame_size`, and a picture-in-picture window (`fp.fingerprint.insets`) is cropped
    from the detailed frames, not blown up from the few pixels it has at `frame_size`. A window of
    half the frame's width has 112 of 224 columns at 1; at 2, 224 of the 320 a 640-wide suspect
    gives it. Accuracy benchmark, against 1: picture-in-picture copies found 9 -> 10 of 14,
    recall at decision 0.917 -> 0.924, their windows 0.02-0.08 more similar to the reference
    along the true diagonal; bench/query_cost.py 11.5 -> 13.0 s per suspect minute, back to back
    (decode-only 1.7 and 1.9 s: the machine moved too). At most 16; 1 crops from the encoder's
    frames."""
    query_portrait_aspect: float = setting(0.8, MATCH, (0, 1))
    """A suspect's picture at most this wide per unit of height (bars trimmed: a phone's 9:16
    reframe of a film is 0.56) is encoded as the mean of two renders: squashed square, as the
    catalogue's frames are, and at its own aspect, copies side by side (`tile_at_aspect`); one
    more encoding pass over such frames. A 9:16 strip holds a third of the frame it was cut from,
    and the square render draws it three times as wide as the catalogue's squashed frame holds
    it. bench/frames.py's 477 held-out frames, 9:16 strips against every frame: positive median
    similarity 0.549 -> 0.626, recall@1 0.895 -> 0.941, AP 0.767 -> 0.860, negatives' p99.9
    0.424 -> 0.440 (the own-aspect render alone: 0.629, AP 0.844). Accuracy benchmark, hard
    draw: recall 0.873 -> 0.881, segment AP 0.933 -> 0.946, no negative matched. 0 turns it off."""
    false_match_u: float = setting(0.4547, MATCH, (-1, 2))
    """False-match tail (`fp.matcher.calibration`), fitted by `make bench-false-matches` (which
    prints these five settings): the score above which unrelated segments are modelled, the 0.8
    quantile of the 189 segments of 4 s or more found in 4706 unrelated suspect-title pairs of
    ../shared/media (90 suspects of at most a minute, 41 min, against 74 titles, every alignment
    searched); 38 exceed it (37 audio, 1 visual)."""
    false_match_rate: float = setting(4.325, MATCH, (0, math.inf))
    """Segments of unrelated media scoring above `false_match_u` per suspect minute x catalogue hour
    of exposure (places where a segment fits, weighted by the share of segments of each length),
    summed over the modalities that carried them."""
    false_match_xi: float = setting(-0.1949, MATCH, (-10, 10))
    """Shape of the generalised Pareto distribution of the excess over `false_match_u` (maximum
    likelihood)."""
    false_match_sigma: float = setting(0.0464, MATCH, (1e-9, math.inf))
    """Scale of that distribution (score units)."""
    false_match_length_scale: float = setting(1.4254, MATCH, (1e-9, math.inf))
    """Seconds over which the share of longer unrelated segments falls by a factor e (geometric
    lengths, maximum likelihood; the longest measured 11 s). Implied at 10,000 catalogue hours for a
    clean one-minute suspect: 0.69 from 4 s, 0.69 from 5 s, 0.69 from 6.5 s, 0.68 from 8 s, 0.68
    from 10 s, 0.68 from 12.5 s, 0.67 from 15.5 s, 0.65 from 19.5 s, 0.61 from 24 s, 0.55 from 30 s
    on."""
    false_match_length_ratio: float = setting(1.25, MATCH, (1.01, 10))
    """Segment-length classes, each with its own threshold, start at `min_match_seconds` and grow
    by this factor, snapped up to the sample grid (4, 5, 6.5, 8, 10, 12.5, 15.5, 19.5, 24, 30,
    37.5, 47, 58.5 s): each class gets an equal share of the false-match budget, so finer classes
    follow the length better but leave each a smaller share."""
    false_match_target: float = setting(1e-3, MATCH, (1e-12, 1))
    """Highest acceptable probability that a clean suspect of `false_match_suspect_seconds` gets a
    false match."""
    false_match_suspect_seconds: float = setting(60.0, MATCH, (1, math.inf))
    """Length of the clean suspect `false_match_target` is stated for (a longer one meets
    proportionally more chances)."""
    false_match_hours: float = setting(0.0, MATCH, (0, math.inf))
    """Catalogue hours the thresholds assume at least: 0 takes the index's own size; set it to the
    size a growing catalogue will reach to keep decisions from moving as it grows."""
    false_match_enforced: bool = setting(True, MATCH)
    """Raise the decision threshold per segment length where the false-match tail needs it for the
    catalogue's size (`fp.matcher.calibration.length_thresholds`)."""

    def __post_init__(self) -> None:
        """One line for the first setting of the wrong type or outside its bounds."""
        for f in fields(self):
            value, bounds = getattr(self, f.name), f.metadata["bounds"]
            kind = type(f.default)
            if type(value) is not kind and not (kind is float and type(value) is int):
                raise ConfigError(f"{f.name}={value!r}: takes {'an' if kind is int else 'a'} {kind.__name__}")
            if bounds is not None and not bounds[0] <= value <= bounds[1]:
                raise ConfigError(f"{f.name}={value!r}: takes values from {bounds[0]:g} to {bounds[1]:g}")
        if self.min_shot_seconds > self.max_shot_seconds:
            raise ConfigError(f"min_shot_seconds={self.min_shot_seconds:g} is above "
                              f"max_shot_seconds={self.max_shot_seconds:g}")

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> Config:
        """A recorded configuration; fingerprint settings it predates take `RECORDED_BEFORE`'s values."""
        data = {**RECORDED_BEFORE, **json.loads(text)}
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})

    def with_settings(self, assignments: list[str], group: str = MATCH) -> Config:
        """A copy with `NAME=VALUE` assignments of `group`'s settings applied, each parsed as its
        field's type (booleans: true/false); `ConfigError`, one line, for a name or value it does not
        take."""
        allowed = {f.name: f for f in fields(self) if f.metadata["group"] == group}
        changes = {}
        for item in assignments:
            name, sep, text = item.partition("=")
            if not sep or name not in allowed:
                raise ConfigError(f"{item!r}: expected NAME=VALUE with NAME a {group} setting "
                                  f"({', '.join(allowed)})")
            kind = type(getattr(self, name))
            try:
                if kind is bool:
                    if text.lower() not in ("true", "false"):
                        raise ValueError(text)
                    changes[name] = text.lower() == "true"
                else:
                    changes[name] = kind(text)
            except ValueError:
                raise ConfigError(f"{item!r}: {name} takes {'an' if kind is int else 'a'} {kind.__name__}") from None
        return dataclasses.replace(self, **changes)

    def for_matching(self, settings: list[str]) -> Config:
        """The configuration to match against an index built with this one (or, with no
        `settings`, to go on indexing it): its fingerprint settings, this release's other
        settings, and `NAME=VALUE` match settings (`with_settings`)."""
        return dataclasses.replace(Config(), **self.fingerprint_settings()).with_settings(settings)

    def group(self, name: str) -> dict:
        """The settings of one lifetime group (see `GROUPS`), by field name."""
        return {f.name: getattr(self, f.name) for f in fields(self) if f.metadata["group"] == name}

    def fingerprint_settings(self) -> dict:
        return self.group(FINGERPRINT)

    def check_compatible(self, other: Config, what: str = "this query") -> None:
        """Raise if `other` fingerprints differently from `self` (the index's configuration)."""
        mine, theirs = self.fingerprint_settings(), other.fingerprint_settings()
        diff = [f"{k}={theirs[k]!r} (index: {mine[k]!r})" for k in mine if mine[k] != theirs[k]]
        if diff:
            raise ConfigMismatchError(
                f"{what} uses another fingerprint configuration than the index: " + ", ".join(diff)
            )


RECORDED_BEFORE = {"bars_judged_inside": False, "reframe_track": False}
"""Fingerprint settings added after indexes were first recorded, with the value an index that does
not record them was built with."""

FINGERPRINT_FIELDS = tuple(Config().group(FINGERPRINT))
"""Names of the fingerprint settings, in declaration order."""
