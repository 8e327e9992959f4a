"""Two public baselines for bench/accuracy.py, scored by bench.metrics like fp: vPDQ and MPEG-7 signatures.

Setup (Debian 12):

    apt-get install -y ffmpeg pkg-config cmake python3-dev libavcodec-dev libavformat-dev \
        libavdevice-dev libavutil-dev libswscale-dev libswresample-dev libavfilter-dev
    .venv/bin/python -m pip install -c constraints.txt "vpdq==0.2.5" imageio-ffmpeg

vpdq builds from its sdist against the libav*-dev packages (its apt-requirements.txt). imageio-ffmpeg
brings a static ffmpeg (9.x) for the signature anchor: Debian's ffmpeg 5.1 segfaults in the signature
filter's pairwise lookup (e.g. on the BBB webm/mp4 pair), and two ordinary `-i` inputs race at end of
stream in newer ffmpeg (the lookup is sometimes skipped), so pairs are read by `movie` sources inside
one lavfi graph, which is deterministic.

Both anchors: built once over the catalogue (`ref_id -> path`, per-title work cached in `workdir`),
then `match(query_path, query_id) -> list[Prediction]` with timed segments, a score and the tool's
own default decision (nothing tuned on the benchmark's answers).
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bench.metrics import Prediction

# ThreatExchange python-threatexchange, threatexchange/extensions/vpdq/vpdq_util.py: frames match at
# PDQ distance <= 31 (vpdq/README.md "Comparison (Matching) Algorithm"), frames under quality 50 are
# not compared; a video matches when >= 80 % of the query's frames match (0 % of the indexed video's).
VPDQ_DISTANCE = 31
VPDQ_QUALITY = 50
VPDQ_QUERY_MATCH_PERCENT = 80.0
VPDQ_MAX_GAP_S = 2.0  # segment building (ours): matched frames this far apart on one offset join
VPDQ_MIN_FRAMES = 2  # ours: a lone matching frame is no segment

SIG_FPS = 25  # both sides of a signature pair at one frame rate
SIG_WIDTH = 320
TIMEOUT_S = 600
MATCH_LINE = re.compile(r"matching of video 0 at ([-\d.]+) and 1 at ([-\d.]+), (\d+) frames matching")


def _cache_key(path: Path, *settings: object) -> str:
    stat = path.stat()
    text = json.dumps([str(path.resolve()), stat.st_size, stat.st_mtime_ns, *settings])
    return hashlib.sha1(text.encode()).hexdigest()[:16]


def _duration(path: Path) -> float:
    out = subprocess.run(["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0", str(path)],
                         capture_output=True, text=True, check=True, timeout=60)
    return float(out.stdout.strip())


@dataclass(frozen=True)
class VpdqHash:
    """One video's vPDQ frames at 1 frame/s, those of quality >= 50 only."""

    times: np.ndarray  # seconds, (n,)
    bits: np.ndarray  # uint8 (n, 32): the 256-bit PDQ hashes

    @classmethod
    def compute(cls, path: Path) -> VpdqHash:
        import vpdq

        features = [f for f in vpdq.computeHash(str(path), seconds_per_hash=1.0) if f.quality >= VPDQ_QUALITY]
        return cls(np.array([f.timestamp for f in features], dtype=np.float64),
                   np.frombuffer(b"".join(bytes.fromhex(f.hex) for f in features), dtype=np.uint8).reshape(-1, 32))

    @classmethod
    def cached(cls, path: Path, cache: Path) -> VpdqHash:
        file = cache / f"{_cache_key(path, 'vpdq-1fps')}.npz"
        if not file.exists():
            h = cls.compute(path)
            np.savez(file, times=h.times, bits=h.bits)
        with np.load(file, allow_pickle=False) as data:
            return cls(data["times"], data["bits"])

    def distances(self, other: VpdqHash) -> np.ndarray:
        """PDQ Hamming distances, (len(self), len(other))."""
        xor = np.bitwise_xor(self.bits[:, None, :], other.bits[None, :, :])
        return np.unpackbits(xor, axis=-1).sum(axis=-1)


class VpdqAnchor:
    """vPDQ (Meta ThreatExchange, PyPI `vpdq`) at 1 frame/s.

    Matching frame pairs (distance <= 31, quality >= 50) vote on the offset (ref time - query time,
    whole seconds); from the most-voted offset down, runs of query frames matching on that offset
    (±1 s, gaps <= 2 s, >= 2 frames, each query frame used once) become segments. Score: the
    segment's matched frames over the query's usable frames (the segment's share of vPDQ's query
    match percentage). Decision: vPDQ's video-level rule, query match percentage >= 80.
    """

    def __init__(self, catalogue: dict[str, Path], workdir: Path) -> None:
        cache = Path(workdir) / "vpdq"
        cache.mkdir(parents=True, exist_ok=True)
        self.refs = {ref_id: VpdqHash.cached(Path(path), cache) for ref_id, path in catalogue.items()}

    def match(self, query_path: Path, query_id: str) -> list[Prediction]:
        query = VpdqHash.compute(Path(query_path))
        predictions = []
        for ref_id, ref in self.refs.items():
            if not len(query.times) or not len(ref.times):
                continue
            matches = np.argwhere(query.distances(ref) <= VPDQ_DISTANCE)
            query_percent = 100.0 * len(np.unique(matches[:, 0])) / len(query.times)
            decision = query_percent >= VPDQ_QUERY_MATCH_PERCENT
            for q_frames, offset in _offset_runs(query.times, ref.times, matches):
                start, end = query.times[q_frames[0]], query.times[q_frames[-1]] + 1.0
                predictions.append(Prediction(query_id, ref_id, float(start), float(end), float(start + offset),
                                              float(end + offset), score=len(q_frames) / len(query.times),
                                              decision=decision))
        return predictions


