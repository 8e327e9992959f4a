"""Matching quality on a public benchmark built from ../shared/media: fp against the vPDQ and
MPEG-7 signature anchors, scored by the same code (bench/metrics.py, VSC22 / VCSL metrics).

    python -m bench.accuracy [--queries N] [--seed S] [--workdir DIR] [--encoder NAME] [--no-anchors]
                             [--no-hard] [-v]
    (or `make bench-accuracy`, which also installs the anchors)

A catalogue of 15 titles; N pirated queries, each an excerpt of 4-30 s through a chain of 1-3
edits (crop, downscale, letterbox/pillarbox, logo and text, colour, blur, noise, flip, rotation,
speed 0.95-1.05 with the sound following, frame-rate change, picture-in-picture, heavy
re-encode, soundtrack replaced, picture replaced by black); half of them spliced at a random
offset into unrelated footage; the two natural copies in ../shared/media; and negatives made the
same way from 12 videos outside the catalogue. Unless `--no-hard`, a second, separately seeded
draw of hard queries (36 copies, 8 negatives from the outside videos, names `h...`), each through
one hard edit (camcord of picture and sound, 9:16 vertical reframe, blurred-background fill,
greyscale, pitch shift with the tempo kept over a black picture, compilation of 2-3 titles back to
back) and at times one classic picture edit after it. Queries and the index are cached in the work
folder, so a second run only matches.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import random
import statistics
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from bench.metrics import (Prediction, Segment, decision_prf, false_positive_queries, micro_ap,
                           segment_ap, start_errors)
from fp.config import Config
from fp.data import probe
from fp.data.decode import decode_audio
from fp.data.edits import (EDITS, Clip, black_picture, blurred_fill, camcord, keystone, picture_in_picture,
                           pirate, pitch_shift, splice, swap_soundtrack, vertical)
from fp.index import index_catalogue
from fp.matcher import Matcher

SHARED = Path(__file__).resolve().parents[2] / "shared" / "media"
MEDIA = SHARED / "video"
CATALOGUE = ["moviepy_big_buck_bunny_0_30.webm", "psd_goldeneye_vfr_drop3.mp4", "dvrscan_traffic_camera.mp4",
             "psd_tv_documentary.mp4", "psd_testvideo.mp4", "intel_car-detection.mp4",
             "videohash_nasa_rocket.mkv", "mejs_echo-hereweare.webm", "zwm_sintel.mp4",
             "zwm_caminandes.mp4", "imageio_cockatoo.mp4", "intel_one-by-one-person-detection.mp4",
             "videollama_birthday.mp4", "intel_bottle-detection.mp4", "videollava_demo22_drums.mp4"]
OUTSIDE = ["askany_yoga.mp4", "videollama_boat.mp4", "mdn_flower.mp4", "facerec_hamilton_clip.mp4",
           "zwm_tears_of_steel.mp4", "moviepy_chaplin.mp4", "videollama_dog_barking.mp4",
           "askany_jesse_dance.mp4", "videollama2_1034346401.mp4", "mmaction2_test_pool.mp4",
           "videollama_applausing.mp4", "askany_hitting_baseball.mp4"]
NATURAL = [("bower_bbb_480p_30s.mp4", "moviepy_big_buck_bunny_0_30.webm"),
           ("psd_goldeneye_rotated_audio.mp4", "psd_goldeneye_vfr_drop3.mp4")]
MUSIC = ["librosa_Kevin_MacLeod_-_Vibe_Ace.ogg"]
FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"
PICTURE_EDITS = ["crop", "downscale", "letterbox", "pillarbox", "logo", "colour", "blur", "noise", "flip",
                 "rotate", "speed", "fps", "pip", "reencode"]
SOUND_EDITS = ["swap", "black"]
WORDS = ["FREE MOVIES HD", "www.pirate-streams.tv", "CAM RIP", "EXCLUSIVE", "@uploader_42"]

# The hard draw: its own seed (`seed` + HARD_SEED_OFFSET) and manifest, so the classic draw is untouched.
HARD_EDITS = ["camcord", "vertical", "bgfill", "grey", "pitch", "compilation"]
HARD_COPIES = 36  # six per hard edit
HARD_NEGATIVES = 8
HARD_SEED_OFFSET = 1
HARD_MANIFEST = "hard.json"
FOLLOW_UP_CHANCE = 0.5  # a hard edit is followed by one classic edit this often
PICTURE_FOLLOW_UPS = [e for e in PICTURE_EDITS if e != "pip"]
SOUND_FOLLOW_UPS = ["speed", "reencode"]  # what still applies over a black picture
KEYSTONE_INSET = (0.03, 0.08)  # camcord: top edge inset, fraction of the width
SHAKE_PX = (3, 8)
GRAIN = (12, 24)
GAMMA = (0.8, 1.3)
LOW_CUT_HZ = (120, 180)
HIGH_CUT_HZ = (3500, 4500)
ECHO_MS = (40, 90)
ECHO_DECAY = (0.25, 0.45)
ROOM_NOISE = (0.01, 0.04)
FILL_SCALE = (0.55, 0.80)
FILL_SIGMA = (12, 25)
PITCH_SHIFT = (0.03, 0.06)  # up or down, tempo kept
PITCH_NOISE_SNR_DB = (15, 25)
COMPILATION_PARTS = (2, 3)
PART_SECONDS = (5, 12)
SPLICE_FPS = 25  # `splice`'s frame rate: compilation parts are whole frames long
START_TOLERANCE = 1.0  # s: a compilation part counts as placed within this


@dataclass
class Query:
    query_id: str
    path: str
    edits: list[str]
    truth: list[Segment]

    @property
    def negative(self) -> bool:
        return not self.truth


def pick_edits(rng: random.Random) -> list[str]:
    """A chain of 1-3 edits; one in six queries changes the soundtrack or drops the picture."""
    chain = rng.sample(PICTURE_EDITS, rng.randint(1, 3))
    if "letterbox" in chain and "pillarbox" in chain:
        chain.remove("pillarbox")
    if rng.random() < 1 / 6:
        sound = rng.choice(SOUND_EDITS)
        # with the picture gone, only the edits of the sound and the file remain
        chain = [e for e in chain if e in ("speed", "reencode")] if sound == "black" else chain
        chain.append(sound)
    return chain


def picture_filters(rng: random.Random, edits: list[str]) -> list[str]:
    out = []
    for e in edits:
        if e == "crop":
            a = rng.uniform(0.10, 0.25)
            out.append(f"crop=iw*{1 - a:.3f}:ih*{1 - a:.3f}:iw*{a * rng.random():.3f}:ih*{a * rng.random():.3f}")
        elif e in ("letterbox", "pillarbox"):
            r = rng.uniform(0.7, 0.85)
            out.append(f"scale=iw:ih*{r:.3f},pad=iw:ih/{r:.3f}:0:(oh-ih)/2" if e == "letterbox"
                       else f"scale=iw*{r:.3f}:ih,pad=iw/{r:.3f}:ih:(ow-iw)/2:0")
        elif e == "logo":
            x, y = rng.choice([(0.03, 0.03), (0.75, 0.03), (0.03, 0.85), (0.75, 0.85)])
            out.append(f"drawbox=x=iw*{x}:y=ih*{y}:w=iw*0.2:h=ih*0.1:color=white@0.8:t=fill,"
                       f"drawtext=fontfile={FONT}:text='{rng.choice(WORDS)}':fontcolor=yellow@0.9:"
                       f"fontsize=h/14:x=(w-text_w)/2:y=h*{rng.uniform(0.6, 0.85):.2f}:borderw=2")
        elif e == "colour":
            out.append(f"eq=brightness={rng.uniform(-0.1, 0.1):.3f}:contrast={rng.uniform(0.8, 1.3):.3f}:"
                       f"saturation={rng.uniform(0.6, 1.5):.3f}:gamma={rng.uniform(0.8, 1.25):.3f}")
        elif e == "blur":
            out.append(f"gblur=sigma={rng.uniform(1.5, 3.0):.2f}")
        elif e == "noise":
            out.append(f"noise=alls={rng.randint(10, 25)}:allf=t")
        elif e == "flip":
            out.append("hflip")
        elif e == "rotate":
            out.append(f"rotate={rng.choice([-1, 1]) * rng.uniform(2, 5):.2f}*PI/180:fillcolor=black")
    return out


def make_query(rng: random.Random, work: Path, query_id: str, edits: list[str], source: str,
               title: str | None, durations: dict[str, float]) -> Query:
    """One pirated query of `source` (a catalogue title, or an outside video for a negative)."""
    length = durations[source]
    duration = min(rng.uniform(4, 30), length - 0.5)
    start = rng.uniform(0, length - duration)
    clip = Clip(str(MEDIA / source), start, duration)
    speed = rng.choice([25 / 24, 24 / 25, rng.uniform(0.95, 1.05)]) if "speed" in edits else 1.0
    heavy = "reencode" in edits
    crf, kbps = (rng.randint(38, 40), rng.choice([32, 48])) if heavy else (rng.randint(28, 34), 64)
    height = 240 if "downscale" in edits else rng.choice([360, 480])
    hosts = [h for h in OUTSIDE if h != source and durations[h] >= 9]
    step = work / f"{query_id}-a.mp4"
    if "black" in edits:
        audio_filter = f"atempo={speed:.6f}" if speed != 1.0 else None
        copy = black_picture(clip, step, audio_filter=audio_filter)
    else:
        copy = pirate(clip, step, filters=picture_filters(rng, edits), height=height, crf=crf,
                      audio_kbps=kbps, speed=speed, fps=rng.choice([12, 15, 30]) if "fps" in edits else None)
        if "pip" in edits:
            copy = picture_in_picture(copy, MEDIA / rng.choice(hosts), work / f"{query_id}-b.mp4",
                                      scale=rng.uniform(0.4, 0.6), x=rng.uniform(0.05, 0.35),
                                      y=rng.uniform(0.05, 0.35))
        if "swap" in edits:
            music = SHARED / "audio" / rng.choice(MUSIC)
            copy = swap_soundtrack(Clip(str(copy), 0, duration / speed), str(music),
                                   work / f"{query_id}-c.mp4", height=height)
    q_len = duration / speed
    offset = 0.0
    dst = work / f"{query_id}.mp4"
    if rng.random() < 0.5:  # embedded in unrelated footage
        host = rng.choice(hosts)
        offset = rng.uniform(2, 5)
        splice([Clip(str(MEDIA / host), 0, offset), Clip(str(copy), 0, q_len),
                Clip(str(MEDIA / host), offset, min(rng.uniform(2, 4), durations[host] - offset))],
               dst, audio=True)
        edits = edits + ["embedded"]
    else:
        copy.rename(dst)
    for leftover in work.glob(f"{query_id}-*.mp4"):
        leftover.unlink()
    truth = [] if title is None else [Segment(query_id, title, offset, offset + q_len, start, start + duration)]
    return Query(query_id, str(dst), edits, truth)


def audible_db(info) -> float:
    """Loudness of a whole soundtrack (dBFS): some files carry a track of digital silence."""
    pcm = decode_audio(info, 16000)
    return float(20 * np.log10(np.sqrt(np.mean(pcm ** 2)) + 1e-12))


def build_queries(work: Path, n: int, seed: int) -> list[Query]:
    manifest = work / "queries.json"
    if manifest.exists():
        return [Query(q["query_id"], q["path"], q["edits"], [Segment(**s) for s in q["truth"]])
                for q in json.loads(manifest.read_text())]
    rng = random.Random(seed)
    infos = {name: probe(MEDIA / name) for name in CATALOGUE + OUTSIDE}
    durations = {name: info.duration for name, info in infos.items()}
    audible = {name for name, info in infos.items() if info.has_audio and audible_db(info) > -50}

    def source(names: list[str], edits: list[str]) -> str:  # a black picture needs a soundtrack
        return rng.choice([n for n in names if n in audible] if "black" in edits else names)

    queries = []
    for i in range(n):
        edits = pick_edits(rng)
        title = source(CATALOGUE, edits)
        queries.append(make_query(rng, work, f"q{i:03d}", edits, title, title, durations))
        print(f"\rmaking queries: {i + 1}/{n}", end="", flush=True)
    print()
    for copy, title in NATURAL:
        length = min(probe(MEDIA / copy).duration, durations[title])
        queries.append(Query(f"natural-{copy}", str(MEDIA / copy), ["natural"],
                             [Segment(f"natural-{copy}", title, 0.0, length, 0.0, length)]))
    for j, name in enumerate(OUTSIDE):
        edits = pick_edits(rng)
        queries.append(make_query(rng, work, f"n{j:03d}", edits, source(OUTSIDE, edits) if "black" in edits
                                  else name, None, durations))
    manifest.write_text(json.dumps([{**asdict(q), "truth": [asdict(s) for s in q.truth]} for q in queries]))
    return queries


def hard_copy(rng: random.Random, clip: Clip, dst: Path, edits: list[str]) -> tuple[Path, float]:
    """`clip` through the hard edit `edits[0]` then the classic follow-up `edits[1:]`; returns the
    copy and its speed-up. A compilation's part gets the follow-up alone."""
    primary, follow = edits[0], edits[1:]
    speed = rng.choice([25 / 24, 24 / 25, rng.uniform(0.95, 1.05)]) if "speed" in follow else 1.0
    heavy = "reencode" in follow
    crf, kbps = (rng.randint(38, 40), rng.choice([32, 48])) if heavy else (rng.randint(28, 34), 64)
    height = 240 if "downscale" in follow else rng.choice([360, 480])
    fps = rng.choice([12, 15, 30]) if "fps" in follow else None
    if primary == "pitch":
        factor = 1 + rng.choice([-1, 1]) * rng.uniform(*PITCH_SHIFT)
        audio_filter = pitch_shift(factor) + (f",atempo={speed:.6f}" if speed != 1.0 else "")
        return black_picture(clip, dst, audio_filter=audio_filter, noise_snr_db=rng.uniform(*PITCH_NOISE_SNR_DB),
                             seed=rng.randrange(2 ** 31)), speed
    classic = picture_filters(rng, follow)
    if primary == "camcord":
        inset = rng.uniform(*KEYSTONE_INSET)
        return camcord(clip, dst, keystone_filter=keystone(inset, inset * rng.uniform(0, 0.5), rng.uniform(0, 0.03)),
                       shake_px=rng.randint(*SHAKE_PX), grain=rng.randint(*GRAIN), gamma=rng.uniform(*GAMMA),
                       filters=classic, band=(rng.uniform(*LOW_CUT_HZ), rng.uniform(*HIGH_CUT_HZ)),
                       echo=(rng.uniform(*ECHO_MS), rng.uniform(*ECHO_DECAY)), room_noise=rng.uniform(*ROOM_NOISE),
                       seed=rng.randrange(2 ** 31), height=height, crf=crf, audio_kbps=kbps, speed=speed,
                       fps=fps), speed
    hard = {"vertical": lambda: [vertical(rng.choice([0.5, rng.uniform(0.1, 0.9)]))],
            "bgfill": lambda: [blurred_fill(rng.uniform(*FILL_SCALE), rng.uniform(*FILL_SIGMA))],
            "grey": lambda: [rng.choice([EDITS["grey"], "format=gray"])],
            "compilation": lambda: []}[primary]()
    return pirate(clip, dst, filters=hard + classic, height=height, crf=crf, audio_kbps=kbps, speed=speed,
                  fps=fps), speed


