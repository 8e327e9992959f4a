"""Picture edits as pirates make them, one frame at a time: the augmentations fp-visual-v1 is
trained on (fp.fingerprint.visual_train) and the edits of the frame-level benchmark (bench/frames.py).

Every edit takes a PIL RGB image, a `random.Random` that draws its strength, and a host picture
(used by picture-in-picture only), and returns a new image. Frames reach the encoder as fp's
decoder hands them over: squashed to a square (`to_square`), then black bars trimmed.
"""

from __future__ import annotations

import io
import random
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageEnhance, ImageFilter, ImageFont

FONT = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf")
WORDS = ["FREE MOVIES HD", "www.stream-all-films.to", "CAM", "1080p EXCLUSIVE", "@clips_daily",
         "SUBSCRIBE", "Full movie link in bio", "LIVE", "HDRip x264", "watch now"]
MAX_EDITS = 3
"""A random view goes through 1 to this many edits."""
FINAL_JPEG_SHARE = 0.5
"""Share of random views re-encoded as JPEG after their edits (the copy's file is compressed)."""


def _jpeg(im: Image.Image, quality: int) -> Image.Image:
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=quality)
    return Image.open(io.BytesIO(buf.getvalue())).convert("RGB")


def _gamma(im: Image.Image, gamma: float) -> Image.Image:
    return im.point([round(255 * (i / 255) ** gamma) for i in range(256)] * 3)


def _font(size: int):
    try:
        return ImageFont.truetype(str(FONT), size)
    except OSError:
        return ImageFont.load_default()


def crop(im: Image.Image, rng: random.Random, host=None) -> Image.Image:
    """Keep 55-92 % of each side, anywhere in the frame, and rescale to the original size."""
    w, h = im.size
    keep = rng.uniform(0.55, 0.92)
    cw, ch = round(w * keep * rng.uniform(0.9, 1.1)), round(h * keep)
    cw = min(cw, w)
    x, y = rng.randint(0, w - cw), rng.randint(0, h - ch)
    return im.crop((x, y, x + cw, y + ch)).resize((w, h), Image.BICUBIC)