def _offset_runs(q_times: np.ndarray, r_times: np.ndarray, matches: np.ndarray) -> list[tuple[list[int], float]]:
    """Runs of query frames (indices) matching along one offset, with that run's median offset."""
    offsets = r_times[matches[:, 1]] - q_times[matches[:, 0]]
    votes = Counter(np.round(offsets).astype(int).tolist())
    used: set[int] = set()
    runs = []
    for offset, _ in votes.most_common():
        near = np.abs(offsets - offset) <= 1.0
        per_frame: dict[int, list[float]] = {}
        for (qi, _), o in zip(matches[near], offsets[near]):
            if qi not in used:
                per_frame.setdefault(int(qi), []).append(float(o))
        run: list[int] = []
        for qi in sorted(per_frame) + [None]:
            if qi is not None and (not run or q_times[qi] - q_times[run[-1]] <= VPDQ_MAX_GAP_S):
                run.append(qi)
                continue
            if len(run) >= VPDQ_MIN_FRAMES:
                closest = [min(per_frame[i], key=lambda o: abs(o - offset)) for i in run]
                runs.append((run, float(np.median(closest))))
                used.update(run)
            run = [qi] if qi is not None else []
    return runs


def signature_ffmpeg() -> str:
    """The ffmpeg for the signature anchor: imageio-ffmpeg's static build (see the module docstring)."""
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


class SignatureAnchor:
    """ffmpeg's MPEG-7 video signature filter in pairwise detection mode (`detectmode=full`, default
    thresholds th_d=9000, th_dc=60000, th_xh=116, th_di=0, th_it=0.5).

    Each title and each query is first converted once to a small intermediate (<= 320 px wide,
    25 fps, all-intra x264 at crf 18, no audio) so that a pair decodes little and both sides share a frame rate. The
    filter logs one best match per pair: an anchor frame on each side and the number of matching
    frames N ("whole video matching" when the walk reached both ends). Segment: the overlap of the two
    timelines at that offset when whole, otherwise N/25 s around the anchor (centred, kept inside the
    overlap; the filter does not say how the run splits before and after its anchor). Score: segment
    length over query length (capped at 1). Decision: the filter reports a match.
    """

    def __init__(self, catalogue: dict[str, Path], workdir: Path) -> None:
        self.ffmpeg = signature_ffmpeg()
        self.dir = Path(workdir) / "signature"
        self.dir.mkdir(parents=True, exist_ok=True)
        self.refs = {ref_id: self._intermediate(Path(path), "r") for ref_id, path in catalogue.items()}
        self.durations = {ref_id: _duration(self.dir / name) for ref_id, name in self.refs.items()}

    def _intermediate(self, path: Path, prefix: str) -> str:
        """File name (inside self.dir, [a-z0-9_.] only, so safe in a filtergraph) of the small copy."""
        name = f"{prefix}_{_cache_key(path, SIG_FPS, SIG_WIDTH, 'x264-intra')}.mkv"
        if not (self.dir / name).exists():
            partial = self.dir / f"partial_{name}"
            subprocess.run([self.ffmpeg, "-v", "error", "-y", "-i", str(path), "-map", "0:v:0", "-an", "-sn", "-vf",
                            f"fps={SIG_FPS},scale='min({SIG_WIDTH},iw)':-2:flags=area,format=yuv420p",
                            "-c:v", "libx264", "-preset", "ultrafast", "-g", "1", "-crf", "18", str(partial)],
                           check=True, capture_output=True, timeout=TIMEOUT_S)
            partial.rename(self.dir / name)
        return name

    def compare(self, query: str, ref: str) -> tuple[float, float, int, bool] | None:
        """(query anchor s, ref anchor s, frames matching, whole) for two intermediates, or None."""
        graph = f"movie={query}[a];movie={ref}[b];[a][b]signature=nb_inputs=2:detectmode=full"
        out = subprocess.run([self.ffmpeg, "-hide_banner", "-nostats", "-f", "lavfi", "-i", graph, "-f", "null", "-"],
                             cwd=self.dir, capture_output=True, text=True, check=True, timeout=TIMEOUT_S)
        found = MATCH_LINE.search(out.stderr)
        if found:
            return float(found[1]), float(found[2]), int(found[3]), "whole video matching" in out.stderr
        if "no matching of video 0 and 1" not in out.stderr:
            raise RuntimeError(f"signature lookup did not run for {query} vs {ref}")
        return None

    def match(self, query_path: Path, query_id: str) -> list[Prediction]:
        query = self._intermediate(Path(query_path), "q")
        q_len = _duration(self.dir / query)
        predictions = []
        for ref_id, ref in self.refs.items():
            found = self.compare(query, ref)
            if found is None:
                continue
            q_anchor, r_anchor, frames, whole = found
            offset = r_anchor - q_anchor
            lo, hi = max(0.0, -offset), min(q_len, self.durations[ref_id] - offset)
            length = hi - lo if whole else min(frames / SIG_FPS, hi - lo)
            start = lo if whole else min(max(q_anchor - length / 2, lo), hi - length)
            predictions.append(Prediction(query_id, ref_id, start, start + length, start + offset,
                                          start + length + offset, score=min(1.0, length / q_len)))
        (self.dir / query).unlink()
        return predictions


def available() -> bool:
    """Whether both anchors can run here (vpdq importable, ffprobe on PATH, imageio-ffmpeg present)."""
    try:
        import imageio_ffmpeg  # noqa: F401
        import vpdq  # noqa: F401
    except ImportError:
        return False
    return shutil.which("ffprobe") is not None
