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


def _content_span(levels: np.ndarray) -> tuple[int, int]:
    """Letterbox and pillarbox bars come in equal pairs: trim the thinner of the two dark margins
    from both sides, so that a logo in one bar or an off-centre title card crops alike."""
    lit = np.flatnonzero(levels >= DARK_LEVEL)
    n = len(levels)
    if len(lit) == 0:
        return 0, n
    margin = min(int(lit[0]), n - 1 - int(lit[-1]), int(n * MAX_BORDER))
    return margin, n - margin


def trim_borders(frame: np.ndarray) -> np.ndarray:
    """Crop the black bars (letterbox, pillarbox, window boxing) of one frame.

    A row or column is a bar when three quarters of its pixels are dark, so burned-in subtitles or
    a logo inside a bar leave it a bar. The crop depends on the frame alone, so a frame and its
    copy are cropped alike wherever they sit in a file.
    """
    grey = frame.mean(axis=-1)
    top, bottom = _content_span(np.percentile(grey, 75, axis=1))
    left, right = _content_span(np.percentile(grey, 75, axis=0))
    return frame[top:bottom, left:right]


def fill_frames(frames: np.ndarray) -> np.ndarray:
    """Trim every frame's bars and stretch what is left back to the batch's square size."""
    size = frames.shape[1]
    out = np.empty_like(frames)
    for i, frame in enumerate(frames):
        crop = trim_borders(frame)
        if crop.shape[:2] == (size, size):
            out[i] = frame
        else:
            x = torch.from_numpy(np.ascontiguousarray(crop)).permute(2, 0, 1)[None].float()
            x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False, antialias=True)
            out[i] = x[0].permute(1, 2, 0).round().clamp(0, 255).byte().numpy()
    return out


def blank_mask(frames: np.ndarray, std_threshold: float, plain_share: float) -> np.ndarray:
    """True for frames with no picture to speak of: black, white or one flat colour, or a dark
    or bright background over `plain_share` of the frame with a little on it (a text card, a
    logo on black), which looks alike from one video to the next."""
    grey = frames.mean(axis=-1).reshape(len(frames), frames.shape[1] * frames.shape[2])
    flat = grey.std(axis=1) < std_threshold
    median = np.median(grey, axis=1)
    card = (median < CARD_LEVEL) | (median > 255 - CARD_LEVEL)
    plain = (np.abs(grey - median[:, None]) < PLAIN_LEVEL).mean(axis=1) > plain_share
    return flat | (card & plain)
