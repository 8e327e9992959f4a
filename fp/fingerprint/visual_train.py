"""Train fp-visual-v1, fp's copy-detection descriptor, in the manner of SSCD (Pizzi et al., 2022):
pirated views of one frame are positives, the other frames of the batch negatives (InfoNCE), and a
KoLeo term spreads the embeddings over the sphere so that unrelated frames stay apart. Frames of
the same video or photograph are never each other's negatives: a second apart they are near
duplicates, and pushing them apart teaches the head to magnify motion, which a copy sampled off
the catalogue's instants shows.

    python -m fp.fingerprint.visual_train        # trains fp-visual-v1 by the shipped recipe

Not the shipped weights bit for bit. Their views were cropped before black bars were judged
inside each other's (fp.fingerprint.frames.border_box, session 24), which crops 42 of 600 random
views otherwise: a head retrained now scores bench/frames.py's queries within 0.082 of the
shipped head (0.012 on average), its table's rows within 0.005 of AP. Even from the same views,
views encoded afresh differ in the last float digits, which can flip the sign of a principal
direction the skip starts from or turn two nearly tied ones (session 23: 4 of 256 rows;
similarities within 0.017, 0.003 on average).

The trunk (EfficientNet-Lite0, ImageNet weights) stays frozen; only the head
(fp.fingerprint.visual_head) is trained, so every view is encoded by the trunk once and the head
trains on the cached embeddings: minutes on two CPU cores. The head's linear skip starts as the
principal directions of the views' trunk embeddings, so training starts from the ImageNet
features' own ranking (which finds the exact source frame well) and moves it gently towards the
copies (`TrainConfig.lr`, `TrainConfig.steps`). A subspace of the ImageNet features is more alike
for unrelated frames than the whole (median cosine 0.16 against -0.02), so the trained head's
output is centred on the views' mean (`centre_output`): unrelated frames score about 0 again, as
fp's thresholds expect.

Data: frames of ../shared/media/video at 1 per second (minus the clips in `HELD_OUT`, which
bench/frames.py and the accuracy benchmark measure on) and random crops of the photographs of
Debian's wallpaper packages (`apt-get install gnome-backgrounds mate-backgrounds
plasma-workspace-wallpapers ukui-wallpapers lomiri-wallpapers`). Each frame gets `VIEWS` views
through random chains of the edits of fp.fingerprint.visual_augment; some views of a video frame
start from the frame an eighth of a second before or after it (`NEIGHBOUR_SHARE`).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from fp.data.probe import require_tool
from fp.fingerprint import frames as frame_prep, visual_augment
from fp.fingerprint.trained import SHIPPED_VISUAL, weights_dir
from fp.fingerprint.frames import blank_mask, fill_frames
from fp.fingerprint.visual_head import CopyHead, HeadConfig, save_head

ROOT = Path(__file__).resolve().parents[2]
MEDIA = ROOT.parent / "shared" / "media" / "video"
PHOTO_DIRS = [Path("/usr/share/backgrounds"), Path("/usr/share/wallpapers")]
PHOTO_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp"}
HELD_OUT = ["moviepy_big_buck_bunny_0_30.webm", "bower_bbb_480p_30s.mp4", "psd_goldeneye_vfr_drop3.mp4",
            "psd_goldeneye_rotated_audio.mp4", "dvrscan_traffic_camera.mp4", "dvrscan_traffic_camera_vfr.mp4",
            "psd_tv_documentary.mp4", "psd_testvideo.mp4", "intel_car-detection.mp4", "videohash_nasa_rocket.mkv",
            "mejs_echo-hereweare.webm", "zwm_sintel.mp4", "zwm_caminandes.mp4", "imageio_cockatoo.mp4",
            "intel_one-by-one-person-detection.mp4", "videollama_birthday.mp4", "intel_bottle-detection.mp4",
            "videollava_demo22_drums.mp4"]
"""Never trained on: the accuracy benchmark's catalogue (bench/accuracy.py) and the natural copies
of its titles. bench/frames.py measures on them."""
BASE_SIZE = (384, 216)
"""Frames and photo crops are edited at this 16:9 size, then squashed to the encoder's square as
fp's decoder does."""
FRAME_SIZE = 224
"""fp's frame_size: the square the decoder hands to the encoder."""
FRAMES_PER_SECOND = 1.0
MAX_FRAMES_PER_VIDEO = 40
NEIGHBOUR_RATE = 8
"""Video frames are decoded this many times per base frame; the base frame's neighbours, one
decoded frame either side (an eighth of a second at 1 frame/s), are the starting point of some of
its views."""
NEIGHBOUR_SHARE = 0.5
"""Share of a video frame's views made from a neighbour rather than the frame itself. A suspect's
samples never fall on the catalogue's instants: fp tries four phases a quarter step (1/8 s) apart,
so a copy's frames lie up to 1/16 s off, more through speed and frame-rate changes; in fast action
that costs more similarity than most edits (0.76 -> 0.45 at 1/8 s for Sintel's trailer)."""
DECODE_TIMEOUT = 300.0
"""Seconds one video's frames may take to decode (its first MAX_FRAMES_PER_VIDEO seconds)."""
CROPS_PER_PHOTO = 4
"""Random 16:9 crops taken from each photograph (they are large: 1920-5000 px)."""
MIN_CROP = 0.35
"""A crop covers at least this share of the photograph's width."""
VIEWS = 8
"""Pirated views encoded per frame, beside the frame itself."""
CACHE = Path.home() / ".cache" / "fp-match" / "visual-train"


