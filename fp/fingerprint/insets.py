"""Picture-in-picture: find a copied picture shrunk into a window over other footage, or over a
blurred copy of itself (blurred-background fill).

The window's border is a straight step edge that stays put while the pictures on both sides of
it move, so the per-pixel temporal median of the image gradient keeps it and washes out the
content's own edges. A window is the rectangle whose four sides are (nearly) all such persistent
edge pixels. A blurred fill's border is often too faint for that (the two sides share their
colours), so a centred window is also accepted on weaker edges when the ring outside it carries no
detail and the picture outside is the window blown up and blurred (`find_fill`). A window that
leans (a copy rotated after the window was pasted) is searched on the edges turned back
(`find_tilted`). Detection runs on the frames already decoded for the encoder, four seconds at a
time, so a window that shows for part of a suspect is found for that part.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import torch
import torch.nn.functional as F

from fp.fingerprint.frames import border_box, resized

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
"""Strongest rows and columns tried as sides..."""
MIN_RUN = 8
"""...counting a line's edge pixels only where they run straight along it for at least this many
pixels. A side is a straight edge; the persistent edges of a textured or static background are
scattered, and counted whole they crowded the sides of real windows out of the candidates (two
picture-in-picture copies of the public benchmark lost 4 and 8 s: a side ranked 17th and 22nd
among the columns, 3rd and 4th counted in runs)."""

TILTS = (2.0, 3.0, 4.0)
"""Degrees (either way) a window may lean, tried where no upright window shows: a copy rotated
after its window was pasted slants the window's sides, which then hold no straight row or
column. The persistent edges are turned back by each in the picture's own geometry (in the
squashed square frame a rotation leans a wide picture's top and bottom more than its sides), and
the window is cropped from the frames turned back alike."""

FILL_MARGIN = (0.06, 0.25)
"""A blurred fill's window inside the frame leaves this fraction of the frame's side on each
side (windows of 50-88 %)..."""
FILL_SLACK = 2
"""...centred within this many pixels."""
FILL_BAR_MARGIN = (0.06, 0.40)
"""A band across the whole frame leaves this fraction above and below: a 16:9 picture in a 9:16
phone frame leaves 0.34, 2.39:1 leaves 0.38."""
FILL_RING = 6
"""Pixels of the ring just outside each side whose detail the side's edge is compared with."""
FILL_TRIES = 8
"""Distinct boxes (best edge scores first) whose background is compared with their blow-up; the
best fit wins. The edges alone also pick the window's own black bars, a picture framed in it, or
a blurred band of the background (a letterboxed film's bars, blurred)..."""
FILL_DISTINCT = 3
"""...boxes whose sides all lie within this many pixels of a tried one's are not tried again."""
FILL_INSET = 2
"""The window is cropped this many pixels clear of its border (blurred by scaling and coding), so
that black bars inside it reach the crop's edge and are trimmed like any others."""
FILL_EDGE_LEVEL = 2.0
"""Grey-level step (temporal median) each side of a fill's window shows at least..."""
FILL_MIN_RATIO = 1.5
"""...and at least this many times the ring's detail on every side..."""
FILL_BAND_MIN_RATIO = 2.5
"""...(a band's two sides: at least this many times; they run the frame's whole width, so a true
band's edges stand out: 3-22 times on phone-frame fills of 16:9 and 4:3 footage, against 1.7 for
the side of a block of text over footage)..."""
FILL_MEAN_LOG_RATIO = 1.0
"""...and on average (mean natural log of the four ratios; 1.0 is 2.7 times)."""
FILL_ZOOMS = (1.0, 1.3, 1.6)
"""How far the background may be blown up beyond the frame (1.0: the frame itself, blurred)."""
FILL_SIGMA = 2.0
"""Blur (pixels, at a quarter of the frame size) applied to the window's blow-up before it is
compared with the background."""
FILL_FLAT_STD = 2.0
"""A background whose grey levels vary less than this (standard deviation) is flat, black bars
or a title card's, and tells nothing about a blow-up."""
FILL_MIN_CORRELATION = 0.7
"""The background correlates at least this well with the blurred blow-up of the window (median
over frames whose background is not flat). Measured on the public benchmark's blurred fills
(55-80 %, some with black bars inside the window or a follow-up edit): 0.73-1.0; on 183 four-second
runs of ordinary footage, the centred boxes that passed the edge tests (black title cards, text
over smoke, a screen inside a scene) 0.11-0.59."""

