"""Frame-level preparation before encoding: black-border removal and blank detection."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

DARK_LEVEL = 28
"""Grey level under which a border row or column counts as black."""
PLAIN_LEVEL = 12
"""Grey levels from a frame's median within which a pixel is background."""
CARD_LEVEL = 40
"""A card's background is darker than this or brighter than 255 minus this (mid-grey plains,
such as a road seen from above or an overcast sky, are footage)."""
MAX_BORDER = 0.4
"""At most this fraction of the height (width) is trimmed from each side: a phone's 9:16 video
pillarboxed in 16:9 leaves 34 % bars on either side."""


GREY_SUMS = 3 * 255 + 1
"""Values a pixel's sum of red, green and blue takes (its grey level times 3)."""


def channel_sums(frames: np.ndarray) -> np.ndarray:
    """Each pixel's sum of red, green and blue (uint16): 3 times its grey level."""
    total = np.add(frames[..., 0], frames[..., 1], dtype=np.uint16)
    total += frames[..., 2]
    return total


def grey_levels(frames: np.ndarray) -> np.ndarray:
    """Each pixel's mean of red, green and blue as float64: exactly `frames.mean(axis=-1)`, in a
    sixth of its time (integer sums over the channel axis instead of a strided reduction)."""
    return channel_sums(frames) / 3.0


def lit_lines(grey: np.ndarray, axis: int) -> np.ndarray:
    """Per row (axis 1) or column (axis 0) of a grey frame: whether its 75th percentile (linear
    interpolation) reaches `DARK_LEVEL`, i.e. it is no bar. Exactly `np.percentile(grey, 75, axis)
    >= DARK_LEVEL`, from counts of dark pixels; only lines whose answer hangs on the interpolation
    are sorted."""
    n = grey.shape[axis]
    position = 0.75 * (n - 1)
    lower = int(np.floor(position))
    dark = (grey < DARK_LEVEL).sum(axis=axis)
    lit = dark <= lower  # the value at `lower` and every one above it are lit
    if position > lower:  # interpolated between `lower` and `lower + 1`: open when only the first is dark
        open_ = np.flatnonzero(dark == lower + 1)
        if len(open_):
            lines = np.take(grey, open_, axis=1 - axis)
            lit[open_] = np.percentile(lines, 75, axis=axis) >= DARK_LEVEL
    return lit


WINDOW_BAR_SHARE = 0.97
"""Inside a picture-in-picture window (`border_box(..., one_sided=True)`), a row or column at
an edge with at least this share of dark pixels is a bar even where the opposite side shows none:
the window finder may stop at a letterbox bar's inner edge on one side and at its outer edge on
the other. (Stricter than `lit_lines`' three quarters: a dark scene's edge must not be cut on one
side only.)"""


def _content_span(lit: np.ndarray, bars: np.ndarray | None = None) -> tuple[int, int]:
    """Letterbox and pillarbox bars come in equal pairs: trim the thinner of the two dark margins
    from both sides, so that a logo in one bar or an off-centre title card crops alike. `lit`:
    per line, whether it is no bar (`lit_lines`); `bars`: per line, whether it is a bar however
    thick the opposite side's (then trimmed from either side on its own)."""
    n = len(lit)
    lit = np.flatnonzero(lit)
    if len(lit) == 0:
        return 0, n
    cap = int(n * MAX_BORDER)
    margin = min(int(lit[0]), n - 1 - int(lit[-1]), cap)
    lo, hi = margin, n - margin
    if bars is not None:
        while lo < cap and bars[lo]:
            lo += 1
        while n - hi < cap and bars[hi - 1]:
            hi -= 1
    return lo, hi


