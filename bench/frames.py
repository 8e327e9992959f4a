"""Frame-level copy detection, DISC21-style: each pirate edit on its own, the ImageNet features and
fp-visual-v1 side by side in one run.

    python -m bench.frames [--encoders efficientnet_lite0,fp-visual-v1] [--runtime auto]
    (make bench-frames; about 1.5 minutes on two idle CPU cores, seconds when the trunk's embeddings of
    the frames are cached: --cache FILE)

References: the frames at 1 per second (first 60 of each) of the clips fp-visual-v1 never trained
on (fp.fingerprint.visual_train.HELD_OUT: the accuracy benchmark's catalogue and its natural
copies), prepared as fp's extractor prepares them (squashed square, black bars trimmed). Queries:
every reference frame through one edit of fp.fingerprint.visual_augment (strength drawn with a
seed per frame; picture-in-picture pastes into a frame of another title), through a random
chain of 1-3 edits ("chain"), and as a picture-in-picture copy's window cropped back out at its
box ("pip_window": what fp's query path encodes, its window finder having found the box over
time; "pip" is the whole picture, which no path of fp encodes alone). "9:16 as fp": the 9:16
strips met as fp meets a phone reframe (fp.fingerprint.extract): the strip as the mean of its
square render and its render at its own aspect, against the frames and, as the catalogue's
reframe track holds them, their centre squares, the better of the two (left out of the mean: it
measures "vertical" again).

Scores: cosine similarity of every query against every reference. The reference it was made
from is the positive; frames of other titles are negatives; the other frames of its own title
(near-duplicates of the positive a second away) are left out. micro-AP pools all pairs of an
edit; recall@1: the positive ranks first among the query's pairs. The next table gives the
distribution of negative and positive similarities, which thresholds are set from; the last, with
two encoders, their per-edit differences over resamples of the titles (`TitleCounts`), which say
how much of a difference 15 titles can tell.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from bench.projection import average_precision
from fp.config import Config
from fp.fingerprint import visual_augment
from fp.fingerprint.extract import REFRAME_MIN_ASPECT
from fp.fingerprint.frames import border_boxes, centre_square, content_aspects, fill_frames, tile_at_aspect
from fp.fingerprint.runtime import load_visual, resolve_runtime
from fp.fingerprint.visual_head import head_config, load_head
from fp.fingerprint.trained import is_head
from fp.fingerprint.visual_train import FRAME_SIZE, HELD_OUT, MEDIA, decode_frames, prepare

NATURAL = {"bower_bbb_480p_30s.mp4": "moviepy_big_buck_bunny_0_30.webm",
           "psd_goldeneye_rotated_audio.mp4": "psd_goldeneye_vfr_drop3.mp4",
           "dvrscan_traffic_camera_vfr.mp4": "dvrscan_traffic_camera.mp4"}
"""The same content twice (../shared/media/README.md): one title."""
FRAMES_PER_SECOND = 1.0
MAX_FRAMES = 60
SEED = 2026
BOOTSTRAP_DRAWS = 2000
"""Resamples of the held-out titles behind the intervals of the last table (`TitleCounts`)."""
INTERVAL = 0.9
"""Central share of the resampled differences the last table gives."""
MEASURED_ONLY = {"pip_window": visual_augment.pip_window}
"""Edits measured here beside visual_augment.EDITS that are no training edit."""
AS_FP = "9:16 as fp"


def references(videos: list[str] = HELD_OUT) -> tuple[list, np.ndarray, list[str]]:
    """The frames of `videos` as images, their title numbers, and the title names."""
    images, titles, names = [], [], []
    for video in videos:
        title = NATURAL.get(video, video)
        if title not in names:
            names.append(title)
        frames = decode_frames(MEDIA / video, fps=FRAMES_PER_SECOND, limit=MAX_FRAMES)
        images.extend(frames)
        titles.extend([names.index(title)] * len(frames))
    return images, np.array(titles), names


def queries(images: list, titles: np.ndarray, edit: str) -> list:
    """Every reference frame through `edit` ("chain": a random chain of edits)."""
    edits = {**visual_augment.EDITS, **MEASURED_ONLY}
    out = []
    for i, im in enumerate(images):
        rng = random.Random(f"{SEED}/{edit}/{i}")
        others = np.flatnonzero(titles != titles[i])
        host = images[int(others[rng.randrange(len(others))])]
        out.append(visual_augment.random_view(im, rng, host) if edit == "chain"
                   else edits[edit](im, rng, host))
    return out


def squares(images: list) -> tuple[np.ndarray, np.ndarray]:
    """Images as fp's decoder hands them over (squashed square, bars trimmed) and the aspect of
    each one's picture inside its bars."""
    frames = np.stack([visual_augment.to_square(im, FRAME_SIZE) for im in images])
    bars = border_boxes(frames, Config().bars_judged_inside)
    return fill_frames(frames, bars), content_aspects(bars, np.array([im.width / im.height for im in images]))