Box = tuple[int, int, int, int]
"""(x0, y0, x1, y1): the window's pixels are frame[y0:y1, x0:x1]."""


class Inset(NamedTuple):
    """A window found in a frame: its `box` in the frame turned back by `tilt` degrees (0: as it is,
    see `turn_back`)."""

    box: Box
    tilt: float = 0.0


Steps = tuple[np.ndarray, np.ndarray]
"""Per-pixel temporal medians of the grey-level step right of each column (S, S-1) and below each
row (S-1, S): what persists of a run's edges."""


def persistent_steps(grey: np.ndarray) -> Steps:
    """The `Steps` of `grey` frames (n, S, S)."""
    return np.median(np.abs(np.diff(grey, axis=2)), axis=0), np.median(np.abs(np.diff(grey, axis=1)), axis=0)


def in_runs(edges: np.ndarray, axis: int, length: int = MIN_RUN) -> np.ndarray:
    """The pixels of `edges` (2-D, bool) that belong to a run of at least `length` along `axis`."""
    e = np.moveaxis(edges, axis, 0)
    n = len(e)
    if n < length:
        return np.zeros_like(edges)
    sums = np.cumsum(np.vstack([np.zeros((1, e.shape[1]), np.int32), e.astype(np.int32)]), axis=0)
    full = (sums[length:] - sums[:-length]) == length  # the run of `length` starting at each pixel
    starts = np.cumsum(np.vstack([np.zeros((1, e.shape[1]), np.int32), full.astype(np.int32)]), axis=0)
    pixel = np.arange(n)  # in a run when one starts within `length` - 1 before it, or at it
    member = starts[np.minimum(pixel + 1, len(full))] - starts[np.clip(pixel - length + 1, 0, len(full))] > 0
    return np.moveaxis(member, 0, axis)


def find_window(grey: np.ndarray, steps: Steps | None = None) -> Box | None:
    """The picture-in-picture window persistent over `grey` frames (n, S, S), or None (`steps`:
    theirs, when already computed)."""
    size = grey.shape[1]
    # edge pixels: right of column c, below row r
    vertical, horizontal = (step >= EDGE_LEVEL for step in steps or persistent_steps(grey))
    down = np.vstack([np.zeros((1, size - 1)), np.cumsum(vertical, axis=0)])  # prefix sums along rows
    across = np.hstack([np.zeros((size - 1, 1)), np.cumsum(horizontal, axis=1)])
    lo, hi = int(MIN_SIDE * size), int(MAX_SIDE * size)

    def strongest(counts: np.ndarray) -> list[int]:
        order = np.argsort(-counts, kind="stable")[:CANDIDATES]
        return sorted(int(c) for c in order if counts[c] >= lo * MIN_SIDE_SCORE and 2 <= c < size - 3)

    cols, rows = strongest(in_runs(vertical, axis=0).sum(axis=0)), strongest(in_runs(horizontal, axis=1).sum(axis=1))
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


def _turn_grid(tilt: float, aspect: float, shape: tuple[int, ...]) -> torch.Tensor:
    """Sampling grid that turns square frames (`shape`: n, c, S, S) squashed from pictures of
    `aspect` (width / height) back by `tilt` degrees in the picture's own geometry."""
    a = np.radians(tilt)
    theta = torch.tensor([[[np.cos(a), -np.sin(a) / aspect, 0.0], [np.sin(a) * aspect, np.cos(a), 0.0]]],
                         dtype=torch.float32)
    return F.affine_grid(theta.expand(shape[0], 2, 3), list(shape), align_corners=False)


def turn_back(frames: np.ndarray, tilt: float, aspect: float) -> np.ndarray:
    """Square frames (n, S, S, 3) uint8 turned back by `tilt` degrees (bilinear; black outside)."""
    if not tilt:
        return frames
    x = torch.from_numpy(np.ascontiguousarray(frames)).permute(0, 3, 1, 2).float()
    turned = F.grid_sample(x, _turn_grid(tilt, aspect, tuple(x.shape)), mode="bilinear", align_corners=False)
    return turned.round().clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1).numpy()