def make_hard_query(rng: random.Random, work: Path, query_id: str, edits: list[str], sources: list[str],
                    positive: bool, durations: dict[str, float]) -> Query:
    """One hard query of `sources` (several only for a compilation, back to back, each part in the
    truth with its own ranges); a negative when not `positive`."""
    compilation = len(sources) > 1
    parts, truth, offset = [], [], 0.0
    for k, source in enumerate(sources):
        length = durations[source]
        duration = min(rng.uniform(*PART_SECONDS) if compilation else rng.uniform(4, 30), length - 0.5)
        if compilation:
            duration = int(duration * SPLICE_FPS) / SPLICE_FPS
        start = rng.uniform(0, length - duration)
        copy, speed = hard_copy(rng, Clip(str(MEDIA / source), start, duration), work / f"{query_id}-{k}.mp4", edits)
        q_len = duration / speed
        parts.append(Clip(str(copy), 0, q_len))
        if positive:
            truth.append(Segment(query_id, source, offset, offset + q_len, start, start + duration))
        offset += q_len
    dst = work / f"{query_id}.mp4"
    if compilation:
        splice(parts, dst, audio=True)
    else:
        Path(parts[0].path).rename(dst)
    for leftover in work.glob(f"{query_id}-*.mp4"):
        leftover.unlink()
    return Query(query_id, str(dst), edits, truth)