def score_sims(sims: np.ndarray, titles: np.ndarray) -> tuple[float, float, np.ndarray, np.ndarray]:
    """micro-AP, recall@1, positive and negative similarities of a matrix of query (rows) x
    reference similarities (query i copies reference i; `titles`: the references')."""
    n = len(sims)
    pos = sims[np.arange(n), np.arange(n)]
    other = titles[None, :] != titles[:n, None]
    neg = sims[other]
    best_other = np.where(other, sims, -np.inf).max(axis=1)
    return average_precision(pos, neg), float(np.mean(pos > best_other)), pos, neg


@dataclass(frozen=True)
class TitleCounts:
    """One encoder's ranking of one edit's queries, broken down by the queries' titles, so that
    micro-AP and recall@1 can be recomputed for any resample of the titles (a cluster bootstrap:
    a title's frames are near-duplicates of each other, not independent queries): each query and
    its pairs weigh as many times as its title is drawn (with every title drawn once,
    `score_sims`' figures, ties between positives apart; a title drawn twice ranks its two
    copies of a pair as one). Queries are the first references' copies (`score_sims`). Per
    positive pair i (query i and its source): the positives of each title's queries scoring
    at least as high (`above_pos`, (n, titles)), the negative pairs of each title's queries
    scoring higher (`above_neg`), and whether its positive ranks first (`first`)."""

    query_title: np.ndarray
    above_pos: np.ndarray
    above_neg: np.ndarray
    first: np.ndarray

    @classmethod
    def of(cls, sims: np.ndarray, titles: np.ndarray) -> TitleCounts:
        n, count = len(sims), int(titles.max()) + 1
        pos = sims[np.arange(n), np.arange(n)]
        other = titles[None, :] != titles[:n, None]
        above_pos, above_neg = np.zeros((n, count)), np.zeros((n, count))
        for t in range(count):
            mine = titles[:n] == t
            pos_t, neg_t = np.sort(pos[mine]), np.sort(sims[mine][other[mine]])
            above_pos[:, t] = len(pos_t) - np.searchsorted(pos_t, pos, "left")
            above_neg[:, t] = len(neg_t) - np.searchsorted(neg_t, pos, "right")
        first = pos > np.where(other, sims, -np.inf).max(axis=1)
        return cls(titles[:n], above_pos, above_neg, first)

    def scores(self, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """micro-AP and recall@1 for each row of `weights` (draws, titles): how many times each
        title is drawn."""
        per_query = weights[:, self.query_title]
        hits, ranked = weights @ self.above_pos.T, weights @ (self.above_pos + self.above_neg).T
        precision = np.divide(hits, ranked, out=np.zeros_like(hits), where=ranked > 0)
        total = per_query.sum(axis=1)
        return (per_query * precision).sum(axis=1) / total, (per_query * self.first).sum(axis=1) / total


def title_draws(titles: np.ndarray, draws: int = BOOTSTRAP_DRAWS, seed: int = SEED) -> np.ndarray:
    """(draws, titles) counts: each row draws as many titles as there are, with replacement."""
    count = int(titles.max()) + 1
    rng = np.random.default_rng(seed)
    return np.stack([np.bincount(rng.integers(0, count, count), minlength=count) for _ in range(draws)]).astype(float)


TrunkVectors = Callable[[str, Callable[[], np.ndarray]], dict[str, np.ndarray]]
"""(edit, the edit's frames when they must be encoded) -> each trunk's embeddings of them."""


def similarities(images: list, titles: np.ndarray, heads: dict[str, torch.nn.Module | None],
                 trunk_vectors: TrunkVectors, queries_of: int | None = None) -> dict[str, dict[str, np.ndarray]]:
    """Per edit (and AS_FP), each encoder's query x reference cosine similarities over the
    non-blank reference `images` of `titles`, the first `queries_of` of them (all by default)
    made into queries. `heads`: encoder name -> its trained head, or None for a trunk's own
    features."""
    q_images, q_titles = images[:queries_of], titles[:queries_of]

    def embed(name: str, vectors: dict) -> np.ndarray:
        if heads[name] is None:
            return vectors[name]
        with torch.inference_mode():
            return heads[name](torch.from_numpy(vectors[head_config(name).trunk])).numpy()

    refs = {n: embed(n, trunk_vectors("", lambda: prepare(images)[0])) for n in heads}
    sims: dict[str, dict[str, np.ndarray]] = {}
    for edit in [*visual_augment.EDITS, *MEASURED_ONLY, "chain"]:
        q_trunk = trunk_vectors(edit, lambda: prepare(queries(q_images, q_titles, edit))[0])
        sims[edit] = {n: embed(n, q_trunk) @ refs[n].T for n in heads}
        print(f"{edit}: " + ", ".join(f"{n} AP {score_sims(m, titles)[0]:.4f}" for n, m in sims[edit].items()),
              file=sys.stderr)

    # a phone reframe as fp meets it (see the module docstring)
    strips = queries(q_images, q_titles, "vertical")
    strip_squares, strip_aspects = squares(strips)
    frame_squares, frame_aspects = squares(images)
    tall, wide = strip_aspects <= Config().query_portrait_aspect, frame_aspects >= REFRAME_MIN_ASPECT
    tiles = trunk_vectors("vertical tiles", lambda: tile_at_aspect(strip_squares, strip_aspects))
    centres = trunk_vectors("centre squares", lambda: centre_square(frame_squares, frame_aspects))
    sims[AS_FP] = {}
    for n in heads:
        q, extra = embed(n, trunk_vectors("vertical", lambda: strip_squares)).copy(), embed(n, tiles)
        q[tall] = q[tall] + extra[tall]
        q /= np.linalg.norm(q, axis=1, keepdims=True)
        m = q @ refs[n].T
        m[:, wide] = np.maximum(m[:, wide], (q @ embed(n, centres).T)[:, wide])
        sims[AS_FP][n] = m
    return sims


def cached_trunks(trunks: list[str], runtime: str, cached: dict, prefix: str = "") -> TrunkVectors:
    """`TrunkVectors` that encode each edit's frames once per trunk, kept in `cached` under
    "`prefix`runtime/trunk/edit"."""
    loaded = {}

    def trunk_vectors(edit: str, frames: Callable[[], np.ndarray]) -> dict[str, np.ndarray]:
        keys = {t: f"{prefix}{runtime}/{t}/{edit}" for t in trunks}
        if any(k not in cached for k in keys.values()):
            batch = frames()
            for t, k in keys.items():
                if t not in loaded:
                    loaded[t] = load_visual(t, runtime)
                cached[k] = loaded[t].encode(batch)
        return {t: cached[k] for t, k in keys.items()}

    return trunk_vectors


def non_blank(images: list, titles: np.ndarray) -> tuple[list, np.ndarray]:
    """The images fp would encode (it never encodes a blank frame) and their titles."""
    keep = np.flatnonzero(prepare(images)[1])
    return [images[i] for i in keep], titles[keep]


def report(sims: dict[str, dict[str, np.ndarray]], titles: np.ndarray, title_count: int, what: str) -> None:
    """The per-edit table, the similarity quantiles and, with two encoders, their paired
    differences over resamples of the titles. Pairs scored -inf are no pair (left out)."""
    names = list(next(iter(sims.values())))
    rows = {edit: {n: score_sims(m, titles)[:2] for n, m in by.items()} for edit, by in sims.items()}
    print(f"\n{what}")
    head = f"{'edit':>10} | " + " | ".join(f"{n[:20]:>20} AP    R@1" for n in names)
    print(head)
    print("-" * len(head))
    for edit, by in rows.items():
        print(f"{edit:>10} | " + " | ".join(f"{'':>20}{by[n][0]:.4f} {by[n][1]:.3f}" for n in names))
    edits = [by for edit, by in rows.items() if edit != AS_FP]
    print(f"{'mean':>10} | " + " | ".join(
        f"{'':>20}{np.mean([by[n][0] for by in edits]):.4f} {np.mean([by[n][1] for by in edits]):.3f}"
        for n in names))
    print("\nsimilarity quantiles over all edits: negatives (other titles) and positives (copies)")
    print(f"{'encoder':>20} | {'neg p50':>7} {'p99':>6} {'p99.9':>6} {'max':>6} | {'pos p10':>7} {'p50':>6}")
    for n in names:
        scored = [score_sims(by[n], titles) for edit, by in sims.items() if edit != AS_FP]
        pos, neg = np.concatenate([s[2] for s in scored]), np.concatenate([s[3] for s in scored])
        neg = neg[np.isfinite(neg)]
        print(f"{n[:20]:>20} | {np.percentile(neg, 50):7.3f} {np.percentile(neg, 99):6.3f} "
              f"{np.percentile(neg, 99.9):6.3f} {neg.max():6.3f} | {np.percentile(pos, 10):7.3f} "
              f"{np.percentile(pos, 50):6.3f}")
    if len(names) == 2:
        counts = {edit: {n: TitleCounts.of(m, titles) for n, m in by.items()} for edit, by in sims.items()}
        print_paired(counts, names, titles, title_count)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--encoders", default="efficientnet_lite0,fp-visual-v1")
    ap.add_argument("--runtime", default="auto",
                    help="trunk runtime (torch, onnx, onnx-int8; default: fp's choice on this machine)")
    ap.add_argument("--cache", type=Path, help="keep the trunks' embeddings of the frames in this .npz")
    args = ap.parse_args(argv)
    args.runtime = resolve_runtime(args.runtime)
    names = args.encoders.split(",")
    start = time.monotonic()
    images, titles, title_names = references()
    images, titles = non_blank(images, titles)
    trunks = sorted({head_config(n).trunk if is_head(n) else n for n in names})
    heads = {n: load_head(n)[0] if is_head(n) else None for n in names}
    cached = dict(np.load(args.cache, allow_pickle=False)) if args.cache and args.cache.is_file() else {}
    print(f"{len(images)} reference frames of {len(title_names)} held-out titles; runtime {args.runtime}",
          file=sys.stderr)
    sims = similarities(images, titles, heads, cached_trunks(trunks, args.runtime, cached))
    if args.cache:
        np.savez(args.cache, **cached)
    report(sims, titles, len(title_names),
           f"{len(images)} reference frames ({len(title_names)} titles never trained on), one query per "
           f"frame and edit; runtime {args.runtime}; {time.monotonic() - start:.0f} s")


def print_paired(counts: dict[str, dict[str, TitleCounts]], names: list[str], titles: np.ndarray,
                 title_count: int) -> None:
    """Per edit, the second encoder's micro-AP and recall@1 minus the first's over resamples of
    the titles (the same draws for both: a paired cluster bootstrap), as the `INTERVAL` central
    range, and the share of draws where the second is not behind."""
    weights = title_draws(titles)
    lo, hi = (1 - INTERVAL) / 2 * 100, (1 + INTERVAL) / 2 * 100
    print(f"\n{names[1]} minus {names[0]}, {len(weights)} resamples of the {title_count} titles "
          f"({INTERVAL:.0%} intervals; 'not behind': share of resamples where the difference is >= 0)")
    print(f"{'edit':>10} | {'AP difference':>26} {'not behind':>10} | {'R@1 difference':>26} {'not behind':>10}")
    for edit, by in counts.items():
        (ap0, r0), (ap1, r1) = by[names[0]].scores(weights), by[names[1]].scores(weights)
        cells = []
        for d in (ap1 - ap0, r1 - r0):
            a, b = np.percentile(d, [lo, hi])
            cells.append(f"{np.median(d):+9.4f} [{a:+.4f}, {b:+.4f}] {np.mean(d >= 0):10.2f}")
        print(f"{edit:>10} | " + " | ".join(cells))


if __name__ == "__main__":
    main()
