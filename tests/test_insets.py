"""Picture-in-picture and blurred-background fill: the window is found on real footage, not on
plain footage, and copies shown in one are matched."""

import numpy as np
import pytest

from conftest import OUTSIDE, VIDEO
from fp.data import probe
from fp.data.decode import iter_frames
from fp.data.edits import Clip, blurred_fill, phone_fill, picture_in_picture, pirate, splice
from fp.fingerprint import insets
from fp.fingerprint.frames import shrink
from fp.fingerprint.insets import (FILL_INSET, WINDOW, InsetFinder, crop_windows, find_fill, find_window, in_runs,
                                  turn_back)

SIZE = 224


def frames_of(name: str, n: int, size: int = SIZE) -> np.ndarray:
    return np.concatenate(list(iter_frames(probe(VIDEO / name), 2.0, size)))[:n]


@pytest.fixture(scope="module")
def host():
    return frames_of("intel_car-detection.mp4", 24)


@pytest.fixture(scope="module")
def guest():
    return frames_of("psd_tv_documentary.mp4", 24)


def composite(host: np.ndarray, guest: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
    x0, y0, x1, y1 = box
    out = host.copy()
    rows = (np.arange(y1 - y0) * guest.shape[1] / (y1 - y0)).astype(int)  # `guest` shrunk into the box
    cols = (np.arange(x1 - x0) * guest.shape[2] / (x1 - x0)).astype(int)
    out[:, y0:y1, x0:x1] = guest[:, rows][:, :, cols]
    return out


@pytest.mark.parametrize("box", [(30, 40, 140, 130), (100, 20, 210, 120), (15, 90, 120, 200)])
def test_window_over_real_footage_is_found(host, guest, box):
    found = find_window(composite(host, guest, box).astype(np.float32).mean(axis=-1))
    assert found is not None
    x0, y0, x1, y1 = box
    # the crop lies inside the window, at most 3 pixels in from each side
    assert x0 <= found[0] <= x0 + 3 and y0 <= found[1] <= y0 + 3
    assert x1 - 3 <= found[2] <= x1 and y1 - 3 <= found[3] <= y1


@pytest.mark.parametrize("still", [10, 20])
def test_window_over_a_still_textured_picture_is_found(guest, still):
    """A still host keeps every one of its edges: counted whole, its textured columns crowded the
    window's sides out of the candidates."""
    host = np.repeat(frames_of("moviepy_big_buck_bunny_0_30.webm", 24)[still][None], len(guest), axis=0)
    box = (30, 40, 140, 130)
    found = find_window(composite(host, guest, box).astype(np.float32).mean(axis=-1))
    assert found is not None and max(abs(a - b) for a, b in zip(found, box)) <= 3


@pytest.mark.parametrize("tilt", [3.0, -4.0])
def test_a_window_leaning_with_a_rotated_copy_is_found_and_cut_out_upright(host, guest, tilt):
    """A copy rotated after the window was pasted: in the squashed square of a 16:9 picture the
    window's top and bottom slant more than its sides, and no upright window shows. Turned back
    by the tilt found, the window is where it was pasted and its crop is the guest's picture."""
    box, aspect = (30, 40, 150, 150), 16 / 9
    leaning = turn_back(composite(host[:WINDOW], guest[:WINDOW], box), -tilt, aspect)
    assert find_window(leaning.astype(np.float32).mean(axis=-1)) is None
    windows = InsetFinder(aspect).boxes(leaning)
    assert all(window is not None and window.tilt == tilt for window in windows)
    found = windows[0].box
    assert max(abs(a - b) for a, b in zip(found, box)) <= 4
    upright = composite(host[:WINDOW], guest[:WINDOW], box)[:, found[1] + 4:found[3] - 4, found[0] + 4:found[2] - 4]
    cut = turn_back(leaning, tilt, aspect)[:, found[1] + 4:found[3] - 4, found[0] + 4:found[2] - 4]
    assert np.abs(cut.astype(int) - upright).mean() < 8
    assert crop_windows(leaning, windows, 64, aspect=aspect).shape == (WINDOW, 64, 64, 3)


@pytest.mark.parametrize("name", ["intel_car-detection.mp4", "psd_tv_documentary.mp4", "zwm_sintel.mp4",
                                  "moviepy_big_buck_bunny_0_30.webm"])
def test_plain_footage_has_no_leaning_window_either(name):
    frames = frames_of(name, 24)
    assert InsetFinder(16 / 9).boxes(frames) == [None] * len(frames)


def test_edge_pixels_count_only_in_straight_runs():
    edges = np.zeros((12, 3), bool)
    edges[1:9, 0] = True  # a run of 8
    edges[::2, 1] = True  # scattered
    edges[3:10, 2] = True  # a run of 7
    assert in_runs(edges, axis=0, length=8).sum(axis=0).tolist() == [8, 0, 0]
    assert in_runs(edges.T, axis=1, length=7).sum(axis=1).tolist() == [8, 0, 7]


@pytest.mark.parametrize("name", ["intel_car-detection.mp4", "psd_tv_documentary.mp4", "zwm_sintel.mp4",
                                  "moviepy_big_buck_bunny_0_30.webm"])
def test_plain_footage_has_no_window(name):
    assert find_window(frames_of(name, 24).astype(np.float32).mean(axis=-1)) is None


def grey_runs(path) -> list[np.ndarray]:
    grey = np.concatenate(list(iter_frames(probe(path), 2.0, SIZE))).astype(np.float32).mean(axis=-1)
    return [grey[a:a + WINDOW] for a in range(0, len(grey) - WINDOW + 1, WINDOW)]


@pytest.mark.parametrize("name, scale, sigma", [("intel_car-detection.mp4", 0.6, 18), ("psd_tv_documentary.mp4", 0.75, 12),
                                                ("zwm_sintel.mp4", 0.65, 24)])
def test_blurred_fill_window_is_found(tmp_path, name, scale, sigma):
    """The frame shrunk to `scale` over a blurred copy of itself (sintel: a letterboxed film, whose
    black bars are blurred into the background too)."""
    copy = pirate(Clip(str(VIDEO / name), 0.0, 8.0), tmp_path / "fill.mp4", filters=[blurred_fill(scale, sigma)],
                  audio=False, crf=30)
    side = SIZE * (1 - scale) / 2 + FILL_INSET
    for run in grey_runs(copy):
        box = find_fill(run)
        assert box is not None
        assert np.allclose(box, (side, side, SIZE - side, SIZE - side), atol=3)


@pytest.mark.parametrize("name, aspect", [("dvrscan_traffic_camera.mp4", 16 / 9), ("askany_hitting_baseball.mp4", 4 / 3)])
def test_phone_frame_fill_band_is_found(tmp_path, name, aspect):
    """The whole picture across the middle of a 9:16 phone frame, over its own blurred blow-up:
    the band is the window (full width; in the decoded square its height is 9/16 / aspect)."""
    copy = pirate(Clip(str(VIDEO / name), 0.0, 8.0), tmp_path / "phone.mp4", filters=[phone_fill(18)],
                  height=640, audio=False, crf=30)
    side = SIZE * (1 - 9 / 16 / aspect) / 2 + FILL_INSET
    for run in grey_runs(copy):
        assert np.allclose(find_fill(run), (0, side, SIZE, SIZE - side), atol=3)


@pytest.mark.parametrize("name", ["intel_car-detection.mp4", "psd_tv_documentary.mp4", "zwm_sintel.mp4",
                                  "videohash_nasa_rocket.mkv", "psd_goldeneye_vfr_drop3.mp4", *OUTSIDE])
def test_plain_footage_has_no_blurred_fill(name):
    """Including title cards (black around centred text), a screen filmed inside a scene and text
    over smoke, whose edges alone would pass for a window."""
    runs = grey_runs(VIDEO / name)
    assert runs and [find_fill(run) for run in runs] == [None] * len(runs)


def test_window_cropped_from_detailed_frames_keeps_its_picture(fingerprinter):
    """`Config.query_window_detail`: the window found on frames at the encoder's size, cropped
    from frames decoded at twice it, looks more like the copied picture to the picture encoder
    than one blown up from the encoder's frames."""
    detail, n = 2, 8
    host = frames_of("intel_car-detection.mp4", n, SIZE * detail)
    guest = frames_of("psd_tv_documentary.mp4", n, SIZE * detail)
    detailed = composite(host, guest, tuple(v * detail for v in (30, 40, 140, 130)))
    boxes = InsetFinder().boxes(shrink(detailed, detail))
    assert all(boxes)
    encode = fingerprinter.visual.encode
    truth = encode(frames_of("psd_tv_documentary.mp4", n))
    sharp = (encode(crop_windows(detailed, boxes, SIZE, detail)) * truth).sum(axis=1)
    blown = (encode(crop_windows(shrink(detailed, detail), boxes)) * truth).sum(axis=1)
    assert sharp.mean() > blown.mean() + 0.04  # 0.96 against 0.88 measured


def test_finder_marks_only_the_frames_that_show_a_window(host, guest):
    box = (30, 40, 140, 130)
    stream = np.concatenate([host[:8], composite(host[8:], guest[8:], box)])
    finder = InsetFinder()
    marks = finder.boxes(stream[:16]) + finder.boxes(stream[16:])  # two batches, context carried
    assert [b is not None for b in marks] == [False] * 8 + [True] * 16


def test_window_boxes_do_not_depend_on_how_the_stream_is_batched(host, guest):
    """Each batch sees the first frames of the next: a run at a batch's end is judged with the
    context a run inside it has."""
    plain = frames_of("videollama_boat.mp4", 7)
    stream = np.concatenate([host[:3], composite(host[3:17], guest[3:17], (30, 40, 140, 130)), plain])
    whole = InsetFinder().boxes(stream)  # batched without what follows, a run of 8 was judged otherwise
    assert any(b is not None for b in whole) and any(b is None for b in whole)
    for size in (WINDOW, 2 * WINDOW):
        finder = InsetFinder()
        batched = [b for a in range(0, len(stream), size) for b in finder.boxes(stream[a:a + size], stream[a + size:])]
        assert batched == whole
    with pytest.raises(ValueError, match="multiple"):
        InsetFinder().boxes(stream[:WINDOW - 1], stream[WINDOW - 1:])


def test_decoding_batches_are_whole_runs_of_the_window_finder():
    from fp.data.decode import FRAME_BATCH, GPU_FRAME_BATCH

    assert FRAME_BATCH % WINDOW == 0 and GPU_FRAME_BATCH % WINDOW == 0


@pytest.mark.slow
def test_copy_in_a_window_over_other_footage_is_matched(matcher, tmp_path):
    title, start, duration = "intel_car-detection.mp4", 8.0, 14.0
    copy = pirate(Clip(str(VIDEO / title), start, duration), tmp_path / "copy.mp4", filters=["hflip"])
    pip = picture_in_picture(copy, VIDEO / OUTSIDE[0], tmp_path / "pip.mp4", scale=0.5, x=0.3, y=0.2)
    suspect = splice([Clip(str(VIDEO / OUTSIDE[3]), 0, 4), Clip(str(pip), 0, duration)],
                     tmp_path / "suspect.mp4", audio=True)
    report = matcher.match(suspect)
    assert report.found and report.matches[0].title_id == title
    best = report.matches[0]
    assert best.query_start == pytest.approx(4.0, abs=1.0)
    assert best.query_end == pytest.approx(4.0 + duration, abs=1.0)
    assert best.ref_start == pytest.approx(start, abs=1.0)


@pytest.mark.slow
def test_copy_in_a_window_then_rotated_is_matched_through_its_leaning_window(matcher, tmp_path, monkeypatch):
    """Rotated 3 degrees after the window was pasted, without sound: found through the window
    turned back, over its whole length; with no tilt tried, not at all."""
    title, start, duration = "intel_car-detection.mp4", 8.0, 14.0
    pip = picture_in_picture(VIDEO / title, VIDEO / OUTSIDE[0], tmp_path / "pip.mp4", scale=0.5, x=0.3, y=0.2)
    leaning = pirate(Clip(str(pip), start, duration), tmp_path / "leaning.mp4",
                     filters=["rotate=3*PI/180:fillcolor=black"], audio=False, crf=30)
    report = matcher.match(leaning)
    assert report.found and report.matches[0].title_id == title
    best = report.matches[0]
    assert best.query_start == pytest.approx(0.0, abs=1.0) and best.query_end == pytest.approx(duration, abs=1.0)
    assert best.ref_start == pytest.approx(start, abs=1.0)
    monkeypatch.setattr(insets, "TILTS", ())
    assert not matcher.match(leaning).found


@pytest.mark.slow
def test_copy_over_a_blurred_copy_of_itself_is_matched(matcher, tmp_path):
    """Shrunk to 60 % over its own blurred picture, without sound: not found as it is, decided on
    the window."""
    title, duration = "psd_testvideo.mp4", 20.0
    copy = pirate(Clip(str(VIDEO / title), 0.0, duration), tmp_path / "fill.mp4", filters=[blurred_fill(0.6, 18)],
                  audio=False, crf=30)
    report = matcher.match(copy)
    assert report.found and report.matches[0].title_id == title
    best = report.matches[0]
    assert best.decision == "match"
    assert best.query_start == pytest.approx(0.0, abs=1.0) and best.query_end == pytest.approx(duration, abs=1.0)
    assert best.ref_start == pytest.approx(0.0, abs=1.0) and best.ref_end == pytest.approx(duration, abs=1.0)


@pytest.mark.slow
def test_phone_frame_copy_over_its_own_blur_is_matched(matcher, tmp_path):
    title, duration = "dvrscan_traffic_camera.mp4", 20.0
    copy = pirate(Clip(str(VIDEO / title), 0.0, duration), tmp_path / "phone.mp4", filters=[phone_fill(18)],
                  height=640, audio=False, crf=30)
    report = matcher.match(copy)
    assert report.found and report.matches[0].title_id == title and report.matches[0].decision == "match"
    best = report.matches[0]
    assert best.query_start == pytest.approx(0.0, abs=1.0) and best.query_end == pytest.approx(duration, abs=1.0)
    assert best.ref_start == pytest.approx(0.0, abs=1.0) and best.ref_end == pytest.approx(duration, abs=1.0)