def pick_hard_edits(rng: random.Random, primary: str) -> list[str]:
    """`primary` then, at times, one classic edit that still applies after it."""
    if rng.random() >= FOLLOW_UP_CHANCE:
        return [primary]
    return [primary, rng.choice(SOUND_FOLLOW_UPS if primary == "pitch" else PICTURE_FOLLOW_UPS)]


def build_hard_queries(work: Path, seed: int) -> list[Query]:
    """The hard draw (cached in its own manifest): HARD_COPIES copies, the hard edits in turn,
    then HARD_NEGATIVES negatives from the outside videos through the same edits."""
    manifest = work / HARD_MANIFEST
    if manifest.exists():
        return [Query(q["query_id"], q["path"], q["edits"], [Segment(**s) for s in q["truth"]])
                for q in json.loads(manifest.read_text())]
    rng = random.Random(seed + HARD_SEED_OFFSET)
    infos = {name: probe(MEDIA / name) for name in CATALOGUE + OUTSIDE}
    durations = {name: info.duration for name, info in infos.items()}
    audible = {name for name, info in infos.items() if info.has_audio and audible_db(info) > -50}

    def sources(names: list[str], primary: str) -> list[str]:  # a pitch shift needs a soundtrack
        if primary == "compilation":
            return rng.sample(names, rng.randint(*COMPILATION_PARTS))
        return [rng.choice([n for n in names if n in audible] if primary == "pitch" else names)]

    queries = []
    plan = [(f"h{i:03d}", HARD_EDITS[i % len(HARD_EDITS)], CATALOGUE) for i in range(HARD_COPIES)] \
        + [(f"hn{j:03d}", HARD_EDITS[j % len(HARD_EDITS)], OUTSIDE) for j in range(HARD_NEGATIVES)]
    for k, (query_id, primary, names) in enumerate(plan):
        edits = pick_hard_edits(rng, primary)
        queries.append(make_hard_query(rng, work, query_id, edits, sources(names, primary), names is CATALOGUE,
                                       durations))
        print(f"\rmaking hard queries: {k + 1}/{len(plan)}", end="", flush=True)
    print()
    manifest.write_text(json.dumps([{**asdict(q), "truth": [asdict(s) for s in q.truth]} for q in queries]))
    return queries