def border_box(frame: np.ndarray, one_sided: bool = False, bars_judged_inside: bool = True
               ) -> tuple[int, int, int, int]:
    """The rows [top, bottom) and columns [left, right) of one frame inside its black bars
    (letterbox, pillarbox, window boxing); with `one_sided` (a picture-in-picture window), also
    inside near-black bars on one side alone (`WINDOW_BAR_SHARE`).

    A row or column is a bar when three quarters of its pixels are dark, so burned-in subtitles or
    a logo inside a bar leave it a bar. Where there are bars (and `bars_judged_inside`, fp's
    `Config.bars_judged_inside`), a line is judged again inside the other axis's: a line lit there
    is no bar, so bars added on one axis do not turn lines of the other dark (a row of a title
    card's lettering is lit whether the card is pillarboxed or not, and the card and its copy are
    cropped alike). The box depends on the frame alone, so a frame and its copy are cropped alike
    wherever they sit in a file.
    """
    grey = grey_levels(frame)
    height, width = grey.shape
    rows, cols = lit_lines(grey, axis=1), lit_lines(grey, axis=0)
    row_bars, col_bars = ((grey < DARK_LEVEL).mean(axis=axis) >= WINDOW_BAR_SHARE for axis in (1, 0)) \
        if one_sided else (None, None)
    top, bottom = _content_span(rows, row_bars)
    left, right = _content_span(cols, col_bars)
    if bars_judged_inside and (left, right) != (0, width):
        rows = rows | lit_lines(grey[:, left:right], axis=1)
    if bars_judged_inside and (top, bottom) != (0, height):
        cols = cols | lit_lines(grey[top:bottom], axis=0)
    return (*_content_span(rows, row_bars), *_content_span(cols, col_bars))


def trim_borders(frame: np.ndarray) -> np.ndarray:
    """One frame without its black bars (`border_box`)."""
    top, bottom, left, right = border_box(frame)
    return frame[top:bottom, left:right]


def border_boxes(frames: np.ndarray, bars_judged_inside: bool = True) -> list[tuple[int, int, int, int]]:
    """`border_box` of every frame."""
    return [border_box(frame, bars_judged_inside=bars_judged_inside) for frame in frames]


def resized(frames: np.ndarray, height: int, width: int) -> np.ndarray:
    """uint8 frames (n, h, w, 3) resized to (n, height, width, 3): bilinear, antialiased."""
    x = torch.from_numpy(np.ascontiguousarray(frames)).permute(0, 3, 1, 2).float()
    x = F.interpolate(x, size=(height, width), mode="bilinear", align_corners=False, antialias=True)
    return x.permute(0, 2, 3, 1).round().clamp(0, 255).byte().numpy()


def fill_frames(frames: np.ndarray, boxes: list[tuple[int, int, int, int]] | None = None,
                bars_judged_inside: bool = True) -> np.ndarray:
    """Trim every frame's bars (`boxes`: their `border_boxes`, found here when not given) and
    stretch what is left back to the batch's square size (the frames that share a box in one call)."""
    size = frames.shape[1]
    out = frames.copy()
    groups: dict[tuple[int, int, int, int], list[int]] = {}
    for i, box in enumerate(border_boxes(frames, bars_judged_inside) if boxes is None else boxes):
        groups.setdefault(tuple(box), []).append(i)
    for (top, bottom, left, right), rows in groups.items():
        if (bottom - top, right - left) == (size, size):
            continue
        out[rows] = resized(frames[rows, top:bottom, left:right], size, size)
    return out


def content_aspects(boxes: list[tuple[int, int, int, int]], aspect: float) -> np.ndarray:
    """Width over height of each frame's picture inside its bars (`boxes`: `border_boxes`), for
    frames squashed to a square from pictures `aspect` wide per unit of height."""
    box = np.array(boxes).reshape(-1, 4)
    return (box[:, 3] - box[:, 2]) / np.maximum(box[:, 1] - box[:, 0], 1) * aspect


