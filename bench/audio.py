"""Audio top-1 hit rate of fp's audio encoder against Chromaprint (`fpcalc`) with offset voting.

    python -m bench.audio [--per-file N] [--seed S]

References: every audio file of ../shared/media/audio and every soundtrack of
../shared/media/video (up to 180 s each). Queries: 1 s, 2 s and 5 s excerpts of the audio files
held out from training (fp.fingerprint.audio_train.held_out_audio), under five conditions:
noise (white, pink or babble at 0-10 dB SNR), re-encode (mp3 at 32 kbit/s), speed change
(PAL 25/24 with pitch, and -4 % tempo), pitch shift of 3-6 % up or down with the tempo kept, and
the camcord room (band-limited, echoed, pink room noise; aac at 64 kbit/s), both drawn from the
public accuracy benchmark's ranges (bench/accuracy.py). A hit is the right file with the right
offset (+-1 s). Both systems search the same references with the same queries in the same run.
"""

from __future__ import annotations

import argparse
import subprocess
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np

from bench.accuracy import ECHO_DECAY, ECHO_MS, HIGH_CUT_HZ, LOW_CUT_HZ, PITCH_SHIFT, ROOM_NOISE
from fp.data import decode_audio, probe
from fp.data.edits import pitch_shift, room_sound, write_wav
from fp.errors import FPError
from fp.fingerprint.audio import SAMPLE_RATE, AudioEncoder
from fp.fingerprint.audio_train import SHARED, _noise, held_out_audio
from fp.index.vectors import VectorIndex

HOP = 0.5
LENGTHS = (1.0, 2.0, 5.0)
CHROMA_HOP = 4096 / 3 / 11025  # Chromaprint's item spacing in seconds (about 0.124 s)
CONDITIONS = ("noise", "re-encode", "speed", "pitch", "room")


def wav(path: Path, pcm: np.ndarray) -> Path:
    return write_wav(path, pcm, SAMPLE_RATE)


def ffmpeg(src: Path, dst: Path, *args: str) -> np.ndarray:
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", "-i", str(src), *args, str(dst)],
                   check=True, timeout=120)
    return decode_audio(probe(dst))


def chromaprint(path: Path) -> np.ndarray:
    out = subprocess.run(["fpcalc", "-raw", "-length", "0", str(path)], capture_output=True,
                         text=True, timeout=120)
    for line in out.stdout.splitlines():
        if line.startswith("FINGERPRINT=") and len(line) > 12:
            return np.array([int(v) for v in line[12:].split(",")], np.int64).astype(np.uint32)
    return np.zeros(0, np.uint32)


def popcount(x: np.ndarray) -> np.ndarray:
    x = x.astype(np.uint32)
    return np.unpackbits(x.view(np.uint8).reshape(-1, 4), axis=1).sum(axis=1)


class ChromaprintIndex:
    """Offset voting over items whose bit error is at most `max_bits`."""

    def __init__(self, prints: list[np.ndarray], max_bits: int = 4):
        self.items = np.concatenate(prints) if prints else np.zeros(0, np.uint32)
        self.file = np.concatenate([np.full(len(p), i) for i, p in enumerate(prints)])
        self.pos = np.concatenate([np.arange(len(p)) for p in prints])
        self.max_bits = max_bits

    def search(self, query: np.ndarray) -> tuple[int, float] | None:
        votes: Counter = Counter()
        for i, item in enumerate(query):
            close = np.flatnonzero(popcount(self.items ^ item) <= self.max_bits)
            for j in close:
                votes[(int(self.file[j]), int(self.pos[j]) - i)] += 1
        if not votes:
            return None
        (f, offset), _ = votes.most_common(1)[0]
        return f, offset * CHROMA_HOP