@dataclass(frozen=True)
class TrainConfig:
    steps: int = 200
    """Few: from the principal directions, held-out frames (bench/frames.py) gained little after
    200 steps at this rate (mean AP 0.869 at 200 steps, 0.873 at 300, recall@1 0.938 both; the
    earlier recipe lost on them with longer training)."""
    batch: int = 256
    lr: float = 3e-4
    """Gentle: 1e-3 moved the head away from the ImageNet ranking (recall@1 0.931 against 0.938)."""
    weight_decay: float = 1e-4
    temperature: float = 0.05
    koleo: float = 0.1
    """Weight of the KoLeo spreading term (DINOv2's)."""
    seed: int = 0


def decode_frames(path: Path, fps: float = FRAMES_PER_SECOND, limit: int = MAX_FRAMES_PER_VIDEO) -> list[Image.Image]:
    """Up to `limit` frames of `path` at `fps`, squashed to BASE_SIZE."""
    w, h = BASE_SIZE
    cmd = [require_tool("ffmpeg"), "-nostdin", "-v", "error", "-i", str(path), "-vf",
           f"fps={fps},scale={w}:{h}:flags=area", "-frames:v", str(limit), "-f", "rawvideo", "-pix_fmt", "rgb24", "-"]
    raw = subprocess.run(cmd, capture_output=True, check=True, stdin=subprocess.DEVNULL, timeout=DECODE_TIMEOUT).stdout
    frames = np.frombuffer(raw, np.uint8)[: len(raw) // (w * h * 3) * w * h * 3].reshape(-1, h, w, 3)
    return [Image.fromarray(f) for f in frames]


def photo_paths(dirs: list[Path]) -> list[Path]:
    """Every photograph under `dirs`, one file per wallpaper (the largest of its sizes)."""
    best: dict[Path, Path] = {}
    for folder in dirs:
        for path in sorted(folder.rglob("*")):
            if path.suffix.lower() not in PHOTO_SUFFIXES or not path.is_file():
                continue
            # KDE ships one wallpaper in many sizes: NAME/contents/images/WxH.jpg
            key = path.parents[2] if path.parent.name.startswith("images") else path
            if key not in best or path.stat().st_size > best[key].stat().st_size:
                best[key] = path
    return sorted(best.values())


def photo_crops(path: Path, rng: random.Random, n: int = CROPS_PER_PHOTO) -> list[Image.Image]:
    with Image.open(path) as im:
        im = im.convert("RGB")
        out = []
        for _ in range(n):
            cw = round(im.width * rng.uniform(MIN_CROP, 1.0))
            ch = min(round(cw * 9 / 16), im.height)
            cw = round(ch * 16 / 9)
            x, y = rng.randint(0, im.width - cw), rng.randint(0, im.height - ch)
            out.append(im.crop((x, y, x + cw, y + ch)).resize(BASE_SIZE, Image.BOX))
        return out


@dataclass
class BaseFrames:
    """The frames views are made of: each frame, the frames next to it in time (video frames
    only), and the video or photograph it comes from (`group`: frames of one group are never
    each other's negatives)."""

    frames: list[Image.Image]
    neighbours: list[list[Image.Image]]
    group: np.ndarray


def video_frames(path: Path, limit: int = MAX_FRAMES_PER_VIDEO) -> tuple[list[Image.Image], list[list[Image.Image]]]:
    """Up to `limit` base frames of a video at FRAMES_PER_SECOND and their neighbours in time."""
    dense = decode_frames(path, fps=FRAMES_PER_SECOND * NEIGHBOUR_RATE, limit=limit * NEIGHBOUR_RATE)
    centre = NEIGHBOUR_RATE // 2
    frames, neighbours = [], []
    for k in range(centre, len(dense), NEIGHBOUR_RATE):
        frames.append(dense[k])
        neighbours.append([dense[j] for j in (k - 1, k + 1) if j < len(dense)])
    return frames, neighbours


def training_frames(rng: random.Random, media: Path = MEDIA, photo_dirs: list[Path] = PHOTO_DIRS
                    ) -> tuple[BaseFrames, dict]:
    """The base frames to make views of, and a description of where they come from."""
    videos = sorted(p for p in media.iterdir() if p.is_file() and p.name not in HELD_OUT)
    frames, neighbours, group, used = [], [], [], []
    for path in videos:
        try:
            got, near = video_frames(path)
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired):
            continue  # audio-only or undecodable: nothing to learn from
        if got:
            frames.extend(got)
            neighbours.extend(near)
            group.extend([len(used)] * len(got))
            used.append(path.name)
    photos = photo_paths(photo_dirs)
    for k, path in enumerate(photos):
        crops = photo_crops(path, rng)
        frames.extend(crops)
        neighbours.extend([[] for _ in crops])
        group.extend([len(used) + k] * len(crops))
    return BaseFrames(frames, neighbours, np.array(group)), {
        "videos": used, "held_out": HELD_OUT, "photographs": [str(p) for p in photos],
        "crops_per_photograph": CROPS_PER_PHOTO, "frames_per_second": FRAMES_PER_SECOND,
        "max_frames_per_video": MAX_FRAMES_PER_VIDEO, "neighbour_seconds": 1 / (FRAMES_PER_SECOND * NEIGHBOUR_RATE),
        "neighbour_share": NEIGHBOUR_SHARE}