def run_fp(index: Path, queries: list[Query], config: Config | None = None) -> tuple[list[Prediction], float]:
    predictions, spent = [], 0.0
    with Matcher(index, config) as matcher:
        for q in queries:
            t0 = time.perf_counter()
            report = matcher.match(q.path, min_score=0.0)
            spent += time.perf_counter() - t0
            predictions += [Prediction(q.query_id, m.title_id, m.query_start, m.query_end, m.ref_start,
                                       m.ref_end, m.score, m.decision == "match") for m in report.matches]
    return predictions, spent


def run_anchor(anchor, queries: list[Query]) -> tuple[list[Prediction], float]:
    predictions, spent = [], 0.0
    for q in queries:
        t0 = time.perf_counter()
        predictions += anchor.match(Path(q.path), q.query_id)
        spent += time.perf_counter() - t0
    return predictions, spent


def hit(q: Query, predictions: list[Prediction]) -> bool:
    """A positive query is found when, for each of its copied segments (several in a compilation),
    a decided prediction of the right title overlaps it on the query axis."""
    return all(any(p.query_id == q.query_id and p.ref_id == t.ref_id and p.decision
                   and min(p.query_end, t.query_end) > max(p.query_start, t.query_start) for p in predictions)
               for t in q.truth)


def default_workdir(seed: int, queries: int) -> Path:
    """Where queries and the index of one draw of the benchmark are cached."""
    return Path.home() / ".cache" / "fp-match" / f"bench-accuracy-{seed}-{queries}"


