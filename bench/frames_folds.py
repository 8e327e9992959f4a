"""The frame-level benchmark (bench/frames.py) over every title of ../shared/media/video: the
shipped fp-visual-v1 on the titles it never trained on, and its training recipe, retrained with
each other share of the titles left out, on those (cross-validation), pooled.

    python -m bench.frames_folds [--folds 2] [--cache FILE]
    (about 5 minutes on two CPU cores the first time, 2 of them encoding the shipped head's
    training views, which fp.fingerprint.visual_train.CACHE keeps; --cache keeps the trunk's
    embeddings of the benchmark's frames, and takes the same file as bench.frames)

bench.frames measures on the 15 titles the shipped head never trained on: what one title does
moves a whole edit's figures (a title's frames are near-duplicates of each other). Here fold 0 is
that set with the shipped head; folds 1..`--folds` split the titles the shipped head trained on,
and each is measured with a head trained by the same recipe (fp.fingerprint.visual_train:
`TrainConfig`, the shipped architecture, seed) on the shipped head's training data less that
fold's videos. A fold's queries are ranked against its own frames and fold 0's, which no head
here trained on (the training clips are short: a dozen of them alone are few distractors); the
pooled table ranks every query among its own fold's pairs (another fold's head is another
descriptor), and the resamples of the last table draw from all titles. The ImageNet features,
untrained, run on the same folds.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import time
from pathlib import Path

import numpy as np

from bench.frames import AS_FP, NATURAL, cached_trunks, non_blank, references, report, score_sims, similarities
from fp.fingerprint.runtime import resolve_runtime
from fp.fingerprint.trained import SHIPPED_VISUAL
from fp.fingerprint.visual_head import CopyHead, head_config, load_head
from fp.fingerprint.visual_train import HELD_OUT, MEDIA, TrainConfig, centre_output, train, training_views

FOLDS = 2
"""Folds the shipped head's training titles are split into (about 12 titles each)."""
BASELINE = "efficientnet_lite0"


def training_titles() -> list[list[str]]:
    """The videos of the titles the shipped head trained on, one list per title, by name."""
    videos = sorted(p.name for p in MEDIA.iterdir() if p.is_file() and p.name not in HELD_OUT)
    titles: dict[str, list[str]] = {}
    for video in videos:
        titles.setdefault(NATURAL.get(video, video), []).append(video)
    return list(titles.values())


def fold_videos(folds: int) -> list[list[str]]:
    """Fold 0: HELD_OUT; then the training titles dealt round-robin into `folds` folds."""
    titles = training_titles()
    return [list(HELD_OUT)] + [[v for t in titles[k::folds] for v in t] for k in range(folds)]


def recipe_head(videos: list[str], views: tuple, log) -> CopyHead:
    """A head trained as the shipped one is, on its training views (`views`:
    visual_train.training_views) but those of `videos`."""
    bases, sources, embeddings, ok, _ = views
    out = [k for k, v in enumerate(sources["videos"]) if v in videos]
    rows = ~np.isin(bases.group, out)
    model, _ = train(embeddings[rows], ok[rows], bases.group[rows], TrainConfig(), head_config(SHIPPED_VISUAL),
                     log=log)
    centre_output(model, embeddings[rows][ok[rows]])
    return model