def turned_steps(steps: Steps, tilt: float, aspect: float) -> Steps:
    """`Steps` turned back by `tilt` degrees (nearest sample, so that a step keeps its height)."""
    size = steps[0].shape[0]
    out = []
    for step in steps:
        square = np.zeros((1, 1, size, size), np.float32)
        square[0, 0, :step.shape[0], :step.shape[1]] = step
        x = torch.from_numpy(square)
        turned = F.grid_sample(x, _turn_grid(tilt, aspect, tuple(x.shape)), mode="nearest", align_corners=False)
        out.append(turned[0, 0, :step.shape[0], :step.shape[1]].numpy())
    return out[0], out[1]


def find_tilted(grey: np.ndarray, steps: Steps, aspect: float) -> Inset | None:
    """A picture-in-picture window leaning by one of `TILTS` over `grey` frames (n, S, S) squashed
    from pictures of `aspect`, or None."""
    for tilt in (t * sign for t in TILTS for sign in (1, -1)):
        box = find_window(grey, turned_steps(steps, tilt, aspect))
        if box is not None:
            return Inset(box, tilt)
    return None


def _integral(a: np.ndarray) -> np.ndarray:
    return np.pad(a.astype(np.float64).cumsum(0).cumsum(1), ((1, 0), (1, 0)))


def _mean(table: np.ndarray, y0, y1, x0, x1):
    """Mean of the rectangle(s) [y0:y1, x0:x1] of the array whose integral is `table`."""
    return (table[y1, x1] - table[y0, x1] - table[y1, x0] + table[y0, x0]) / np.maximum(1, (y1 - y0) * (x1 - x0))


def _pairs(size: int, margins: tuple[float, float]) -> np.ndarray:
    """(first, end) of a centred span leaving `margins` of `size` each side, `FILL_SLACK` off centre."""
    near = np.arange(max(int(margins[0] * size), FILL_RING + 2), int(margins[1] * size) + 1)
    return np.array([(a, size - a + k) for a in near for k in range(-FILL_SLACK, FILL_SLACK + 1)])


def _fill_candidates(size: int) -> list[tuple[np.ndarray, ...]]:
    """Each family of centred windows as (x0, y0, x1, y1, sides): boxes inside the frame (four
    sides), and full-width bands (top and bottom: a wide picture in a tall phone frame). A band's
    background is its picture blown up with its shape kept (stretched, a band's blow-up continues
    the picture beside it in any footage). Full-height bands (a tall picture in a wide frame) are
    not searched: the sides of a block of text over footage passed for one."""
    box, bar = _pairs(size, FILL_MARGIN), _pairs(size, FILL_BAR_MARGIN)
    x0, y0 = (g.ravel() for g in np.meshgrid(box[:, 0], box[:, 0], indexing="ij"))
    x1, y1 = (g.ravel() for g in np.meshgrid(box[:, 1], box[:, 1], indexing="ij"))
    zero, full = np.zeros(len(bar), int), np.full(len(bar), size)
    return [(x0, y0, x1, y1, ("left", "right", "top", "bottom")), (zero, bar[:, 0], full, bar[:, 1], ("top", "bottom"))]