def index_dir(work: Path, encoder: str) -> Path:
    """The work folder's index of picture encoder `encoder` (one per encoder)."""
    return work / f"index-{Path(encoder).stem.replace(':', '_')}"


def prepare_catalogue(work: Path) -> None:
    """The work folder's catalogue (links to ../shared/media) and its queries folder."""
    (work / "queries").mkdir(parents=True, exist_ok=True)
    (work / "catalogue").mkdir(exist_ok=True)
    for name in CATALOGUE:
        link = work / "catalogue" / name
        if not link.exists():
            link.symlink_to(MEDIA / name)


def metrics_line(label: str, predictions: list[Prediction], spent: float, queries: list[Query]) -> str:
    """One row of the metrics table: `predictions` (made in `spent` seconds) scored on `queries`."""
    truth = [s for q in queries for s in q.truth]
    negatives = [q.query_id for q in queries if q.negative]
    minutes = sum(probe(q.path).duration for q in queries) / 60
    p, r, f1 = decision_prf(predictions, truth)
    errors = start_errors(predictions, truth)
    return (f"{label:24s} {micro_ap(predictions, truth):8.3f} {segment_ap(predictions, truth):7.3f} "
            f"{p:6.3f} {r:6.3f} {f1:6.3f} {false_positive_queries(predictions, negatives):>4d}/{len(negatives):<2d} "
            f"{(statistics.median(errors) if errors else float('nan')):8.2f}s {spent / minutes:6.1f}")


