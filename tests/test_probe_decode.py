import subprocess

import numpy as np
import pytest

from conftest import AUDIO, VIDEO
from fp.data import decode, decode_audio, iter_audio, iter_frame_phases, iter_frames, probe
from fp.data.edits import Clip, splice
from fp.errors import MediaError
from fp.fingerprint.audio import AudioEncoder


def test_probe_reads_rotation_vfr_sar_and_streams():
    rotated = probe(VIDEO / "psd_goldeneye_rotated_audio.mp4")
    assert rotated.rotation == 90 and rotated.display_size == (544, 1280)
    assert rotated.has_audio and rotated.has_video
    vfr = probe(VIDEO / "psd_goldeneye_vfr_drop3.mp4")
    assert vfr.variable_frame_rate and not vfr.has_audio and vfr.rotation == 0
    anamorphic = probe(VIDEO / "psd_tv_documentary.mp4")
    assert anamorphic.sample_aspect_ratio == "16:11"
    # audio stream first, video second
    swapped = probe(VIDEO / "mdn_friday_hisgirlfriday.mp4")
    assert swapped.video_stream == 1 and swapped.audio_stream == 0
    webm = probe(VIDEO / "decord_flipping_a_pancake.mkv")
    assert webm.video_duration == pytest.approx(10.38, abs=0.1)


def test_probe_audio_file_with_cover_art_has_no_video():
    info = probe(AUDIO / "librosa_Kevin_MacLeod_-_Vibe_Ace.ogg")
    assert not info.has_video and info.has_audio


@pytest.mark.parametrize("make, message", [
    (lambda p: p.write_bytes(b""), "file is empty"),
    (lambda p: p.write_text("this is not a video\n" * 50), "not a readable media file"),
    (lambda p: None, "no such file"),
])
def test_probe_errors_are_one_clear_line(tmp_path, make, message):
    path = tmp_path / "bad name é.mp4"
    make(path)
    with pytest.raises(MediaError, match=message) as info:
        probe(path)
    assert "\n" not in str(info.value)


def test_frames_are_sampled_at_the_requested_rate():
    info = probe(VIDEO / "dvrscan_traffic_camera.mp4")
    frames = np.concatenate(list(iter_frames(info, 2.0, 64, batch=7)))
    assert frames.shape[1:] == (64, 64, 3) and frames.dtype == np.uint8
    assert abs(len(frames) - 2.0 * info.duration) <= 2


def test_decoder_options_reach_ffmpeg():
    """On a GPU the decoder takes all threads but still skips deblocking (GPU_FRAME_DECODER_OPTIONS):
    the same frames as on the CPU; ffmpeg's defaults (deblocking on) give other pixels."""
    info = probe(VIDEO / "zwm_caminandes.mp4")

    def frames(options=None):
        return np.concatenate(list(iter_frames(info, 2.0, 224, decoder_options=options))).astype(int)

    lean = frames()
    assert np.array_equal(frames(decode.GPU_FRAME_DECODER_OPTIONS), lean)
    assert np.abs(frames({}) - lean).mean() > 0.1


def test_rotation_is_honoured_unless_asked_not_to():
    info = probe(VIDEO / "psd_goldeneye_rotated_audio.mp4")
    shown = next(iter_frames(info, 1.0, 96)).astype(np.float32)
    raw = next(iter_frames(info, 1.0, 96, honour_rotation=False)).astype(np.float32)
    turned = np.rot90(raw, k=-1, axes=(1, 2))  # rotate the raw picture clockwise
    assert np.abs(shown - turned).mean() < np.abs(shown - raw).mean() / 2


def test_variable_frame_rate_is_resampled_to_a_steady_rate():
    info = probe(VIDEO / "psd_goldeneye_vfr_drop3.mp4")
    frames = np.concatenate(list(iter_frames(info, 2.0, 32)))
    assert abs(len(frames) - 2.0 * info.duration) <= 2


def test_decode_audio_to_mono_16k():
    info = probe(AUDIO / "whisper_jfk.flac")
    pcm = decode_audio(info)
    assert pcm.dtype == np.float32 and pcm.ndim == 1
    assert len(pcm) == pytest.approx(16000 * info.duration, rel=0.01)
    assert 0.01 < np.abs(pcm).max() <= 1.0
    with pytest.raises(MediaError, match="no audio stream"):
        decode_audio(probe(VIDEO / "psd_testvideo.mp4"))