def find_fill(grey: np.ndarray, steps: Steps | None = None) -> Box | None:
    """The window of a blurred-background fill persistent over `grey` frames (n, S, S), or None:
    of the centred rectangles (or bands) whose sides are edges over a detail-free ring, the one
    whose surroundings best match its own picture blown up and blurred (see `fill_correlation`;
    `steps`: the frames', when already computed)."""
    size = grey.shape[1]
    vertical, horizontal = steps or persistent_steps(grey)
    detail = np.zeros(grey.shape[1:])
    detail[:, :-1] += vertical
    detail[:-1, :] += horizontal
    v, h, d = _integral(vertical), _integral(horizontal), _integral(detail)
    ring = FILL_RING
    box = None
    for x0, y0, x1, y1, sides in _fill_candidates(size):  # a band only where no box is found
        evidence = {  # (edge across the side, detail of the ring outside it)
            "left": lambda: (_mean(v, y0, y1, x0 - 1, x0), _mean(d, y0, y1, x0 - 1 - ring, x0 - 2)),
            "right": lambda: (_mean(v, y0, y1, x1 - 1, x1), _mean(d, y0, y1, x1 + 1, x1 + 1 + ring)),
            "top": lambda: (_mean(h, y0 - 1, y0, x0, x1), _mean(d, y0 - 1 - ring, y0 - 2, x0, x1)),
            "bottom": lambda: (_mean(h, y1 - 1, y1, x0, x1), _mean(d, y1 + 1, y1 + 1 + ring, x0, x1))}
        edges, rings = (np.stack(a) for a in zip(*(evidence[side]() for side in sides)))
        ratios = np.maximum(edges, 1e-3) / (rings + 0.5)  # + 0.5: a flat ring is not infinitely clean
        score = np.log(ratios).mean(axis=0)
        least = FILL_MIN_RATIO if len(sides) == 4 else FILL_BAND_MIN_RATIO
        ok = (edges.min(axis=0) >= FILL_EDGE_LEVEL) & (ratios.min(axis=0) >= least) & (score >= FILL_MEAN_LOG_RATIO)
        tried, best = [], FILL_MIN_CORRELATION
        for i in np.argsort(-np.where(ok, score, -np.inf))[:int(ok.sum())]:
            candidate = (int(x0[i]), int(y0[i]), int(x1[i]), int(y1[i]))
            if any(max(abs(p - q) for p, q in zip(candidate, other)) <= FILL_DISTINCT for other in tried):
                continue
            tried.append(candidate)
            fit = fill_correlation(grey, candidate, keep_shape=len(sides) == 2)
            if fit >= best:
                best, box = fit, candidate
            if len(tried) == FILL_TRIES:
                break
        if box is not None:
            break
    if box is None:
        return None
    x0, y0, x1, y1 = box  # clear of the border; a band's ends are the frame's own
    return (x0 + FILL_INSET * (x0 > 0), y0 + FILL_INSET * (y0 > 0),
            x1 - FILL_INSET * (x1 < size), y1 - FILL_INSET * (y1 < size))