def pooled(blocks: list[np.ndarray]) -> np.ndarray:
    """Folds' query x reference similarities as one square matrix, -inf where no pair: fold 0's
    block is its queries against its frames, each later fold's its queries against its own frames
    then fold 0's."""
    sizes = [len(b) for b in blocks]
    edges = np.concatenate([[0], np.cumsum(sizes)])
    out = np.full((edges[-1], edges[-1]), -np.inf, np.float32)
    for k, b in enumerate(blocks):
        rows = slice(edges[k], edges[k + 1])
        out[rows, rows] = b[:, :sizes[k]]
        if k:
            out[rows, :sizes[0]] = b[:, sizes[k]:]
    return out


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--folds", type=int, default=FOLDS, help="folds of the shipped head's training titles")
    ap.add_argument("--runtime", default="auto", help="the benchmark frames' trunk runtime (as bench.frames)")
    ap.add_argument("--cache", type=Path, help="keep the trunk's embeddings of the frames in this .npz")
    args = ap.parse_args(argv)
    if not 1 <= args.folds <= len(training_titles()):
        ap.error(f"--folds must be from 1 to {len(training_titles())} (the titles the shipped head trained on)")
    runtime = resolve_runtime(args.runtime)
    log = lambda msg: print(msg, file=sys.stderr, flush=True)  # noqa: E731
    start = time.monotonic()
    cfg = head_config(SHIPPED_VISUAL)
    cached = dict(np.load(args.cache, allow_pickle=False)) if args.cache and args.cache.is_file() else {}
    views = None
    per_fold, fold_refs, all_titles, title_count = [], [], [], 0
    for k, videos in enumerate(fold_videos(args.folds)):
        images, titles, names = references(videos)
        images, titles = non_blank(images, titles)
        titles = titles + title_count
        log(f"fold {k}: {len(images)} frames of {len(names)} titles")
        if k == 0:
            head, (held_images, held_titles) = load_head(SHIPPED_VISUAL)[0], (images, titles)
        else:
            if views is None:  # the shipped head's training views (cached by visual_train)
                views = training_views(TrainConfig().seed, cfg.trunk, "onnx", log=log)
            head = recipe_head(videos, views, log).eval()
        refs, ref_titles = (images, titles) if k == 0 else (images + held_images, np.concatenate([titles, held_titles]))
        # fold 0's keys are bench.frames' own; a later fold's name its queries' and references' videos
        prefix = "" if k == 0 else hashlib.sha1("\n".join(videos + HELD_OUT).encode()).hexdigest()[:12] + "/"
        per_fold.append(similarities(refs, ref_titles, {BASELINE: None, SHIPPED_VISUAL: head},
                                     cached_trunks([cfg.trunk], runtime, cached, prefix), queries_of=len(images)))
        fold_refs.append(ref_titles)
        all_titles.append(titles)
        title_count += len(names)
    if args.cache:
        np.savez(args.cache, **cached)
    sims = {edit: {n: pooled([fold[edit][n] for fold in per_fold]) for n in by}
            for edit, by in per_fold[0].items()}
    titles = np.concatenate(all_titles)
    report(sims, titles, title_count,
           f"{len(titles)} reference frames of {title_count} titles in {len(per_fold)} folds (fold 0: the shipped "
           f"{SHIPPED_VISUAL}; folds 1-{args.folds}: its recipe without them, against their frames and "
           f"fold 0's); runtime {runtime}; {time.monotonic() - start:.0f} s")
    print_folds(per_fold, fold_refs)


def print_folds(per_fold: list[dict[str, dict[str, np.ndarray]]], fold_refs: list[np.ndarray]) -> None:
    """Each fold on its own: both encoders' mean micro-AP and recall@1 over the edits, and the
    edits where the head's micro-AP is behind the baseline's (the pooled table weighs fold 0,
    the longest clips, most)."""
    print(f"\nper fold, mean over the edits: {BASELINE} -> {SHIPPED_VISUAL} AP, R@1; edits where its AP is behind")
    for k, (sims, titles) in enumerate(zip(per_fold, fold_refs)):
        rows = {edit: {n: score_sims(m, titles)[:2] for n, m in by.items()} for edit, by in sims.items() if edit != AS_FP}
        mean = {n: np.mean([by[n] for by in rows.values()], axis=0) for n in (BASELINE, SHIPPED_VISUAL)}
        behind = [f"{edit} {by[SHIPPED_VISUAL][0]:.4f} < {by[BASELINE][0]:.4f}" for edit, by in rows.items()
                  if by[SHIPPED_VISUAL][0] < by[BASELINE][0]]
        print(f"fold {k}: AP {mean[BASELINE][0]:.4f} -> {mean[SHIPPED_VISUAL][0]:.4f}, R@1 {mean[BASELINE][1]:.3f} -> "
              f"{mean[SHIPPED_VISUAL][1]:.3f}; behind on {len(behind)} of {len(rows)}: {', '.join(behind) or '-'}")


if __name__ == "__main__":
    main()