def prepare(images: list[Image.Image]) -> tuple[np.ndarray, np.ndarray]:
    """Images as fp's extractor hands them to the encoder (squashed square, black bars trimmed)
    and which of them carry a picture (fp skips blank frames)."""
    from fp.config import Config

    cfg = Config()
    filled = fill_frames(np.stack([visual_augment.to_square(im, FRAME_SIZE) for im in images]),
                         bars_judged_inside=cfg.bars_judged_inside)
    return filled, ~blank_mask(filled, cfg.blank_std, cfg.plain_share)


def encode_views(trunk, bases: BaseFrames, rng: random.Random, views: int = VIEWS,
                 log=print) -> tuple[np.ndarray, np.ndarray]:
    """Trunk embeddings of every base frame (view 0) and `views` pirated views of it or of its
    neighbours: (n, views + 1, dim) float32, and which of them are usable (n, views + 1): not
    blank."""
    n = len(bases.frames)
    out = np.zeros((n, views + 1, trunk.dim), np.float32)
    ok = np.zeros((n, views + 1), bool)
    start = time.monotonic()
    for i, (base, near) in enumerate(zip(bases.frames, bases.neighbours)):
        starts = [rng.choice(near) if near and rng.random() < NEIGHBOUR_SHARE else base for _ in range(views)]
        images = [base] + [visual_augment.random_view(im, rng, host=rng.choice(bases.frames)) for im in starts]
        frames, usable = prepare(images)
        out[i], ok[i] = trunk.encode(frames), usable
        if (i + 1) % 200 == 0 or i + 1 == n:
            log(f"views: {i + 1}/{n} frames, {time.monotonic() - start:.0f} s")
    return out, ok


