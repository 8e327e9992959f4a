"""Shortening the picture vectors: what a PCA projection to K dimensions (scripts/fit_projection.py)
and int8 storage do to frame similarities, and whether copies still stand apart from other videos.

    python -m bench.projection [--ks 64,128,192,256] [--folds 2] [--no-random] [--cache FILE]
    (encoding the frames and their copies takes about 5 minutes on two CPU cores; --cache keeps them)

The videos are those the background mean was fitted on (fp/fingerprint/weights/
<ENCODER>_background.json, in ../shared/media/video), which are also the ones the shipped
projection is fitted on; so the projection measured here is refitted inside the bench, by folds:
the titles are split (default: in halves; a natural copy pair is one title), a projection fitted
on the other folds is measured on each fold, and the figures pool the folds. (The background mean
itself saw every video; that touches the full and the projected rows alike.) `rand K` rows: a
random orthonormal projection (seed 0), which needs no data, for comparison.

Frames are taken as the fit takes them (1 per second, the first 60 of a video) and prepared as
fp's extractor prepares them: black bars trimmed, blank frames (black, flat, text cards) left out.
Each frame is edited as pirates do -- crop 80 % and rescale, letterbox, Gaussian blur, JPEG
quality 20, greyscale, logo box and caption, gamma, and a mix (crop 90 %, gamma, JPEG 40) -- and
the edited frames (prepared likewise) are the queries:
* copy pairs: an edited frame and its original;
* distractor pairs: an edited frame and every original frame of another title of its fold;
* AP: average precision of copy pairs (positives) against distractor pairs (negatives);
* kept: the share of the vectors' second moment the projection keeps, on the videos it was
  fitted on and on the held-out ones (every video weighing the same);
* int8: the projected vectors stored as round(v / max|v| * 127); the largest change of a copy or
  distractor pair's cosine;
* against the thresholds calibrated on full vectors (fp/config.py): the share of copy and
  distractor pairs reaching frame_min_similarity (0.38), and a segment proxy for match_threshold
  (0.55): the mean similarity over 4 aligned frames (min_match_seconds at 1 per second), along the
  true alignment for copies (lowest and mean over windows), along the best of any alignment for a
  query title against a title it does not copy (highest, and the share of such title pairs >= 0.55).
"""

from __future__ import annotations

import argparse
import io
import json
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

from fp.fingerprint import encoders
from scripts.fit_projection import (MAX_SAMPLES_PER_VIDEO, encode, fit_pca, prepare, random_projection,
                                    video_frames)

MEDIA = Path(__file__).resolve().parents[2] / "shared" / "media" / "video"
# the same content twice (../shared/media/README.md): one title, never a distractor pair
NATURAL = [("bower_bbb_480p_30s.mp4", "moviepy_big_buck_bunny_0_30.webm"),
           ("psd_goldeneye_rotated_audio.mp4", "psd_goldeneye_vfr_drop3.mp4"),
           ("dvrscan_traffic_camera.mp4", "dvrscan_traffic_camera_vfr.mp4")]
FRAME_THRESHOLD = 0.38
MATCH_THRESHOLD = 0.55
WINDOW = 4
FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"


def _jpeg(im: Image.Image, quality: int) -> Image.Image:
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=quality)
    return Image.open(io.BytesIO(buf.getvalue())).convert("RGB")


def _crop(im: Image.Image, keep: float) -> Image.Image:
    w, h = im.size
    box = (w * (1 - keep) / 2, h * (1 - keep) / 2, w * (1 + keep) / 2, h * (1 + keep) / 2)
    return im.crop(tuple(round(v) for v in box)).resize((w, h), Image.BICUBIC)


def _letterbox(im: Image.Image) -> Image.Image:
    w, h = im.size
    out = Image.new("RGB", (w, h))
    out.paste(im.resize((w, round(h * 0.75)), Image.BICUBIC), (0, round(h * 0.125)))
    return out


def _gamma(im: Image.Image, gamma: float) -> Image.Image:
    lut = [round(255 * (i / 255) ** gamma) for i in range(256)]
    return im.point(lut * 3)