def tile_at_aspect(frames: np.ndarray, aspects: np.ndarray) -> np.ndarray:
    """Square frames (bars trimmed, squashed: `fill_frames`) shown at their pictures' own aspect
    (`aspects`, width over height; below 1): each resized to its own width at full height,
    copies of it side by side, the row cut to the square about its centre."""
    size = frames.shape[1]
    out = np.empty_like(frames)
    widths = np.clip(np.round(size * np.asarray(aspects)), 1, size).astype(int)
    for width in np.unique(widths):
        rows = np.flatnonzero(widths == width)
        copies = -(-size // int(width))
        row = np.concatenate([resized(frames[rows], size, int(width))] * copies, axis=2)
        start = (row.shape[2] - size) // 2
        out[rows] = row[:, :, start:start + size]
    return out


def centre_square(frames: np.ndarray, aspects: np.ndarray) -> np.ndarray:
    """Square frames (bars trimmed, squashed: `fill_frames`) of landscape pictures (`aspects`,
    width over height; above 1): the centre square of each picture at its own aspect, a column
    band `1 / aspect` of the frame wide, stretched back to the square size."""
    size = frames.shape[1]
    out = np.empty_like(frames)
    widths = np.clip(np.round(size / np.asarray(aspects)), 1, size).astype(int)
    for width in np.unique(widths):
        rows = np.flatnonzero(widths == width)
        left = (size - int(width)) // 2
        out[rows] = resized(frames[rows, :, left:left + int(width)], size, size)
    return out


def shrink(frames: np.ndarray, factor: int) -> np.ndarray:
    """Frames (n, S, S, 3) uint8 averaged down by `factor` in each direction (S divisible by it),
    from integer sums (a third of the time of a float average pool; `factor` up to 16)."""
    if factor == 1:
        return frames
    n, size, _, channels = frames.shape
    blocks = frames.reshape(n, size // factor, factor, size // factor, factor, channels)
    rows = blocks[:, :, 0].astype(np.uint16)
    for i in range(1, factor):
        rows += blocks[:, :, i]
    total = rows[:, :, :, 0].copy()
    for j in range(1, factor):
        total += rows[:, :, :, j]
    return ((total + factor * factor // 2) // (factor * factor)).astype(np.uint8)


def blank_mask(frames: np.ndarray, std_threshold: float, plain_share: float) -> np.ndarray:
    """True for frames with no picture to speak of: black, white or one flat colour, or a dark
    or bright background over `plain_share` of the frame with a little on it (a text card, a
    logo on black), which looks alike from one video to the next.

    Per frame: the standard deviation of its grey levels under `std_threshold` (flat), their
    median under `CARD_LEVEL` or over 255 minus it (a card's background), and the share within
    `PLAIN_LEVEL` of the median. All are read off each frame's histogram of `channel_sums`, in
    exact integer arithmetic (np.std and np.median on the grey levels up to rounding, in less
    than half their time)."""
    n = len(frames)
    sums = channel_sums(frames).reshape(n, frames.shape[1] * frames.shape[2])
    pixels = sums.shape[1]
    offsets = np.arange(n, dtype=np.int64)[:, None] * GREY_SUMS
    hist = np.bincount((sums + offsets).ravel(), minlength=n * GREY_SUMS).reshape(n, GREY_SUMS)
    levels = np.arange(GREY_SUMS, dtype=np.int64)
    total, squares = hist @ levels, hist @ (levels * levels)
    # of the sums (9 x the grey's); int64 holds the products for frames up to 1,900 pixels
    # square (frame_size is 1,024 at most)
    variance = (pixels * squares - total * total) / float(pixels * pixels)
    flat = np.sqrt(variance) / 3 < std_threshold
    below = np.cumsum(hist, axis=1)
    # 6 x the median: the two middle order statistics of the sums (one and the same for odd counts)
    six_median = (below <= (pixels - 1) // 2).sum(axis=1) + (below <= pixels // 2).sum(axis=1)
    card = (six_median < 6 * CARD_LEVEL) | (six_median > 6 * (255 - CARD_LEVEL))
    near = np.abs(2 * levels[None, :] - six_median[:, None]) < 6 * PLAIN_LEVEL  # |grey - median| < PLAIN_LEVEL
    plain = (hist * near).sum(axis=1) / pixels > plain_share
    return flat | (card & plain)