def letterbox(im: Image.Image, rng: random.Random, host=None) -> Image.Image:
    """Squeeze the picture's height to 60-85 % between black bars."""
    w, h = im.size
    inner = round(h * rng.uniform(0.6, 0.85))
    out = Image.new("RGB", (w, h))
    out.paste(im.resize((w, inner), Image.BICUBIC), (0, (h - inner) // 2))
    return out


def pillarbox(im: Image.Image, rng: random.Random, host=None) -> Image.Image:
    """Squeeze the picture's width to 60-85 % between black bars."""
    w, h = im.size
    inner = round(w * rng.uniform(0.6, 0.85))
    out = Image.new("RGB", (w, h))
    out.paste(im.resize((inner, h), Image.BICUBIC), ((w - inner) // 2, 0))
    return out


def overlay(im: Image.Image, rng: random.Random, host=None) -> Image.Image:
    """A logo box in a corner and a caption of 1-2 lines, in random colours."""
    im = im.copy()
    w, h = im.size
    draw = ImageDraw.Draw(im)
    bw, bh = w * rng.uniform(0.1, 0.22), h * rng.uniform(0.06, 0.14)
    x = w * 0.03 if rng.random() < 0.5 else w * 0.97 - bw
    y = h * 0.03 if rng.random() < 0.5 else h * 0.97 - bh
    colour = tuple(rng.randint(0, 255) for _ in range(3))
    draw.rectangle((x, y, x + bw, y + bh), fill=colour)
    font = _font(max(9, round(h * rng.uniform(0.05, 0.1))))
    for line in range(rng.randint(1, 2)):
        draw.text((w * rng.uniform(0.3, 0.7), h * rng.uniform(0.55, 0.92)), rng.choice(WORDS), font=font,
                  anchor="mm", fill=tuple(rng.randint(0, 255) for _ in range(3)), stroke_width=1,
                  stroke_fill=(0, 0, 0))
    return im


def colour(im: Image.Image, rng: random.Random, host=None) -> Image.Image:
    """Brightness, contrast, saturation and gamma, each changed by up to a third or so."""
    im = ImageEnhance.Brightness(im).enhance(rng.uniform(0.7, 1.3))
    im = ImageEnhance.Contrast(im).enhance(rng.uniform(0.7, 1.4))
    im = ImageEnhance.Color(im).enhance(rng.uniform(0.5, 1.6))
    return _gamma(im, rng.uniform(0.65, 1.5))


def grey(im: Image.Image, rng: random.Random, host=None) -> Image.Image:
    return im.convert("L").convert("RGB")


def blur(im: Image.Image, rng: random.Random, host=None) -> Image.Image:
    """Gaussian blur of 0.4-1 % of the frame's width."""
    return im.filter(ImageFilter.GaussianBlur(im.width * rng.uniform(0.004, 0.01)))


def noise(im: Image.Image, rng: random.Random, host=None) -> Image.Image:
    """Gaussian noise of 5-20 grey levels."""
    a = np.asarray(im, np.float32)
    a = a + np.random.default_rng(rng.getrandbits(32)).normal(0, rng.uniform(5, 20), a.shape)
    return Image.fromarray(a.clip(0, 255).astype(np.uint8))


def compress(im: Image.Image, rng: random.Random, host=None) -> Image.Image:
    """Downscale to 40-70 % and JPEG at quality 8-30, then back up: a hard re-encode."""
    w, h = im.size
    s = rng.uniform(0.4, 0.7)
    small = im.resize((max(16, round(w * s)), max(16, round(h * s))), Image.BILINEAR)
    return _jpeg(small, rng.randint(8, 30)).resize((w, h), Image.BILINEAR)


def flip(im: Image.Image, rng: random.Random, host=None) -> Image.Image:
    return im.transpose(Image.FLIP_LEFT_RIGHT)


def rotate(im: Image.Image, rng: random.Random, host=None) -> Image.Image:
    """2-6 degrees either way, black corners."""
    return im.rotate(rng.choice((-1, 1)) * rng.uniform(2, 6), Image.BICUBIC)


def camcord(im: Image.Image, rng: random.Random, host=None) -> Image.Image:
    """A screen filmed from a seat: keystone and a small shake, inside a dark room, with gamma,
    soft focus and sensor grain."""
    w, h = im.size
    j = lambda: rng.uniform(0.0, 0.08)  # noqa: E731 -- corner jitter, a share of the side
    # the screen's corners as the camera sees them, somewhat inside the frame
    margin = rng.uniform(0.02, 0.1)
    dx, dy = rng.uniform(-0.03, 0.03), rng.uniform(-0.03, 0.03)  # shake
    quad = [(w * (margin + j() + dx), h * (margin + j() + dy)), (w * (1 - margin - j() + dx), h * (margin + j() + dy)),
            (w * (1 - margin - j() + dx), h * (1 - margin - j() + dy)), (w * (margin + j() + dx), h * (1 - margin - j() + dy))]
    coeffs = _perspective_coeffs(quad, [(0, 0), (w, 0), (w, h), (0, h)])
    room = Image.new("RGB", (w, h), tuple(rng.randint(0, 30) for _ in range(3)))
    screen = im.transform((w, h), Image.PERSPECTIVE, coeffs, Image.BICUBIC)
    mask = Image.new("L", (w, h), 255).transform((w, h), Image.PERSPECTIVE, coeffs, Image.BILINEAR)
    room.paste(screen, (0, 0), mask)
    out = _gamma(room, rng.uniform(0.7, 1.4)).filter(ImageFilter.GaussianBlur(w * rng.uniform(0.002, 0.006)))
    return noise(out, rng)


def _perspective_coeffs(out_points: list[tuple[float, float]], in_points: list[tuple[float, float]]) -> list[float]:
    """PIL's PERSPECTIVE coefficients (output pixel -> input pixel) that take each of `out_points`
    to the matching one of `in_points`."""
    rows = []
    for (x, y), (u, v) in zip(out_points, in_points):
        rows.append([x, y, 1, 0, 0, 0, -u * x, -u * y])
        rows.append([0, 0, 0, x, y, 1, -v * x, -v * y])
    a = np.array(rows, np.float64)
    b = np.array([c for p in in_points for c in p], np.float64)
    return np.linalg.solve(a, b).tolist()


def vertical(im: Image.Image, rng: random.Random, host=None) -> Image.Image:
    """A 9:16 phone reframe: a strip of the full height, centred or off centre."""
    w, h = im.size
    sw = min(w, round(h * 9 / 16))
    centre = w / 2 + rng.uniform(-0.3, 0.3) * (w - sw)
    x = int(min(max(centre - sw / 2, 0), w - sw))
    return im.crop((x, 0, x + sw, h))


def blur_fill(im: Image.Image, rng: random.Random, host=None) -> Image.Image:
    """The frame shrunk to 55-80 % over a blurred blow-up of itself."""
    w, h = im.size
    zoom = rng.uniform(1.3, 1.8)
    big = im.resize((round(w * zoom), round(h * zoom)), Image.BILINEAR)
    left, top = (big.width - w) // 2, (big.height - h) // 2
    out = big.crop((left, top, left + w, top + h)).filter(ImageFilter.GaussianBlur(w * 0.03))
    s = rng.uniform(0.55, 0.8)
    small = im.resize((round(w * s), round(h * s)), Image.BICUBIC)
    out.paste(small, ((w - small.width) // 2, (h - small.height) // 2))
    return out


def _pasted(im: Image.Image, rng: random.Random, host: Image.Image | None) -> tuple[Image.Image, tuple]:
    """`pip`'s picture and the box (left, top, right, bottom) its window fills."""
    w, h = im.size
    out = (host or Image.new("RGB", (w, h), (90, 90, 90))).resize((w, h), Image.BILINEAR)
    s = rng.uniform(0.45, 0.7)
    small = im.resize((round(w * s), round(h * s)), Image.BICUBIC)
    x, y = rng.randint(0, w - small.width), rng.randint(0, h - small.height)
    out.paste(small, (x, y))
    return out, (x, y, x + small.width, y + small.height)


def pip(im: Image.Image, rng: random.Random, host: Image.Image | None = None) -> Image.Image:
    """The frame pasted at 45-70 % of the size into another picture (`host`), anywhere."""
    return _pasted(im, rng, host)[0]


PIP_WINDOW_JPEG = (25, 50)
"""JPEG quality range of a `pip_window` copy's whole picture, coded once as its upload is."""


def pip_window(im: Image.Image, rng: random.Random, host: Image.Image | None = None) -> Image.Image:
    """A `pip` copy as fp's query path encodes it: the picture coded, then its window cropped
    back out (fp finds the box over time, fp.fingerprint.insets; here it is known). Not a training
    edit: bench/frames.py measures with it what the descriptor meets after the window finder."""
    out, box = _pasted(im, rng, host)
    return _jpeg(out, rng.randint(*PIP_WINDOW_JPEG)).crop(box)


EDITS = {fn.__name__: fn for fn in (crop, letterbox, pillarbox, overlay, colour, grey, blur, noise, compress,
                                     flip, rotate, camcord, vertical, blur_fill, pip)}
"""Every edit by name, in the brief's order of appearance."""


def random_view(im: Image.Image, rng: random.Random, host: Image.Image | None = None) -> Image.Image:
    """`im` through a chain of 1 to MAX_EDITS random edits, then JPEG now and then."""
    for name in rng.sample(sorted(EDITS), rng.randint(1, MAX_EDITS)):
        im = EDITS[name](im, rng, host)
    return _jpeg(im, rng.randint(20, 60)) if rng.random() < FINAL_JPEG_SHARE else im


def to_square(im: Image.Image, size: int) -> np.ndarray:
    """The frame as fp's decoder hands it over: squashed to `size` x `size`, uint8 RGB."""
    return np.asarray(im.convert("RGB").resize((size, size), Image.BOX if im.width >= size else Image.BICUBIC),
                      np.uint8)