def _overlay(im: Image.Image) -> Image.Image:
    im = im.copy()
    w, h = im.size
    draw = ImageDraw.Draw(im)
    draw.rectangle((w * 0.04, h * 0.04, w * 0.22, h * 0.14), fill=(255, 255, 255))
    try:
        font = ImageFont.truetype(FONT, max(10, h // 16))
    except OSError:
        font = ImageFont.load_default()
    draw.text((w * 0.5, h * 0.9), "www.pirate-streams.tv", font=font, anchor="mm",
              fill=(255, 255, 255), stroke_width=1, stroke_fill=(0, 0, 0))
    return im


EDITS = {
    "crop80": lambda im: _crop(im, 0.8),
    "letterbox": _letterbox,
    "blur": lambda im: im.filter(ImageFilter.GaussianBlur(1.5)),
    "jpeg20": lambda im: _jpeg(im, 20),
    "grey": lambda im: im.convert("L").convert("RGB"),
    "overlay": _overlay,
    "gamma": lambda im: _gamma(im, 0.6),
    "mix": lambda im: _jpeg(_gamma(_crop(im, 0.9), 1.3), 40),
}


def encode_all(name: str, videos: list[str], limit: int) -> dict[str, np.ndarray]:
    """Per video: its non-blank frames' vectors (n, dim) under its name, their edited copies'
    under name + '/edits' (n, edits, dim), and which copies are not blank under name + '/edits_ok'.
    Frames are prepared as fp's extractor does (scripts/fit_projection.py: `prepare`), the
    copies after the edit (so the extractor trims a letterbox's bars, as it would)."""
    enc = encoders.load_visual_encoder(name)
    out = {}
    for video in videos:
        start = time.monotonic()
        frames = video_frames(str(MEDIA / video), limit=limit)
        filled, ok = prepare(frames)
        edited = np.array([np.asarray(fn(Image.fromarray(f)), np.uint8)
                           for f in frames[ok] for fn in EDITS.values()], np.uint8).reshape(-1, *frames.shape[1:])
        edited, edited_ok = prepare(edited)
        out[video] = encode(enc, filled[ok])
        out[video + "/edits"] = encode(enc, edited, 64).reshape(int(ok.sum()), len(EDITS), enc.dim)
        out[video + "/edits_ok"] = edited_ok.reshape(int(ok.sum()), len(EDITS))
        print(f"{video}: {len(frames)} frames, {int(ok.sum())} not blank, {time.monotonic() - start:.0f} s",
              file=sys.stderr)
    return out


def normalize(v: np.ndarray) -> np.ndarray:
    return v / np.maximum(np.linalg.norm(v, axis=-1, keepdims=True), 1e-12)


def int8_roundtrip(v: np.ndarray) -> np.ndarray:
    scale = np.abs(v).max(-1, keepdims=True) / 127
    return np.round(v / scale).clip(-127, 127) * scale


def average_precision(pos: np.ndarray, neg: np.ndarray) -> float:
    scores = np.concatenate([pos, neg])
    labels = np.concatenate([np.ones(len(pos), bool), np.zeros(len(neg), bool)])
    order = np.argsort(-scores, kind="stable")
    hits = np.cumsum(labels[order])
    ranks = np.flatnonzero(labels[order]) + 1
    return float(np.mean(hits[ranks - 1] / ranks))


def window_means(block: np.ndarray, width: int) -> np.ndarray:
    """Means of `width` consecutive aligned similarities: out[i, j] covers block[i - t, j - t] for
    t < width (i, j >= width - 1)."""
    acc = block.astype(np.float64).copy()
    for i in range(1, len(acc)):
        acc[i, 1:] += acc[i - 1, :-1]
    sums = acc[width - 1:, width - 1:].copy()
    sums[1:, 1:] -= acc[:-width, :-width]
    return sums / width


class Tally:
    """One row's figures, pooled over folds."""

    def __init__(self):
        self.pos, self.neg, self.pos_full, self.neg_full = [], [], [], []
        self.pos_edit = []
        self.seg_pos, self.seg_neg = [], []
        self.int8 = 0.0
        self.kept_fit, self.kept_held = [], []

    def cat(self, name: str) -> np.ndarray:
        parts = getattr(self, name)
        return np.concatenate(parts) if parts else np.full(1, np.nan)  # nan: nothing measured


def measure(tally: Tally, proj: np.ndarray | None, vecs: dict, test: list[str], title: dict,
            full: tuple[np.ndarray, np.ndarray] | None) -> tuple[np.ndarray, np.ndarray]:
    """Score the held-out videos `test` through `proj` (None: the full vectors) into `tally`;
    `full`: the full row's (copy, distractor) similarities of the same pairs."""
    def project(v):
        return v if proj is None else normalize(v @ proj.T)

    refs = project(np.concatenate([vecs[v] for v in test]))
    refs8 = normalize(int8_roundtrip(refs))
    ref_video = np.concatenate([[i] * len(vecs[v]) for i, v in enumerate(test)]).astype(int)
    starts = np.concatenate([[0], np.cumsum([len(vecs[v]) for v in test])])
    ref_title = np.array([title[test[i]] for i in ref_video])
    all_pos, all_neg = [], []
    for i, video in enumerate(test):
        n, n_edits = vecs[video + "/edits"].shape[:2]
        if n == 0:
            continue
        queries = project(vecs[video + "/edits"].reshape(n * n_edits, -1))  # frame-major, edit-minor
        ok = vecs[video + "/edits_ok"].reshape(-1)  # a blank copy is no evidence: no pair
        s = queries @ refs.T
        s8 = normalize(int8_roundtrip(queries)) @ refs8.T
        rows = np.arange(len(s))
        own = starts[i] + rows // n_edits
        other = ref_title != title[video]
        pos, neg = s[rows, own][ok], s[ok][:, other].ravel()
        all_pos.append(pos)
        all_neg.append(neg)
        tally.pos_edit.append(np.where(ok, s[rows, own], np.nan).reshape(n, n_edits))
        tally.int8 = max(tally.int8, float(np.abs(s8 - s)[ok][:, other].max(initial=0)),
                         float(np.abs(s8[rows, own] - s[rows, own])[ok].max(initial=0)))
        # segment proxy, per edit: windows along the true alignment; the best window per other title
        if n < WINDOW:
            continue
        cols = np.arange(WINDOW - 1, len(refs))
        within = ref_video[cols] == ref_video[cols - WINDOW + 1]  # the window lies in one video
        for e in range(n_edits):
            win = window_means(s[e::n_edits], WINDOW)
            tally.seg_pos.append(win[np.arange(len(win)), starts[i] + np.arange(len(win))])
            best = {}
            for j, video_j in enumerate(test):
                pick = within & (ref_video[cols] == j)
                if title[video_j] != title[video] and pick.any():
                    best[title[video_j]] = max(best.get(title[video_j], -1.0), float(win[:, pick].max()))
            tally.seg_neg.append(np.array(list(best.values())))
    pos, neg = np.concatenate(all_pos), np.concatenate(all_neg)
    tally.pos.append(pos)
    tally.neg.append(neg)
    tally.pos_full.append(pos if full is None else full[0])
    tally.neg_full.append(neg if full is None else full[1])
    return pos, neg


def kept_share(proj: np.ndarray, groups: list[np.ndarray]) -> float:
    """The share of the second moment `proj` keeps, every group (video) weighing the same."""
    return float(np.mean([np.sum((g @ proj.T) ** 2) / np.sum(g ** 2) for g in groups if len(g)]))


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ks", default="64,128,192,256")
    ap.add_argument("--encoder", default="efficientnet_lite0")
    ap.add_argument("--folds", type=int, default=2, help="titles split this many ways (default: halves)")
    ap.add_argument("--no-random", action="store_true", help="leave out the random-projection rows")
    ap.add_argument("--cache", type=Path, help="keep the encoded frames in this .npz between runs")
    ap.add_argument("--max-frames", type=int, default=MAX_SAMPLES_PER_VIDEO)
    args = ap.parse_args(argv)
    ks = [int(k) for k in args.ks.split(",")]

    sources = Path(encoders.__file__).parent / "weights" / f"{args.encoder}_background.json"
    videos = json.loads(sources.read_text())["sources"]
    title = {v: v for v in videos}
    for a, b in NATURAL:
        title[a] = title[b] = min(a, b)
    if args.cache and args.cache.exists():
        vecs = dict(np.load(args.cache))
    else:
        start = time.monotonic()
        vecs = encode_all(args.encoder, videos, args.max_frames)
        print(f"encoded in {time.monotonic() - start:.0f} s", file=sys.stderr)
        if args.cache:
            np.savez(args.cache, **vecs)
    titles = sorted(set(title.values()))
    folds = [[v for v in videos if titles.index(title[v]) % args.folds == f] for f in range(args.folds)]

    rows = {"full": Tally(), **{f"pca {k}": Tally() for k in ks},
            **({} if args.no_random else {f"rand {k}": Tally() for k in ks})}
    for f, test in enumerate(folds):
        train = [v for v in videos if v not in test]
        train_groups = [vecs[v] for v in train]
        full = measure(rows["full"], None, vecs, test, title, None)
        for key, t in rows.items():
            if key == "full":
                continue
            kind, k = key.split()
            if kind == "pca":
                proj, kept = fit_pca(train_groups, int(k))
                t.kept_fit.append(kept)
            else:
                proj = random_projection(int(k), vecs[videos[0]].shape[1])
                t.kept_fit.append(kept_share(proj, train_groups))
            t.kept_held.append(kept_share(proj, [vecs[v] for v in test]))
            measure(t, proj, vecs, test, title, full)
        print(f"fold {f}: fitted on {len(train)} videos ({sum(len(g) for g in train_groups)} frames), "
              f"measured on {len(test)}", file=sys.stderr)

    dim = vecs[videos[0]].shape[1]
    n_pos, n_neg = len(rows["full"].cat("pos")), len(rows["full"].cat("neg"))
    n_frames = sum(len(vecs[v]) for v in videos)
    print(f"{len(videos)} videos, {n_frames} non-blank frames, {len(EDITS)} edits; {args.folds} folds by "
          f"title: {n_pos} copy pairs, {n_neg} distractor pairs; cosine similarities; d = projected - full")
    head = (f"{'dims':>9} {'kept fit':>8} {'held':>5} | {'copy mean':>9} {'d mean':>7} {'max|d|':>7} | "
            f"{'distr mean':>10} {'d mean':>7} {'p99':>6} {'max':>6} | {'AP':>6} | {'int8 max|d|':>11}")
    print(head)
    print("-" * len(head))
    for key, t in rows.items():
        pos, neg = t.cat("pos"), t.cat("neg")
        dpos, dneg = pos - t.cat("pos_full"), neg - t.cat("neg_full")
        kept = f"{np.mean(t.kept_fit or 1):8.3f} {np.mean(t.kept_held or 1):5.3f}"
        print(f"{key.replace('full', f'full {dim}'):>9} {kept} | {pos.mean():9.3f} {dpos.mean():+7.3f} "
              f"{np.abs(dpos).max():7.3f} | {neg.mean():10.3f} {dneg.mean():+7.3f} {np.percentile(neg, 99):6.3f} "
              f"{neg.max():6.3f} | {average_precision(pos, neg):6.4f} | {t.int8:11.4f}")

    print(f"\nagainst the thresholds calibrated on full vectors: frame {FRAME_THRESHOLD}; segment (mean of "
          f"{WINDOW} aligned frames) {MATCH_THRESHOLD}")
    head = (f"{'dims':>9} | {'copies>=.38':>11} {'distr>=.38':>10} | {'seg copy min':>12} {'mean':>6} | "
            f"{'seg distr max':>13} {'>=.55':>6}")
    print(head)
    print("-" * len(head))
    for key, t in rows.items():
        pos, neg, sp, sn = t.cat("pos"), t.cat("neg"), t.cat("seg_pos"), t.cat("seg_neg")
        print(f"{key.replace('full', f'full {dim}'):>9} | {np.mean(pos >= FRAME_THRESHOLD):11.3f} "
              f"{np.mean(neg >= FRAME_THRESHOLD):10.5f} | {sp.min():12.3f} {sp.mean():6.3f} | "
              f"{sn.max():13.3f} {np.mean(sn >= MATCH_THRESHOLD):6.4f}")

    print("\ncopy similarity by edit (mean)")
    head = f"{'dims':>9} | " + " ".join(f"{e:>9}" for e in EDITS)
    print(head)
    print("-" * len(head))
    for key, t in rows.items():
        by_edit = np.nanmean(np.concatenate(t.pos_edit), axis=0)
        print(f"{key.replace('full', f'full {dim}'):>9} | " + " ".join(f"{v:9.3f}" for v in by_edit))


if __name__ == "__main__":
    main()