def training_views(seed: int, trunk_name: str, runtime: str, log=print
                   ) -> tuple[BaseFrames, dict, np.ndarray, np.ndarray, bool]:
    """The base frames (`training_frames`), their sources, their views' trunk embeddings and
    usability (`encode_views`), and whether those came from the cache (CACHE: keyed by the
    sources, the seed, the trunk, its runtime and the code that makes and prepares views)."""
    from fp.fingerprint.runtime import load_visual

    rng = random.Random(seed)
    bases, sources = training_frames(rng)
    code = [Path(module.__file__).read_text() for module in (visual_augment, frame_prep, sys.modules[__name__])]
    key = hashlib.sha256(json.dumps([sources, VIEWS, seed, trunk_name, runtime, code]).encode()
                         ).hexdigest()[:16]  # views made by other code are not reused
    cache = CACHE / f"views-{key}.npz"
    if cache.is_file():
        data = np.load(cache, allow_pickle=False)
        log(f"{len(bases.frames)} frames; views from {cache}")
        return bases, sources, data["embeddings"], data["ok"], True
    log(f"{len(bases.frames)} frames ({len(sources['videos'])} videos, {len(sources['photographs'])} photographs)")
    embeddings, ok = encode_views(load_visual(trunk_name, runtime), bases, rng, log=log)
    cache.parent.mkdir(parents=True, exist_ok=True)
    np.savez(cache, embeddings=embeddings, ok=ok)
    return bases, sources, embeddings, ok, False


def koleo(z: torch.Tensor, same: torch.Tensor) -> torch.Tensor:
    """Kozachenko-Leonenko entropy estimate, negated: small when every embedding's nearest
    neighbour among the other groups (`same`: pairs of one group, the diagonal among them) is
    far."""
    dots = (z @ z.T).masked_fill(same, -2.0)
    nearest = torch.sqrt(torch.clamp(2 - 2 * dots.max(dim=1).values, min=1e-8))
    return -torch.log(nearest).mean()


