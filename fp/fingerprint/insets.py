"""Picture-in-picture: find a copied picture shrunk into a window over other footage.

The window's border is a straight step edge that stays put while the pictures on both sides of
it move, so the per-pixel temporal median of the image gradient keeps it and washes out the
content's own edges. A window is the rectangle whose four sides are (nearly) all such persistent
edge pixels. Detection runs on the frames already decoded for the encoder, four seconds at a
time, so a window that shows for part of a suspect is found for that part.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

WINDOW = 8
"""Frames judged together (4 s at 2 frames/s)..."""
CONTEXT = 4
"""...alone, and failing that with this many frames either side (steadier medians)."""
EDGE_LEVEL = 8.0
"""Grey-level step that counts as an edge pixel."""
MIN_SIDE = 0.25
"""A window is at least this fraction of the frame's width and height..."""
MAX_SIDE = 0.92
"""...and at most this fraction (larger ones are bars, which frames.trim_borders handles)."""
MIN_SCORE = 0.85
"""Share of edge pixels along the four sides..."""
MIN_SIDE_SCORE = 0.7
"""...and along the weakest side (where the two pictures meet in like colours)."""
CANDIDATES = 16
"""Strongest rows and columns tried as sides."""

Box = tuple[int, int, int, int]
"""(x0, y0, x1, y1): the window's pixels are frame[y0:y1, x0:x1]."""


def find_window(grey: np.ndarray) -> Box | None:
    """The picture-in-picture window persistent over `grey` frames (n, S, S), or None."""
    size = grey.shape[1]
    vertical = np.median(np.abs(np.diff(grey, axis=2)), axis=0) >= EDGE_LEVEL  # edge right of column c
    horizontal = np.median(np.abs(np.diff(grey, axis=1)), axis=0) >= EDGE_LEVEL  # edge below row r
    down = np.vstack([np.zeros((1, size - 1)), np.cumsum(vertical, axis=0)])  # prefix sums along rows
    across = np.hstack([np.zeros((size - 1, 1)), np.cumsum(horizontal, axis=1)])
    lo, hi = int(MIN_SIDE * size), int(MAX_SIDE * size)

    def strongest(counts: np.ndarray) -> list[int]:
        order = np.argsort(-counts, kind="stable")[:CANDIDATES]
        return sorted(int(c) for c in order if counts[c] >= lo * MIN_SIDE_SCORE and 2 <= c < size - 3)

    cols, rows = strongest(vertical.sum(axis=0)), strongest(horizontal.sum(axis=1))
    best, box = MIN_SCORE, None
    for x0 in cols:
        for x1 in (c for c in cols if lo <= c - x0 <= hi):
            for y0 in rows:
                for y1 in (r for r in rows if lo <= r - y0 <= hi):
                    h, w = y1 - y0, x1 - x0
                    sides = ((down[y1 + 1, x0] - down[y0 + 1, x0]) / h,
                             (down[y1 + 1, x1] - down[y0 + 1, x1]) / h,
                             (across[y0, x1 + 1] - across[y0, x0 + 1]) / w,
                             (across[y1, x1 + 1] - across[y1, x0 + 1]) / w)
                    score = sum(sides) / 4
                    if score >= best and min(sides) >= MIN_SIDE_SCORE:
                        best, box = score, (x0 + 2, y0 + 2, x1, y1)  # inside, one pixel clear of the border
    return box


class InsetFinder:
    """Finds windows over a stream of frames, batch by batch, judging every run of WINDOW frames
    on its own (a short last run borrows the frames before it) and within its neighbours."""

    def __init__(self) -> None:
        self._recent = np.zeros((0, 0, 0), np.float32)

    def boxes(self, frames: np.ndarray) -> list[Box | None]:
        """The window shown in each of `frames` (n, S, S, 3), None where there is none."""
        grey = frames.astype(np.float32).mean(axis=-1)
        seen = np.concatenate([self._recent, grey]) if len(self._recent) else grey
        lead = len(seen) - len(grey)
        out: list[Box | None] = []
        for a in range(lead, len(seen), WINDOW):
            end = min(a + WINDOW, len(seen))
            box = find_window(seen[max(0, end - WINDOW):end])
            if box is None:
                box = find_window(seen[max(0, a - CONTEXT):end + CONTEXT])
            out += [box] * (end - a)
        self._recent = seen[-(WINDOW - 1):]
        return out


def crop_windows(frames: np.ndarray, boxes: list[Box]) -> np.ndarray:
    """Each frame's window stretched back to the frame's size."""
    size = frames.shape[1]
    out = np.empty_like(frames)
    for i, (x0, y0, x1, y1) in enumerate(boxes):
        x = torch.from_numpy(np.ascontiguousarray(frames[i, y0:y1, x0:x1])).permute(2, 0, 1)[None].float()
        x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False, antialias=True)
        out[i] = x[0].permute(1, 2, 0).round().clamp(0, 255).byte().numpy()
    return out
