"""Accuracy on seeded pirated copies of real media, and the score calibration behind the default
decision threshold.

    python -m bench.accuracy [--queries N] [--seed S]

Builds a catalogue from ../shared/media, makes N copies (excerpts of 6-20 s through one or two
edits; half spliced into unrelated footage) plus negatives from footage outside the catalogue,
and prints per-query results, recall per edit, false positives and the score distributions.
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from pathlib import Path

from fp.config import Config
from fp.data import probe
from fp.data.edits import Clip, black_picture, pirate, splice, swap_soundtrack
from fp.index import index_catalogue
from fp.matcher import Matcher

MEDIA = Path(__file__).resolve().parents[2] / "shared" / "media" / "video"
CATALOGUE = ["moviepy_big_buck_bunny_0_30.webm", "psd_goldeneye_vfr_drop3.mp4", "dvrscan_traffic_camera.mp4",
             "psd_tv_documentary.mp4", "psd_testvideo.mp4", "intel_car-detection.mp4",
             "videohash_nasa_rocket.mkv", "mejs_echo-hereweare.webm", "zwm_sintel.mp4",
             "zwm_caminandes.mp4", "imageio_cockatoo.mp4", "intel_one-by-one-person-detection.mp4",
             "videollama_birthday.mp4", "intel_bottle-detection.mp4", "videollava_demo22_drums.mp4"]
OUTSIDE = ["askany_yoga.mp4", "videollama_boat.mp4", "mdn_flower.mp4", "facerec_hamilton_clip.mp4",
           "zwm_tears_of_steel.mp4", "moviepy_chaplin.mp4", "videollama_dog_barking.mp4",
           "askany_jesse_dance.mp4", "videollama2_1034346401.mp4", "mmaction2_test_pool.mp4",
           "videollama_applausing.mp4", "askany_hitting_baseball.mp4"]
EDIT_CHOICES = [["crop10"], ["crop20"], ["letterbox"], ["pillarbox"], ["logo"], ["colour"], ["blur"],
                ["noise"], ["rotate"], ["flip"], ["crop10", "logo"], ["colour", "noise"],
                ["letterbox", "blur"], ["flip", "crop10"], ["pal"], ["ntsc", "logo"], ["black"], ["swap"]]
SPEEDS = {"pal": 25 / 24, "ntsc": 24 / 25}
MUSIC = MEDIA.parent / "audio" / "librosa_Kevin_MacLeod_-_Vibe_Ace.ogg"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--queries", type=int, default=48)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        (tmp / "cat").mkdir()
        for name in CATALOGUE:
            (tmp / "cat" / name).symlink_to(MEDIA / name)
        summary = index_catalogue(tmp / "cat", tmp / "idx", Config())
        print(f"catalogue: {len(summary.added)} titles, {summary.media_seconds:.0f} s "
              f"({summary.media_seconds / summary.wall_seconds:.1f}x real time)")
        jobs = []
        voiced = [t for t in CATALOGUE if probe(MEDIA / t).has_audio]
        for i in range(args.queries):
            edits = rng.choice(EDIT_CHOICES)
            title = rng.choice(voiced if edits == ["black"] else CATALOGUE)
            length = probe(MEDIA / title).duration
            duration = min(rng.uniform(6, 20), length - 1)
            start = rng.uniform(0, length - duration)
            height, crf = rng.choice([(360, 35), (240, 30), (480, 40)])
            clip = Clip(str(MEDIA / title), start, duration)
            if edits == ["black"]:  # the soundtrack alone
                copy = black_picture(clip, tmp / f"q{i}.mp4")
            elif edits == ["swap"]:  # the picture alone, over other music
                copy = swap_soundtrack(clip, str(MUSIC), tmp / f"q{i}.mp4", height=height)
            else:
                speed = next((SPEEDS[e] for e in edits if e in SPEEDS), 1.0)
                copy = pirate(clip, tmp / f"q{i}.mp4", edits=[e for e in edits if e not in SPEEDS],
                              height=height, crf=crf, speed=speed)
            offset = 0.0
            if edits != ["black"] and rng.random() < 0.5:
                host = MEDIA / rng.choice(OUTSIDE)
                offset = rng.uniform(2, 6)
                copy = splice([Clip(str(host), 0, offset), Clip(str(copy), 0, duration),
                               Clip(str(host), offset, 5)], tmp / f"q{i}e.mp4")
            label = "+".join(edits) + f"/{height}p/crf{crf}" + ("/embedded" if offset else "")
            jobs.append((copy, title, offset, start, duration, label))
        for j, name in enumerate(OUTSIDE):
            clip = Clip(str(MEDIA / name), 0, 12)
            jobs.append((pirate(clip, tmp / f"n{j}.mp4", edits=["crop10"]), None, 0, 0, 0, "negative"))

        matcher = Matcher(tmp / "idx")
        true_scores, false_scores, errors, hits, per_edit = [], [], [], 0, {}
        fp_queries, spent, media = 0, 0.0, 0.0
        print(f"{'query':5s} {'edit':42s} {'expected':34s} {'got':34s} {'score':>6s} {'start err':>9s}")
        for k, (path, title, offset, start, duration, label) in enumerate(jobs):
            t0 = time.perf_counter()
            report = matcher.match(path, min_score=0.0)
            spent += time.perf_counter() - t0
            media += report.query_duration
            good = [m for m in report.matches if m.title_id == title]
            bad = [m for m in report.matches if m.title_id != title]
            false_scores += [m.score for m in bad if m.duration >= Config().min_match_seconds]
            ok = bool(good) and good[0].decision == "match"
            if title is None and any(m.decision == "match" for m in report.matches):
                fp_queries += 1
            if title is not None:
                hits += ok
                key = label.split("/")[0]
                per_edit.setdefault(key, []).append(ok)
                if good:
                    true_scores.append(good[0].score)
                    errors.append(abs(good[0].ref_start - start) if ok else float("nan"))
            top = report.matches[0] if report.matches else None
            print(f"{k:<5d} {label:42s} {(title or '-')[:34]:34s} "
                  f"{(top.title_id if top else '-')[:34]:34s} {top.score if top else 0:6.3f} "
                  f"{(abs(good[0].ref_start - start) if good else float('nan')):9.2f}")
        positives = sum(1 for j in jobs if j[1] is not None)
        print()
        print(f"recall at the default decision: {hits}/{positives} = {hits / positives:.3f}")
        print(f"false-positive queries among {len(OUTSIDE)} negatives: {fp_queries}")
        found = [e for e in errors if e == e]
        print(f"median |ref start error| of matches: {statistics.median(found):.2f} s" if found else "")
        print(f"true-copy scores: min {min(true_scores):.3f}, median {statistics.median(true_scores):.3f}")
        print(f"wrong-title segments >= {Config().min_match_seconds:g} s: "
              f"max score {max(false_scores, default=0):.3f} (decision threshold {Config().match_threshold})")
        print(f"compute: {60 * spent / media:.1f} s per minute of query")
        print("recall per edit: " + ", ".join(f"{k} {sum(v)}/{len(v)}" for k, v in sorted(per_edit.items())))


if __name__ == "__main__":
    main()