def pick_pairs(ok: np.ndarray, rows: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Two different usable views of each row (the frame itself among them)."""
    a, b = np.empty(len(rows), int), np.empty(len(rows), int)
    for k, r in enumerate(rows):
        a[k], b[k] = rng.choice(np.flatnonzero(ok[r]), 2, replace=False)
    return a, b


def principal_directions(x: np.ndarray, k: int) -> np.ndarray:
    """The `k` leading right singular vectors of `x` (n, dim), uncentred as fp's vectors are
    (centred on background footage already): (k, dim)."""
    _, _, vh = np.linalg.svd(x.astype(np.float64), full_matrices=False)
    return vh[:k].astype(np.float32)


def train(embeddings: np.ndarray, ok: np.ndarray, group: np.ndarray, cfg: TrainConfig, head_cfg: HeadConfig,
          log=print) -> tuple[CopyHead, list[float]]:
    """Train a head on cached trunk embeddings (n, views + 1, dim) of frames of `group`s; returns
    it and the loss per step."""
    torch.manual_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    usable = np.flatnonzero(ok.sum(1) >= 2)
    x = torch.from_numpy(embeddings)
    model = CopyHead(head_cfg)
    with torch.no_grad():
        model.skip.weight.copy_(torch.from_numpy(principal_directions(embeddings[ok], head_cfg.dim)))
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, cfg.lr, total_steps=cfg.steps, pct_start=0.05)
    batch = min(cfg.batch, len(usable))
    labels = torch.arange(batch)
    groups = torch.from_numpy(group)
    losses = []
    for step in range(cfg.steps):
        rows = rng.choice(usable, batch, replace=False)
        a, b = pick_pairs(ok, rows, rng)
        z1, z2 = model(x[rows, a]), model(x[rows, b])
        g = groups[rows]
        same = g[:, None] == g[None, :]
        logits = (z1 @ z2.T / cfg.temperature).masked_fill(same & ~torch.eye(batch, dtype=torch.bool), float("-inf"))
        loss = (F.cross_entropy(logits, labels) + F.cross_entropy(logits.T, labels)) / 2 \
            + cfg.koleo * koleo(torch.cat([z1, z2]), same.repeat(2, 2))
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        losses.append(loss.item())
        if (step + 1) % 100 == 0:
            log(f"step {step + 1}/{cfg.steps}: loss {np.mean(losses[-100:]):.4f}")
    return model.eval(), losses


def centre_output(model: CopyHead, x: np.ndarray) -> None:
    """Move the head's bias so that its output before normalisation averages 0 over trunk
    embeddings `x` (n, dim)."""
    with torch.no_grad():
        model.fc2.bias.sub_(model.unnormalised(torch.from_numpy(x)).mean(0))


def reference_embedding(model: CopyHead) -> dict:
    """A stored embedding of one real frame through the float32 torch trunk and the head, for the
    test that the shipped weights load and reproduce it."""
    from fp.fingerprint.encoders import load_visual_encoder

    video, second = HELD_OUT[0], 5.0
    frame = decode_frames(MEDIA / video, fps=1.0, limit=int(second) + 1)[int(second)]
    frames, _ = prepare([frame])
    trunk = load_visual_encoder("efficientnet_lite0", "cpu")
    with torch.inference_mode():
        emb = model(torch.from_numpy(trunk.encode(frames)))[0].numpy()
    return {"video": video, "frames_per_second": 1.0, "frame": int(second),
            "embedding": [round(float(v), 7) for v in emb]}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=TrainConfig.steps)
    ap.add_argument("--out", type=Path, default=weights_dir() / f"{SHIPPED_VISUAL}.safetensors")
    ap.add_argument("--dim", type=int, default=HeadConfig.dim, help="output dimensions")
    ap.add_argument("--runtime", default="onnx", help="trunk runtime for the cached views (default onnx: float32)")
    args = ap.parse_args(argv)
    log = lambda msg: print(msg, file=sys.stderr, flush=True)  # noqa: E731
    cfg, head_cfg = TrainConfig(steps=args.steps), HeadConfig(dim=args.dim)
    start = time.monotonic()
    bases, sources, embeddings, ok, cached = training_views(cfg.seed, head_cfg.trunk, args.runtime, log=log)
    view_seconds = time.monotonic() - start
    model, losses = train(embeddings, ok, bases.group, cfg, head_cfg, log)
    centre_output(model, embeddings[ok])
    total = time.monotonic() - start
    save_head(model, head_cfg, args.out, {
        "training": asdict(cfg), "views_per_frame": VIEWS, "edits": sorted(visual_augment.EDITS),
        "trunk_runtime": args.runtime, "frames": len(bases.frames), "data": sources,
        "final_loss": round(float(np.mean(losses[-100:])), 4),
        "seconds": {"views": round(view_seconds), "total": round(total)}, "views_from_cache": cached,
        "machine": f"{torch.get_num_threads()} CPU threads", "reference": reference_embedding(model)})
    log(f"wrote {args.out} ({total:.0f} s)")


if __name__ == "__main__":
    main()