def test_soundtrack_streams_in_chunks_into_the_same_windows():
    """`iter_audio`'s chunks join into `decode_audio`'s samples, and windows cut from chunks of any
    size as they come are exactly the one-second windows every half second of the whole
    soundtrack, zero-padded tail included: a long title's soundtrack is never held whole."""
    info = probe(AUDIO / "whisper_jfk.flac")
    pcm = decode_audio(info)
    chunks = list(iter_audio(info, chunk_seconds=0.7))
    assert len(chunks) > 10 and {len(c) for c in chunks[:-1]} == {11200}
    assert np.array_equal(np.concatenate(chunks), pcm)

    size, step = 16000, 8000
    count = -(-len(pcm) // step)
    padded = np.concatenate([pcm, np.zeros(count * step + size - len(pcm), np.float32)])
    expected = np.stack([padded[k * step:k * step + size] for k in range(count)])
    cuts = np.cumsum([3000, 17001, 1, 40000, 8000, 7999, 24000])
    pieces = np.split(pcm, cuts[cuts < len(pcm)])
    streamed = list(AudioEncoder().stream_windows(pieces, 0.5))
    assert len(streamed) > 3
    assert np.array_equal(np.concatenate(streamed), expected)


def test_sound_of_pieces_joined_by_stream_copy_stays_on_the_picture_timeline(tmp_path):
    """Pieces joined by stream copy carry their encoder priming along: as bare samples, 20 joined
    three-second pieces decode 0.8 s long and the last piece's sound comes late. Decoded on the
    file's timestamps, the length is the file's and the last piece sounds where it shows."""
    piece = splice([Clip(str(VIDEO / "psd_tv_documentary.mp4"), 2.0, 3.0)], tmp_path / "piece.mp4", audio=True)
    listing = tmp_path / "pieces.txt"
    listing.write_text(f"file '{piece}'\n" * 20)
    joined = tmp_path / "joined.mp4"
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-f", "concat", "-safe", "0", "-i", str(listing),
                    "-c", "copy", str(joined)], check=True)
    info, alone = probe(joined), decode_audio(probe(piece))
    pcm = decode_audio(info)
    assert abs(len(pcm) / 16000 - info.duration) < 0.05
    start = round((info.duration - probe(piece).duration) * 16000)  # the last piece, by its timestamps
    tail = pcm[start - 1600:start + 1600 + len(alone) // 2]
    lags = [np.dot(tail[k:k + len(alone) // 2], alone[:len(alone) // 2]) for k in range(0, 3201, 8)]
    assert abs(int(np.argmax(lags)) * 8 - 1600) <= 0.02 * 16000


def test_frame_phases_add_the_frames_a_fraction_of_a_sample_later(tmp_path):
    """A 24 frames/s clip whose grey level counts its frames: at 2 samples/s in four phases, phase
    0 is exactly iter_frames', and phase p is the frame 3 p frames (p eighths of a second) later."""
    path = tmp_path / "counter.mkv"
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-f", "lavfi", "-i",
                    "color=black:s=64x64:r=24:d=3,format=gray,geq=lum='N*3'", "-c:v", "ffv1", str(path)], check=True)
    info = probe(path)
    every = np.concatenate(list(iter_frames(info, 24.0, 32))).mean(axis=(1, 2, 3))
    assert len(every) == 72

    def index(frames):  # which frame of the clip each sampled frame is
        return np.array([int(np.argmin(np.abs(every - f.mean()))) for f in frames])

    phases = np.concatenate(list(iter_frame_phases(info, 2.0, 32, 4, batch=4)), axis=1)
    assert phases.shape == (4, 6, 32, 32, 3)
    assert np.array_equal(phases[0], np.concatenate(list(iter_frames(info, 2.0, 32))))
    for p in range(1, 4):  # past the end, the last frame (71) repeats
        assert index(phases[p]).tolist() == np.minimum(index(phases[0]) + 3 * p, 71).tolist()
    [half] = np.concatenate(list(iter_frame_phases(info, 2.0, 32, 2)), axis=1)[1:]
    assert np.array_equal(half, phases[2])  # two phases: the half step, as four give it
    single = tmp_path / "single.mp4"
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-i", str(path), "-frames:v", "1", str(single)], check=True)
    [(one, *later)] = list(iter_frame_phases(probe(single), 2.0, 32, 4))
    assert len(one) == 1 and all(len(f) == 1 for f in later)  # a single frame is its own later frames


def test_a_clip_from_a_file_that_seeks_badly_is_cut_from_its_first_frame(tmp_path):
    """imageio_cockatoo.mp4's keyframes past the first are no random-access points: seeking to
    8 s decodes green blocks, so the edits decode such a clip from the file's start."""
    from fp.data.edits import pirate, seeks_cleanly

    source = VIDEO / "imageio_cockatoo.mp4"
    assert seeks_cleanly(Clip(str(source), 1.0, 3.0)) and not seeks_cleanly(Clip(str(source), 8.0, 3.0))
    copy = pirate(Clip(str(source), 8.0, 3.0), tmp_path / "copy.mp4", height=360, crf=18)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["copy.mp4"]  # the lossless cut is gone
    got = next(iter_frames(probe(copy), 2.0, 64))[:4].astype(float)
    whole = np.concatenate(list(iter_frames(probe(source), 2.0, 64)))
    expected = whole[16:20].astype(float)  # 8.0-9.5 s of the file, decoded from its start
    assert np.abs(got - expected).mean() < 8
    assert got[..., 1].mean() - got[..., [0, 2]].mean() < 20  # not the green blocks of a bad seek
