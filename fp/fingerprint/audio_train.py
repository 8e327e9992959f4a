"""Train fp's audio encoder contrastively, in the style of Neural Audio Fingerprint (Chang et al.,
2021): the positive pair is one second of audio before and after augmentation (noise at 0-10 dB
SNR, low-bitrate mp3/aac, band-limiting and EQ, reverb, volume, speed and pitch change up to
+-5 % including PAL 25/24), the other pairs of the batch are the negatives.

    python -m fp.fingerprint.audio_train            # reproduces the shipped fp-audio-v1

Sources: ../shared/media/audio (minus the files held out for bench/audio.py), the soundtracks of
../shared/media/video and Debian's wesnoth-1.16-music (`apt-get install wesnoth-1.16-music`).
"""

from __future__ import annotations

import argparse
import math
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from fp.data.decode import decode_audio
from fp.data.edits import write_wav
from fp.data.probe import probe, require_tool
from fp.errors import FPError
from fp.fingerprint.audio import SAMPLE_RATE, SHIPPED, AudioNet, AudioNetConfig, save_audio_model
from fp.fingerprint.trained import weights_dir

ROOT = Path(__file__).resolve().parents[2]
SHARED = ROOT.parent / "shared" / "media"
WESNOTH = Path("/usr/share/games/wesnoth/1.16/data/core/music")

# (name, ffmpeg audio filter or None, codec args, speed): content at original time t sits at t / speed.
VARIANTS = [
    ("mp3-32k", None, ["-c:a", "libmp3lame", "-b:a", "32k"], 1.0),
    ("aac-24k", None, ["-c:a", "aac", "-b:a", "24k"], 1.0),
    ("pal-speedup", f"asetrate={SAMPLE_RATE * 25 / 24:.3f},aresample={SAMPLE_RATE}", ["-c:a", "libmp3lame", "-b:a", "48k"], 25 / 24),
    ("pal-slowdown", f"asetrate={SAMPLE_RATE * 24 / 25:.3f},aresample={SAMPLE_RATE}", ["-c:a", "aac", "-b:a", "48k"], 24 / 25),
    ("tempo+5", "atempo=1.05", ["-c:a", "libmp3lame", "-b:a", "40k"], 1.05),
    ("tempo-5", "atempo=0.95", ["-c:a", "aac", "-b:a", "40k"], 0.95),
    ("band-eq", "highpass=f=250,lowpass=f=3400,equalizer=f=1200:t=q:w=1:g=8", ["-c:a", "libmp3lame", "-b:a", "32k"], 1.0),
    ("reverb", "aecho=0.8:0.8:50|110:0.35|0.25", ["-c:a", "aac", "-b:a", "48k"], 1.0),
]


@dataclass(frozen=True)
class TrainConfig:
    steps: int = 3000
    batch: int = 128
    lr: float = 2e-3
    temperature: float = 0.05
    max_seconds_per_file: float = 120.0
    jitter: float = 0.25
    """Positives are shifted up to this many seconds: queries never fall on the reference's hop."""
    seed: int = 0


def held_out_audio() -> list[Path]:
    """Every third shared audio file (sorted by name): never trained on, used by bench/audio.py."""
    return sorted((SHARED / "audio").iterdir())[::3]


def default_sources() -> list[Path]:
    held = set(held_out_audio())
    files = [p for p in sorted((SHARED / "audio").iterdir()) if p not in held]
    files += [p for p in sorted((SHARED / "video").iterdir()) if _has_audio(p)]
    files += sorted(WESNOTH.glob("*.ogg"))
    return files


def _has_audio(path: Path) -> bool:
    try:
        return probe(path).has_audio
    except FPError:
        return False


def _ffmpeg_variant(clean: np.ndarray, afilter: str | None, codec: list[str], tmp: Path) -> np.ndarray:
    src = write_wav(tmp / "clean.wav", clean, SAMPLE_RATE)
    enc = tmp / f"v.{'mp3' if 'libmp3lame' in codec else 'm4a'}"
    args = [require_tool("ffmpeg"), "-nostdin", "-v", "error", "-y", "-i", str(src)]
    args += (["-af", afilter] if afilter else []) + codec + [str(enc)]
    subprocess.run(args, check=True, timeout=600, stdin=subprocess.DEVNULL)
    return decode_audio(probe(enc))


def build_corpus(files: list[Path], cfg: TrainConfig, log=print) -> tuple[list[np.ndarray], list[list[np.ndarray]]]:
    """Clean audio per file and its augmented variants (same order as VARIANTS)."""
    clean, variants = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for i, path in enumerate(files):
            try:
                pcm = decode_audio(probe(path))[: int(cfg.max_seconds_per_file * SAMPLE_RATE)]
            except FPError as exc:
                log(f"skip {path.name}: {exc}")
                continue
            if len(pcm) < 3 * SAMPLE_RATE:
                continue
            clean.append(pcm.astype(np.float32))
            variants.append([_ffmpeg_variant(pcm, f, c, Path(tmp)) for _, f, c, _ in VARIANTS])
            if (i + 1) % 10 == 0:
                log(f"prepared {i + 1}/{len(files)} files")
    return clean, variants


