"""Copies made against Content ID, decided on the test catalogue: a pitch-shifted soundtrack over a
black picture, and a 9:16 phone reframe of a camcorded screen; negatives made the same way from
footage outside the catalogue are not matched."""

import numpy as np
import pytest

from conftest import VIDEO
from fp.config import Config
from fp.data import probe
from fp.data.edits import Clip, black_picture, camcord, pirate, pitch_shift, vertical
from fp.fingerprint.types import REFRAME

TITLE = "psd_tv_documentary.mp4"  # in the catalogue, with a voiced soundtrack
START, SECONDS = 5.0, 15.0
OUTSIDE_VOICED = "facerec_hamilton_clip.mp4"  # not in the catalogue, with sound
NOISE_SNR_DB = 20.0


def decided(report, title):
    return [m for m in report.matches if m.title_id == title and m.decision == "match"]


def assert_ranges(match, duration=SECONDS):
    assert match.query_start == pytest.approx(0.0, abs=1.0)
    assert match.query_end == pytest.approx(duration, abs=1.0)
    assert match.ref_start == pytest.approx(START, abs=1.0)
    assert match.ref_end == pytest.approx(START + duration, abs=1.0)


@pytest.mark.parametrize("factor", [0.95, 1.04])
def test_pitch_shifted_soundtrack_over_black_is_matched_on_sound(matcher, tmp_path, factor):
    copy = black_picture(Clip(str(VIDEO / TITLE), START, SECONDS), tmp_path / "pitch.mp4",
                         audio_filter=pitch_shift(factor), noise_snr_db=NOISE_SNR_DB)
    [best] = decided(matcher.match(copy), TITLE)[:1]
    assert_ranges(best)
    assert best.modalities["audio"] is not None and best.modalities.get("visual") is None


def test_vertical_reframe_of_a_camcord_is_matched(matcher, tmp_path):
    """Keystone, shake, grain and gamma, then a centred 9:16 strip; the sound recorded in the room
    (band-limited, echoed, room noise)."""
    copy = camcord(Clip(str(VIDEO / TITLE), START, SECONDS), tmp_path / "vcam.mp4", filters=[vertical(0.5)])
    report = matcher.match(copy)
    [best] = decided(report, TITLE)[:1]
    assert best is report.matches[0]
    assert_ranges(best)


def test_a_silent_9_16_reframe_is_matched_on_the_titles_centre_squares(matcher, fingerprinter, tmp_path):
    """Without a soundtrack, a centred 9:16 strip of a film scores under the threshold against its
    squashed frames (0.54 on this catalogue), and is decided on the title's `REFRAME` track, which
    only a catalogue title has and only a portrait suspect is compared with."""
    title, start, seconds = "intel_car-detection.mp4", 2.0, 10.0
    copy = pirate(Clip(str(VIDEO / title), start, seconds), tmp_path / "v.mp4", filters=[vertical(0.5)], audio=False)
    query = fingerprinter.query_fingerprint(probe(copy))
    assert query.portrait is not None and query.portrait.track.valid.mean() > 0.9
    later = query.variants[0].phases  # the picture's phases, at the portrait samples alone
    assert len(query.portrait.phases) == len(later) == Config().query_phases - 1
    assert all(p.start == q.start and np.array_equal(p.valid, q.valid & query.portrait.track.valid)
               and np.array_equal(p.vectors, q.vectors) for p, q in zip(query.portrait.phases, later))
    reference = matcher.reader.window(title, 0, 1000)
    assert reference[REFRAME].valid.sum() == reference["visual"].valid.sum() > 0
    report = matcher.match(copy)
    [best] = decided(report, title)[:1]
    assert best is report.matches[0] and best.modalities["visual"] is not None
    assert best.query_start == pytest.approx(0.0, abs=1.0) and best.query_end == pytest.approx(seconds, abs=1.0)
    assert best.ref_start == pytest.approx(start, abs=1.0) and best.ref_end == pytest.approx(start + seconds, abs=1.0)


@pytest.mark.parametrize("edit", ["pitch", "vertical camcord", "silent vertical"])
def test_the_same_edits_of_outside_footage_are_no_match(matcher, tmp_path, edit):
    clip = Clip(str(VIDEO / OUTSIDE_VOICED), 0.0, 10.0)
    if edit == "pitch":
        suspect = black_picture(clip, tmp_path / "n.mp4", audio_filter=pitch_shift(1.05), noise_snr_db=NOISE_SNR_DB)
    elif edit == "vertical camcord":
        suspect = camcord(clip, tmp_path / "n.mp4", filters=[vertical(0.5)])
    else:
        suspect = pirate(clip, tmp_path / "n.mp4", filters=[vertical(0.5)], audio=False)
    report = matcher.match(suspect)
    assert not report.found and [m for m in report.matches if m.decision == "match"] == []


def test_a_silent_9_16_reframe_is_closer_to_its_source_at_its_own_aspect(fingerprinter, tmp_path):
    """Without a soundtrack a phone reframe rests on its picture: a third of the frame, which the
    square render draws three times as wide as the catalogue's squashed frame holds it. Blended
    with its render at its own aspect (`Config.query_portrait_aspect`), the copy's samples lie
    closer to the source's frames (median similarity)."""
    start, seconds = 4.0, 12.0
    source = VIDEO / "moviepy_big_buck_bunny_0_30.webm"
    copy = pirate(Clip(str(source), start, seconds), tmp_path / "v.mp4", filters=[vertical(0.3)], audio=False)
    reference = fingerprinter.visual_tracks(probe(source))["picture"]
    first = round(start / reference.step)

    def along_the_copy(portrait_aspect):
        track = fingerprinter.visual_tracks(probe(copy), portrait_aspect=portrait_aspect)["picture"]
        n = min(len(track), len(reference) - first)
        return np.median(np.einsum("ij,ij->i", track.vectors[:n], reference.vectors[first:first + n]))

    square, blended = along_the_copy(0.0), along_the_copy(0.8)
    assert blended > square + 0.03, (square, blended)