def _blur(x: torch.Tensor, sigma: float) -> torch.Tensor:
    k = int(3 * sigma) * 2 + 1
    t = torch.arange(k, dtype=torch.float32) - k // 2
    w = torch.exp(-t ** 2 / (2 * sigma ** 2))
    w /= w.sum()
    x = F.pad(x, (k // 2,) * 4, mode="replicate")
    return F.conv2d(F.conv2d(x, w.view(1, 1, 1, k)), w.view(1, 1, k, 1))


def fill_correlation(grey: np.ndarray, box: Box, keep_shape: bool = False, factor: int = 4) -> float:
    """How well the picture outside `box` (at 1/`factor` size) matches the window blown up to the
    frame (with `keep_shape`, keeping its own shape until it covers the frame) times each of
    `FILL_ZOOMS`, and blurred: the best zoom's median Pearson correlation over frames whose
    background is not flat (-1 when none is)."""
    frames = torch.from_numpy(grey.astype(np.float32))[:, None]
    small = F.avg_pool2d(frames, factor)
    n = small.shape[-1]
    x0, y0, x1, y1 = box
    outside = torch.ones(n, n, dtype=torch.bool)
    outside[max(y0 // factor - 1, 0):-(-y1 // factor) + 1, max(x0 // factor - 1, 0):-(-x1 // factor) + 1] = False
    seen = small[:, 0][:, outside]
    seen = seen - seen.mean(dim=1, keepdim=True)
    textured = seen.std(dim=1) > FILL_FLAT_STD
    if not textured.any():
        return -1.0
    best = -1.0
    stretch = (1.0, 1.0) if not keep_shape else (max(1.0, (x1 - x0) / (y1 - y0)), max(1.0, (y1 - y0) / (x1 - x0)))
    for zoom in FILL_ZOOMS:
        width, height = round(n * zoom * stretch[0]), round(n * zoom * stretch[1])
        blown = F.interpolate(frames[:, :, y0:y1, x0:x1], size=(height, width), mode="bilinear",
                              align_corners=False, antialias=True)
        top, left = (height - n) // 2, (width - n) // 2
        guess = _blur(blown[:, :, top:top + n, left:left + n], FILL_SIGMA)[:, 0][:, outside]
        guess = guess - guess.mean(dim=1, keepdim=True)
        corr = (seen * guess).sum(dim=1) / (seen.norm(dim=1) * guess.norm(dim=1)).clamp_min(1e-6)
        best = max(best, float(corr[textured].median()))
    return best


class InsetFinder:
    """Finds windows over a stream of frames, batch by batch, judging every run of WINDOW frames
    on its own (a short last run borrows the frames before it) and within its neighbours: a
    blurred fill's first (a step-edge search may take a box inside its window: the window's own
    black bars, a picture framed in it), else a picture-in-picture's (`find_window`), upright or
    else leaning (`find_tilted`, on the run with its neighbours). Runs start every WINDOW frames
    from the stream's first; batches of a multiple of WINDOW frames, each given the first frames
    of the next (`ahead`), find the boxes one batch of the whole stream finds."""

    def __init__(self, aspect: float = 1.0) -> None:
        self.aspect = aspect
        """Width / height of the pictures the square frames were squashed from."""
        self._recent = np.zeros((0, 0, 0), np.float32)

    def boxes(self, frames: np.ndarray, ahead: np.ndarray | None = None) -> list[Inset | None]:
        """The window shown in each of `frames` (n, S, S, 3), None where there is none; `ahead`:
        the frames that follow them (CONTEXT are used), None or empty at the stream's end."""
        if ahead is not None and len(ahead) and len(frames) % WINDOW:
            raise ValueError(f"a batch followed by more frames must hold a multiple of {WINDOW} frames")
        grey = frames.astype(np.float32).mean(axis=-1)
        after = ahead[:CONTEXT].astype(np.float32).mean(axis=-1) if ahead is not None and len(ahead) else grey[:0]
        seen = np.concatenate([part for part in (self._recent, grey, after) if len(part)])
        lead, stop = len(self._recent), len(self._recent) + len(grey)
        out: list[Inset | None] = []
        for a in range(lead, stop, WINDOW):
            end = min(a + WINDOW, stop)
            run, wider = seen[max(0, end - WINDOW):end], seen[max(0, a - CONTEXT):end + CONTEXT]
            steps = persistent_steps(run)
            box = find_fill(run, steps) or find_window(run, steps)
            inset = Inset(box) if box else self._around(wider)
            out += [inset] * (end - a)
        self._recent = seen[:stop][-(WINDOW - 1):]
        return out

    def _around(self, wider: np.ndarray) -> Inset | None:
        """A window over a run with its neighbours (steadier medians), upright or else leaning."""
        steps = persistent_steps(wider)
        box = find_window(wider, steps)
        return Inset(box) if box else find_tilted(wider, steps, self.aspect)


def crop_windows(frames: np.ndarray, insets: list[Inset], size: int | None = None, scale: int = 1,
                 aspect: float = 1.0, bars_judged_inside: bool = True) -> np.ndarray:
    """Each frame's window, inside its own black bars (`border_box`, one-sided: the box may hold a
    letterbox bar on one side only), stretched to `size` (default: the frames' own); the boxes
    are in pixels of frames `scale` times smaller than `frames` (found on those, cropped from these),
    a leaning window's in the frame turned back (square frames squashed from pictures of `aspect`)."""
    size = size or frames.shape[1]
    out = np.empty((len(frames), size, size, frames.shape[3]), frames.dtype)
    for i, (box, tilt) in enumerate(insets):
        x0, y0, x1, y1 = (v * scale for v in box)
        window = turn_back(frames[i:i + 1], tilt, aspect)[0, y0:y1, x0:x1]
        top, bottom, left, right = border_box(window, one_sided=True, bars_judged_inside=bars_judged_inside)
        out[i] = resized(window[None, top:bottom, left:right], size, size)[0]
    return out
