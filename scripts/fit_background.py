"""Fit the background (mean) embedding that an encoder's vectors are centred on.

Usage: python scripts/fit_background.py ENCODER VIDEO... -- writes
fp/fingerprint/weights/<ENCODER>_background.npy and a .json listing the sources. Every video
counts equally (at most 60 samples each, at 1 frame per second).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

from fp.data import iter_frames, probe
from fp.fingerprint import encoders


def main(name: str, videos: list[str]) -> None:
    enc = encoders.load_visual_encoder(name)
    enc.center.zero_()
    means = []
    for path in videos:
        batches = [enc.encode(b) for b in iter_frames(probe(path), 1.0, 224)]
        means.append(np.concatenate(batches)[:60].mean(0))
        print(f"{path}: {sum(len(b) for b in batches)} frames", file=sys.stderr)
    center = np.mean(means, axis=0).astype(np.float32)
    out = Path(encoders.__file__).parent / "weights" / encoders.BACKGROUND_FILE.format(name=name)
    np.save(out, center)
    out.with_suffix(".json").write_text(json.dumps(
        {"encoder": name, "samples_per_second": 1.0, "max_samples_per_video": 60,
         "sources": [Path(p).name for p in videos]}, indent=1) + "\n")
    print(f"wrote {out} (norm {np.linalg.norm(center):.3f})", file=sys.stderr)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2:])