def recall_table(title: str, kinds: list[str], groups: dict[str, list[Query]],
                 systems: dict[str, list[Prediction]]) -> None:
    """Found / positive queries per edit kind: `groups[kind]` holds that kind's queries."""
    print(f"{title:24s} " + " ".join(f"{k[:11]:>11s}" for k in kinds))
    for name, predictions in systems.items():
        cells = [f"{sum(hit(q, predictions) for q in groups[k])}/{len(groups[k])}" for k in kinds]
        print(f"{name:24s} " + " ".join(f"{c:>11s}" for c in cells))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--queries", type=int, default=80)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--no-anchors", action="store_true")
    parser.add_argument("--hard", action=argparse.BooleanOptionalAction, default=True,
                        help="add the hard queries (--no-hard: the classic draw alone, as before them)")
    parser.add_argument("--encoder", default=Config().visual_encoder,
                        help="picture encoder (default: fp's); each encoder has its own index in the work folder")
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                        help="a match setting for fp's run, e.g. query_mirrored=false (repeatable; the index "
                             "is shared)")
    parser.add_argument("-v", "--verbose", action="store_true")
    args = parser.parse_args()
    try:
        config = dataclasses.replace(Config(), visual_encoder=args.encoder).with_settings(args.set)
    except ValueError as exc:
        parser.error(str(exc))
    work = args.workdir or default_workdir(args.seed, args.queries)
    prepare_catalogue(work)
    groups = {"classic": build_queries(work / "queries", args.queries, args.seed)}
    if args.hard:
        groups["hard"] = build_hard_queries(work / "queries", args.seed)
    queries = [q for group in groups.values() for q in group]
    index = index_dir(work, args.encoder)
    summary = index_catalogue(work / "catalogue", index, config)
    print(f"catalogue: {len(summary.added) + len(summary.unchanged) + len(summary.replaced)} titles; queries: "
          f"{sum(not q.negative for q in queries)} copies, {sum(q.negative for q in queries)} negatives")

    if args.set:
        print("fp's match settings: " + ", ".join(args.set))
    runs = {"fp": {g: run_fp(index, group, config) for g, group in groups.items()}}  # system -> group -> (preds, s)
    if not args.no_anchors:
        from bench.anchors import SignatureAnchor, VpdqAnchor

        catalogue = {name: MEDIA / name for name in CATALOGUE}
        for name, cls in (("vPDQ", VpdqAnchor), ("MPEG-7 signature", SignatureAnchor)):
            anchor = cls(catalogue, work / name.split()[0].lower())
            runs[name] = {g: run_anchor(anchor, group) for g, group in groups.items()}
    systems = {name: [p for predictions, _ in by_group.values() for p in predictions] for name, by_group in runs.items()}

    print()
    print(f"{'system':24s} {'micro-AP':>8s} {'seg AP':>7s} {'P':>6s} {'R':>6s} {'F1':>6s} "
          f"{'FP neg':>7s} {'start err':>9s} {'s/min':>6s}")
    for name, by_group in runs.items():
        print(metrics_line(name, systems[name], sum(spent for _, spent in by_group.values()), queries))
        if len(groups) > 1:
            for g, (predictions, spent) in by_group.items():
                print(metrics_line(f"{name} {g}", predictions, spent, groups[g]))
    print()
    classic = [q for q in groups["classic"] if not q.negative]
    kinds = sorted({e for q in classic for e in q.edits})
    recall_table("recall per edit", kinds, {k: [q for q in classic if k in q.edits] for k in kinds}, systems)
    if args.hard:
        hard = [q for q in groups["hard"] if not q.negative]
        print()
        recall_table("recall per hard edit", HARD_EDITS, {k: [q for q in hard if q.edits[0] == k] for k in HARD_EDITS},
                     systems)
        parts = [s for q in hard if q.edits[0] == "compilation" for s in q.truth]
        print()
        print(f"compilation parts placed (start error <= {START_TOLERANCE:g} s): " + ", ".join(
            f"{name} {sum(e <= START_TOLERANCE for e in start_errors(predictions, parts))}/{len(parts)}"
            for name, predictions in systems.items()))
    if args.verbose:
        fp_predictions = systems["fp"]
        for q in queries:
            mine = sorted((p for p in fp_predictions if p.query_id == q.query_id), key=lambda p: -p.score)
            top = mine[0] if mine else None
            expect = q.truth[0] if q.truth else None
            print(f"{q.query_id:34.34s} {'+'.join(q.edits):40.40s} {(expect.ref_id if expect else '-')[:26]:26s} "
                  f"{(top.ref_id if top else '-')[:26]:26s} {top.score if top else 0:6.3f} "
                  f"{'M' if top and top.decision else ' '} "
                  f"{'' if not (top and expect) else f'q {top.query_start - expect.query_start:+.1f} r {top.ref_start - expect.ref_start:+.1f}'}")


if __name__ == "__main__":
    main()