class FpAudioIndex:
    def __init__(self, encoder: AudioEncoder, refs: list[np.ndarray]):
        self.encoder = encoder
        vecs, self.file, self.time = [], [], []
        for i, pcm in enumerate(refs):
            v = encoder.encode(encoder.windows(pcm, HOP))
            vecs.append(v)
            self.file += [i] * len(v)
            self.time += list(np.arange(len(v)) * HOP)
        self.index = VectorIndex(encoder.dim)
        allv = np.concatenate(vecs)
        self.index.add(np.arange(len(allv)), allv)
        self.file, self.time = np.array(self.file), np.array(self.time)

    def search(self, pcm: np.ndarray) -> tuple[int, float] | None:
        windows = self.encoder.windows(pcm, HOP)
        if len(pcm) >= SAMPLE_RATE:  # only whole windows
            windows = windows[: max(1, int((len(pcm) - SAMPLE_RATE) / (HOP * SAMPLE_RATE)) + 1)]
        sims, ids = self.index.search(self.encoder.encode(windows), 5)
        votes: dict = defaultdict(float)
        for k, (row_s, row_i) in enumerate(zip(sims, ids)):
            for s, j in zip(row_s, row_i):
                votes[(int(self.file[j]), round((self.time[j] - k * HOP) / HOP))] += float(s)
        (f, offset), _ = max(votes.items(), key=lambda kv: kv[1])
        return f, offset * HOP


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--per-file", type=int, default=6)
    parser.add_argument("--seed", type=int, default=3)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    paths = sorted((SHARED / "audio").iterdir())
    for video in sorted((SHARED / "video").iterdir()):
        try:
            if probe(video).has_audio:
                paths.append(video)
        except FPError:
            pass
    refs = [decode_audio(probe(p))[: 180 * SAMPLE_RATE] for p in paths]
    held = [paths.index(p) for p in held_out_audio()]
    started = time.perf_counter()
    encoder = AudioEncoder()
    fp_index = FpAudioIndex(encoder, refs)
    fp_build = time.perf_counter() - started
    results: dict = defaultdict(lambda: [0, 0, 0])  # (length, condition) -> fp hits, chroma hits, n
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        ref_wavs = [wav(tmp / f"ref{i}.wav", pcm) for i, pcm in enumerate(refs)]
        chroma = ChromaprintIndex([chromaprint(p) for p in ref_wavs])
        for f in held:
            pcm = refs[f]
            for _ in range(args.per_file):
                for length in LENGTHS:
                    start = float(rng.uniform(0, max(0.0, len(pcm) / SAMPLE_RATE - length - 1)))
                    piece = pcm[int(start * SAMPLE_RATE): int((start + length) * SAMPLE_RATE)]
                    src = wav(tmp / "q.wav", piece)
                    conditions = {
                        "noise": None,
                        "re-encode": ffmpeg(src, tmp / "q.mp3", "-c:a", "libmp3lame", "-b:a", "32k"),
                        "speed": ffmpeg(src, tmp / "q.m4a", "-af", (
                            f"asetrate={SAMPLE_RATE * 25 / 24:.2f},aresample={SAMPLE_RATE}"
                            if rng.random() < 0.5 else "atempo=0.96"), "-c:a", "aac", "-b:a", "64k"),
                        "pitch": ffmpeg(src, tmp / "p.m4a", "-af", pitch_shift(
                            1 + rng.choice([-1, 1]) * rng.uniform(*PITCH_SHIFT)), "-c:a", "aac", "-b:a", "64k"),
                        "room": ffmpeg(src, tmp / "r.m4a", "-filter_complex", room_sound(
                            "[0:a:0]", (rng.uniform(*LOW_CUT_HZ), rng.uniform(*HIGH_CUT_HZ)),
                            (rng.uniform(*ECHO_MS), rng.uniform(*ECHO_DECAY)), rng.uniform(*ROOM_NOISE),
                            int(rng.integers(2 ** 31))), "-map", "[aout]", "-c:a", "aac", "-b:a", "64k"),
                    }
                    noise = _noise(rng, len(piece), refs)
                    snr = rng.uniform(0, 10)
                    gain = np.sqrt((np.mean(piece ** 2) + 1e-9) / ((np.mean(noise ** 2) + 1e-9) * 10 ** (snr / 10)))
                    conditions["noise"] = piece + gain * noise
                    for name, query in conditions.items():
                        cell = results[(length, name)]
                        cell[2] += 1
                        got = fp_index.search(query)
                        cell[0] += got is not None and got[0] == f and abs(got[1] - start) <= 1.0
                        got = chroma.search(chromaprint(wav(tmp / "c.wav", query)))
                        cell[1] += got is not None and got[0] == f and abs(got[1] - start) <= 1.0
    print(f"references: {len(refs)} files, {sum(map(len, refs)) / SAMPLE_RATE / 60:.1f} min; "
          f"queries from {len(held)} held-out files; fp index built in {fp_build:.1f} s")
    print(f"{'query':>6s} {'condition':>10s} {'fp audio':>9s} {'Chromaprint':>12s} {'n':>4s}")
    for length in LENGTHS:
        for name in CONDITIONS:
            a, b, n = results[(length, name)]
            print(f"{length:5.0f}s {name:>10s} {a / n:9.3f} {b / n:12.3f} {n:4d}")
        a, b, n = (sum(results[(length, c)][k] for c in CONDITIONS) for k in range(3))
        print(f"{length:5.0f}s {'all':>10s} {a / n:9.3f} {b / n:12.3f} {n:4d}")


if __name__ == "__main__":
    main()