def _noise(rng: np.random.Generator, n: int, clean: list[np.ndarray]) -> np.ndarray:
    kind = rng.integers(3)
    if kind == 0:
        return rng.normal(size=n).astype(np.float32)
    if kind == 1:  # pinkish: integrated white noise, high-passed by differencing the mean
        pink = np.cumsum(rng.normal(size=n)).astype(np.float32)
        return pink - np.convolve(pink, np.ones(401) / 401, mode="same")
    other = clean[rng.integers(len(clean))]  # babble: another recording
    start = rng.integers(max(1, len(other) - n))
    piece = other[start:start + n]
    return np.pad(piece, (0, n - len(piece)))


def sample_batch(rng: np.random.Generator, clean, variants, cfg: TrainConfig) -> tuple[np.ndarray, np.ndarray]:
    size = SAMPLE_RATE  # one-second windows
    lengths = np.array([len(c) for c in clean], np.float64)
    files = rng.choice(len(clean), size=cfg.batch, p=lengths / lengths.sum())
    anchors, positives = np.zeros((cfg.batch, size), np.float32), np.zeros((cfg.batch, size), np.float32)
    for row, f in enumerate(files):
        v = rng.integers(len(VARIANTS))
        speed = VARIANTS[v][3]
        aug = variants[f][v]
        limit = min(len(clean[f]), int(len(aug) * speed)) - size - int(cfg.jitter * SAMPLE_RATE) * 2
        t = int(rng.integers(int(cfg.jitter * SAMPLE_RATE), max(limit, int(cfg.jitter * SAMPLE_RATE) + 1)))
        anchors[row] = np.pad(clean[f][t:t + size], (0, max(0, size - len(clean[f][t:t + size]))))
        shift = rng.uniform(-cfg.jitter, cfg.jitter) * SAMPLE_RATE
        u = max(0, int((t + shift) / speed))
        piece = aug[u:u + size]
        pos = np.pad(piece, (0, size - len(piece)))
        if rng.random() < 0.85:  # noise at 0-10 dB SNR
            noise = _noise(rng, size, clean)
            snr = rng.uniform(0, 10)
            p_sig, p_noise = np.mean(pos ** 2) + 1e-9, np.mean(noise ** 2) + 1e-9
            pos = pos + noise * math.sqrt(p_sig / (p_noise * 10 ** (snr / 10)))
        pos *= 10 ** (rng.uniform(-12, 6) / 20)
        positives[row] = np.clip(pos, -1, 1)
    return anchors, positives


def nt_xent(a: torch.Tensor, b: torch.Tensor, temperature: float) -> torch.Tensor:
    z = torch.cat([a, b])
    sims = z @ z.T / temperature
    sims.fill_diagonal_(-1e9)
    n = len(a)
    targets = torch.cat([torch.arange(n, 2 * n), torch.arange(0, n)]).to(z.device)
    return F.cross_entropy(sims, targets)


def train(clean, variants, cfg: TrainConfig, net_cfg: AudioNetConfig, log=print,
          device: str = "cpu") -> AudioNet:
    torch.manual_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    model = AudioNet(net_cfg).to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=cfg.lr, total_steps=cfg.steps, pct_start=0.1)
    started = time.monotonic()
    for step in range(1, cfg.steps + 1):
        a, p = sample_batch(rng, clean, variants, cfg)
        loss = nt_xent(model(torch.from_numpy(a).to(device)), model(torch.from_numpy(p).to(device)),
                       cfg.temperature)
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        if step % 50 == 0 or step == cfg.steps:
            log(f"step {step}/{cfg.steps} loss {loss.item():.3f} ({time.monotonic() - started:.0f} s)")
    return model.eval()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=weights_dir() / f"{SHIPPED}.safetensors")
    parser.add_argument("--steps", type=int, default=TrainConfig.steps)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = parser.parse_args(argv)
    torch.set_num_threads(max(1, torch.get_num_threads()))
    cfg, net_cfg = TrainConfig(steps=args.steps), AudioNetConfig()
    log = lambda msg: print(msg, file=sys.stderr, flush=True)  # noqa: E731
    files = default_sources()
    if not any(WESNOTH.glob("*.ogg")):
        log("note: wesnoth-1.16-music is not installed; training on ../shared/media only")
    started = time.monotonic()
    clean, variants = build_corpus(files, cfg, log)
    prep = time.monotonic() - started
    log(f"corpus: {len(clean)} files, {sum(map(len, clean)) / SAMPLE_RATE / 3600:.2f} h clean, "
        f"{len(VARIANTS)} variants each ({prep:.0f} s)")
    model = train(clean, variants, cfg, net_cfg, log, args.device)
    total = time.monotonic() - started
    save_audio_model(model, net_cfg, args.out, {
        "training": asdict(cfg), "variants": [v[0] for v in VARIANTS], "device": args.device,
        "train_seconds": round(total), "hours_of_audio": round(sum(map(len, clean)) / SAMPLE_RATE / 3600, 3),
        "sources": [p.name for p in files], "held_out": [p.name for p in held_out_audio()]})
    log(f"wrote {args.out} in {total:.0f} s")


if __name__ == "__main__":
    main()
