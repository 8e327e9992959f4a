"""Which subtitle representation finds the right passage: MiniLM embeddings or hashed shingles?

    python -m bench.subtitles        (needs Debian's fortunes-min for its text)

Quotes from fortunes-min play the reference's cues. Each query is a window of 4 consecutive
cues as a pirate's subtitles would carry them: re-typed (case, punctuation, line breaks),
OCR-damaged (l/I, rn/m, 0/O, dropped letters at 4 %), re-cut (cues split and merged at other
places), or all three. A query hits when its best window among all reference windows is the
right one. Both encoders see the same queries.
"""

from __future__ import annotations

import random
import re
from pathlib import Path

import numpy as np

from fp.fingerprint.text import MiniLMEncoder, ShingleEncoder

SOURCES = [Path("/usr/share/games/fortunes") / n for n in ("fortunes", "literature", "riddles")]
WINDOW = 4


def quotes() -> list[str]:
    text = "\n".join(p.read_text(errors="replace") for p in SOURCES if p.exists())
    out = [" ".join(q.split()) for q in text.split("\n%\n")]
    return [q for q in out if 20 <= len(q) <= 160]


def retype(s: str, rng: random.Random) -> str:
    s = s.upper() if rng.random() < 0.3 else s.lower() if rng.random() < 0.5 else s
    s = re.sub(r"[,;:!?.\"']", lambda m: "" if rng.random() < 0.6 else m.group(), s)
    return s.replace(" ", "\n", 1) if rng.random() < 0.5 else s


def ocr(s: str, rng: random.Random) -> str:
    swaps = {"l": "I", "m": "rn", "O": "0", "o": "0", "e": "c", "i": "l"}
    out = []
    for c in s:
        r = rng.random()
        out.append("" if r < 0.01 else swaps.get(c, c) if r < 0.04 else c)
    return "".join(out)


def recut(cues: list[str], rng: random.Random) -> list[str]:
    words = " ".join(cues).split()
    cut = sorted(rng.sample(range(1, len(words)), k=min(len(words) - 1, len(cues) + rng.randint(-1, 1))))
    return [" ".join(words[a:b]) for a, b in zip([0] + cut, cut + [len(words)]) if a < b]


def main() -> None:
    rng = random.Random(5)
    lines = quotes()
    windows = [" ".join(lines[i:i + WINDOW]) for i in range(len(lines) - WINDOW)]
    picks = rng.sample(range(len(windows)), 200)
    edits = {
        "re-typed": lambda cues: [retype(c, rng) for c in cues],
        "ocr": lambda cues: [ocr(c, rng) for c in cues],
        "re-cut": lambda cues: recut(cues, rng),
        "all three": lambda cues: [ocr(retype(c, rng), rng) for c in recut(cues, rng)],
    }
    print(f"{len(lines)} reference cues, {len(windows)} windows of {WINDOW}; 200 queries per edit")
    print("hit rate (and median margin: the true window's similarity minus the best one sharing no cue)")
    print(f"{'edit':>10s} {'minilm':>16s} {'shingles':>16s}")
    encoders = {"minilm": MiniLMEncoder(), "shingles": ShingleEncoder()}
    refs = {name: enc.encode(windows) for name, enc in encoders.items()}
    totals = dict.fromkeys(encoders, 0)
    for edit, apply in edits.items():
        queries = [" ".join(apply(lines[i:i + WINDOW])) for i in picks]
        row = []
        for name, enc in encoders.items():
            sims = enc.encode(queries) @ refs[name].T
            hits = int(np.sum(np.argmax(sims, axis=1) == np.array(picks)))
            true = sims[np.arange(len(picks)), picks]
            for row_i, pick in enumerate(picks):  # windows sharing cues with the true one are not wrong
                sims[row_i, max(0, pick - WINDOW + 1):pick + WINDOW] = -1
            totals[name] += hits
            row.append(f"{hits / len(picks):.3f} ({np.median(true - sims.max(axis=1)):.2f})")
        print(f"{edit:>10s} {row[0]:>16s} {row[1]:>16s}")
    print(f"{'all':>10s} {totals['minilm'] / 800:16.3f} {totals['shingles'] / 800:16.3f}")


if __name__ == "__main__":
    main()
