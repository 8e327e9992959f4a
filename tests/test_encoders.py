import json
import subprocess

import numpy as np
import pytest
import torch

from conftest import VIDEO
from fp.data import iter_frames, probe
from fp.errors import FPError
from fp.fingerprint.encoders import GPU_BATCH_QUANTUM, EfficientNetLiteEncoder, load_visual_encoder
from fp.fingerprint.insets import Inset, crop_windows
from fp.fingerprint.frames import CARD_LEVEL, DARK_LEVEL, PLAIN_LEVEL, blank_mask, border_box, border_boxes, centre_square, content_aspects, fill_frames, grey_levels, lit_lines, shrink, tile_at_aspect, trim_borders


def frames_of(name, fps=1.0, size=224):
    return np.concatenate(list(iter_frames(probe(VIDEO / name), fps, size)))


def test_efficientnet_copies_are_closer_than_unrelated_footage():
    enc = load_visual_encoder("efficientnet_lite0")
    assert isinstance(enc, EfficientNetLiteEncoder)
    a = enc.encode(frames_of("moviepy_big_buck_bunny_0_30.webm"))
    b = enc.encode(frames_of("bower_bbb_480p_30s.mp4"))
    c = enc.encode(frames_of("zwm_sintel.mp4"))
    assert a.shape[1] == 1280 and np.allclose(np.linalg.norm(a, axis=1), 1, atol=1e-4)
    n = min(len(a), len(b))
    copies = np.einsum("ij,ij->i", a[:n], b[:n])
    assert np.median(copies) > 0.7
    assert (a @ c.T).max() < np.median(copies) - 0.2


def tiny_clip(tmp_path):
    import open_clip

    cfg = {"embed_dim": 16,
           "vision_cfg": {"image_size": 32, "layers": 1, "width": 32, "patch_size": 8, "head_width": 16},
           "text_cfg": {"context_length": 16, "vocab_size": 49408, "width": 32, "heads": 2, "layers": 1}}
    cfg_path = tmp_path / "fp-tiny-clip.json"
    cfg_path.write_text(json.dumps(cfg))
    open_clip.add_model_config(cfg_path)
    torch.manual_seed(0)
    model = open_clip.create_model("fp-tiny-clip", pretrained=None)
    from safetensors.torch import save_file

    ckpt = tmp_path / "tiny.safetensors"
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(ckpt))
    return cfg_path, ckpt, model


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA GPU")
def test_batches_padded_on_the_gpu_give_each_frame_its_own_vector():
    enc = load_visual_encoder("efficientnet_lite0", "cuda")
    sizes, embed = [], enc._embed
    enc._embed = lambda x: sizes.append(len(x)) or embed(x)  # the batch sizes the network sees
    frames = frames_of("dvrscan_traffic_camera.mp4", fps=2.0)[:GPU_BATCH_QUANTUM + 5]
    together = enc.encode(frames)
    alone = np.concatenate([enc.encode(frames[i:i + 1]) for i in range(len(frames))])
    assert set(sizes) == {GPU_BATCH_QUANTUM, 2 * GPU_BATCH_QUANTUM}
    assert together.shape == (len(frames), 1280)
    assert np.einsum("ij,ij->i", together, alone).min() > 0.999  # float16


def test_open_clip_encoder_loads_a_local_config_and_checkpoint(tmp_path):
    cfg_path, ckpt, model = tiny_clip(tmp_path)
    enc = load_visual_encoder(f"clip:{cfg_path}:{ckpt}")
    assert enc.dim == 16 and enc.input_size == 32
    frames = frames_of("zwm_caminandes.mp4", size=64)[:4]
    got = enc.encode(frames)
    assert got.shape == (4, 16) and np.allclose(np.linalg.norm(got, axis=1), 1, atol=1e-4)
    # the checkpoint's weights are the ones used: same as running the saved model directly
    x = torch.from_numpy(frames).permute(0, 3, 1, 2).float() / 255
    x = torch.nn.functional.interpolate(x, size=(32, 32), mode="bilinear", antialias=True)
    x = (x - enc.mean.cpu()) / enc.std.cpu()
    with torch.no_grad():
        want = torch.nn.functional.normalize(model.eval().encode_image(x), dim=1).numpy()
    assert np.allclose(got, want, atol=1e-4)


@pytest.mark.parametrize("spec, message", [
    ("clip:", "bad CLIP encoder name"),
    ("clip:/nonexistent/model.json:x.pt", "config .* not found"),
    ("clip:ViT-B-32:/nonexistent/weights.pt", "checkpoint .* not found"),
    ("resnet9000", "unknown visual encoder"),
])
def test_bad_encoder_names_are_clear_errors(spec, message):
    with pytest.raises(FPError, match=message):
        load_visual_encoder(spec)


def test_letterbox_bars_are_trimmed_and_blank_frames_flagged():
    frame = np.random.default_rng(0).integers(40, 255, (100, 80, 3), dtype=np.uint8)
    boxed = np.zeros((140, 80, 3), np.uint8)
    boxed[20:120] = frame
    boxed[125:130, 10:25] = 255  # a subtitle in the bar
    assert trim_borders(boxed).shape == (100, 80, 3)
    batch = np.stack([np.zeros((32, 32, 3), np.uint8), np.full((32, 32, 3), 200, np.uint8),
                      np.random.default_rng(1).integers(0, 255, (32, 32, 3), dtype=np.uint8)])
    assert blank_mask(batch, 6.0, 0.85).tolist() == [True, True, False]
    card = np.zeros((32, 32, 3), np.uint8)
    card[14:18, 4:28] = 255  # white text on black
    assert blank_mask(card[None], 6.0, 0.85).tolist() == [True]
    assert fill_frames(batch).shape == batch.shape


def test_a_window_s_bar_on_one_side_is_trimmed_a_dark_edge_is_not():
    """A picture-in-picture window may hold a letterbox bar on one side only (the finder stopped
    at the bar's outer edge there and at its inner edge on the other): inside a window that bar
    goes, in a whole frame the bars' pairing keeps it. A dark scene's edge stays either way."""
    rng = np.random.default_rng(0)
    window = rng.integers(40, 255, (120, 160, 3), dtype=np.uint8)
    window[100:] = rng.integers(0, 6, (20, 160, 3), dtype=np.uint8)  # the bottom bar alone
    assert border_box(window, one_sided=True) == (0, 100, 0, 160)
    assert border_box(window) == (0, 120, 0, 160)
    night = rng.integers(40, 255, (120, 160, 3), dtype=np.uint8)
    night[:30] = rng.integers(0, 20, (30, 160, 3), dtype=np.uint8)
    night[:30, ::8] = 200  # stars and windows: an eighth of the row lit
    assert border_box(night, one_sided=True) == (0, 120, 0, 160)
    assert crop_windows(np.stack([window, night]), [Inset((0, 0, 160, 120))] * 2, 64).shape == (2, 64, 64, 3)


def _card(size: int, top: int, bottom: int, left: int, right: int) -> np.ndarray:
    """A title card: lettering (three lit columns of every four) in [top, bottom) x [left,
    right) of a black square frame."""
    card = np.zeros((size, size, 3), np.uint8)
    cols = np.arange(left, right)
    card[top:bottom, cols[cols % 4 < 3]] = 230
    return card


@pytest.mark.parametrize("transposed", [False, True], ids=["pillarbox", "letterbox"])
def test_bars_do_not_turn_a_card_s_lettering_dark(transposed):
    """A row of lettering is lit across the whole card (84 of 224 pixels), but not across its
    pillarboxed copy, where the lettering is narrower (50 of 224): inside the copy's columns it
    is, so the card and its copy keep the same rows. Turned a quarter, letterboxing alike."""
    card, copy = _card(224, 82, 142, 56, 168), _card(224, 82, 142, 78, 145)
    copy[:, :45] = copy[:, -45:] = 0  # the pillarbox bars (black already)
    if transposed:
        card, copy = card.transpose(1, 0, 2), copy.transpose(1, 0, 2)
    lines = lit_lines(grey_levels(copy), axis=0 if transposed else 1)
    assert not lines.any()  # across the whole frame, every line of the copy is dark
    box, copied = border_box(card), border_box(copy)
    along = slice(2, 4) if transposed else slice(0, 2)
    assert box[along] == copied[along] == (82, 142)
    # judged across the whole frame alone (indexes built before Config.bars_judged_inside), the
    # copy keeps every line of that axis
    assert border_box(copy, bars_judged_inside=False)[along] == (0, 224)
    assert border_box(card, bars_judged_inside=False)[along] == (82, 142)


@pytest.mark.parametrize("shape", [(224, 224), (7, 10), (9, 5)])
def test_bar_lines_and_grey_levels_are_the_plain_numpy_answers(shape):
    """The counted bar test is np.percentile's, lines on the interpolation's edge included;
    the integer grey levels are the channel mean's."""
    rng = np.random.default_rng(len(shape) + shape[0])
    frames = rng.integers(DARK_LEVEL - 3, DARK_LEVEL + 3, (40, *shape, 3), dtype=np.uint8)
    frames[::3] = rng.integers(0, 256, (len(frames[::3]), *shape, 3), dtype=np.uint8)
    assert np.array_equal(grey_levels(frames), frames.mean(axis=-1))
    for grey in grey_levels(frames):
        for axis in (0, 1):
            assert np.array_equal(lit_lines(grey, axis), np.percentile(grey, 75, axis=axis) >= DARK_LEVEL)


@pytest.mark.parametrize("shape", [(224, 224), (7, 10), (9, 5)])
def test_blank_frames_are_the_plain_numpy_answers(shape):
    """blank_mask's histogram arithmetic gives the verdicts of np.std, np.median and the share of
    pixels near the median on the grey levels: odd and even pixel counts, backgrounds on either
    side of CARD_LEVEL and of the bright one, noise around std and PLAIN_LEVEL's edges."""
    rng = np.random.default_rng(shape[0] * shape[1])
    n = 60
    background = rng.choice([CARD_LEVEL - 1, CARD_LEVEL, CARD_LEVEL + 1, 255 - CARD_LEVEL, 250, 5], n)
    spread = rng.choice([0, 2, 6, PLAIN_LEVEL, 30], n)
    frames = np.clip(background[:, None, None, None] + rng.integers(-1, 2, (n, *shape, 3)) * spread[:, None, None, None],
                     0, 255).astype(np.uint8)
    text = rng.random((n, *shape)) < rng.uniform(0, 0.3, n)[:, None, None]
    frames[text] = 255 - frames[text]  # lettering or a logo
    grey = frames.mean(axis=-1).reshape(n, -1)
    median = np.median(grey, axis=1)
    for std, share in [(6.0, 0.85), (2.0, 0.5), (12.0, 0.95)]:
        card = (median < CARD_LEVEL) | (median > 255 - CARD_LEVEL)
        plain = (np.abs(grey - median[:, None]) < PLAIN_LEVEL).mean(axis=1) > share
        expected = (grey.std(axis=1) < std) | (card & plain)
        assert np.array_equal(blank_mask(frames, std, share), expected)
    assert blank_mask(frames[:0], 6.0, 0.85).shape == (0,)


@pytest.mark.parametrize("factor", [1, 2, 3, 16])
def test_shrunk_frames_are_the_block_means_rounded(factor):
    frames = np.random.default_rng(factor).integers(0, 256, (3, 16 * 3, 16 * 3, 3), dtype=np.uint8)
    frames[0] = 255  # the largest sums
    n, size = 3, 48 // factor
    means = frames.reshape(n, size, factor, size, factor, 3).mean(axis=(2, 4))
    assert np.abs(shrink(frames, factor) - means).max() <= 0.5


def test_a_clip_index_end_to_end_with_its_text_tower(tmp_path):
    """fp index / fp match wired to open_clip: picture and subtitles through the CLIP towers."""
    import dataclasses
    import shutil

    from conftest import DATA
    from fp.config import Config
    from fp.errors import ConfigMismatchError
    from fp.index import IndexStore, index_catalogue
    from fp.matcher import Matcher

    cfg_path, ckpt, _ = tiny_clip(tmp_path)
    config = dataclasses.replace(Config(), visual_encoder=f"clip:{cfg_path}:{ckpt}", text_encoder="auto")
    catalogue = tmp_path / "cat"
    catalogue.mkdir()
    shutil.copy(VIDEO / "psd_tv_documentary.mp4", catalogue / "doc.mp4")
    shutil.copy(DATA / "documentary.srt", catalogue / "doc.srt")
    shutil.copy(VIDEO / "zwm_caminandes.mp4", catalogue / "cam.mp4")
    summary = index_catalogue(catalogue, tmp_path / "idx", config)
    assert not summary.failed and len(summary.added) == 2
    with IndexStore.open(tmp_path / "idx") as store:
        assert store.config.visual_encoder == config.visual_encoder
        tracks = store.tracks("doc.mp4")
        assert tracks["visual"].dim == 16 and tracks["text"].dim == 16 and "audio" in tracks
    with Matcher(tmp_path / "idx") as matcher:
        report = matcher.match(catalogue / "doc.mp4")
        assert report.found and report.matches[0].title_id == "doc.mp4"
        assert report.matches[0].modalities["text"] == pytest.approx(1.0, abs=1e-3)
    with pytest.raises(ConfigMismatchError, match="visual_encoder"):
        Matcher(tmp_path / "idx", config=Config())


def counting_encoder(fingerprinter, monkeypatch):
    """Patch the picture encoder to record the size of every batch it is given: that list, and the
    unpatched `encode`."""
    encoded = []
    original = type(fingerprinter.visual).encode

    def counted(self, frames):
        encoded.append(len(frames))
        return original(self, frames)

    monkeypatch.setattr(type(fingerprinter.visual), "encode", counted)
    return encoded, original


def test_later_phases_showing_the_sample_s_picture_are_not_encoded_again(fingerprinter, tmp_path, monkeypatch):
    """A clip at 1 frame/s holds each picture a second: sampled in four phases an eighth of a
    second apart, most later frames show their sample's picture. Those take its
    vector unencoded (`SAME_PICTURE_DIFFERENCE`); every track equals what encoding them all gives."""
    from fp.fingerprint import extract

    held = tmp_path / "held.mp4"
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-i", str(VIDEO / "zwm_sintel.mp4"), "-t", "6",
                    "-vf", "fps=1", "-an", str(held)], check=True)
    info = probe(held)
    encoded, original = counting_encoder(fingerprinter, monkeypatch)
    reused = fingerprinter.visual_tracks(info, mirrored=True, phases=4)
    reused_count = sum(encoded)
    encoded.clear()
    monkeypatch.setattr(extract, "SAME_PICTURE_DIFFERENCE", 0.0)  # every later frame encoded
    full = fingerprinter.visual_tracks(info, mirrored=True, phases=4)
    assert sum(encoded) == 5 * 12 and reused_count <= 5 * 12 - 18  # 3 phases + picture + mirror, 12 samples
    assert reused.keys() == full.keys()
    for name, track in full.items():
        assert np.allclose(reused[name].vectors, track.vectors, atol=1e-4), name
        assert reused[name].start == track.start and np.array_equal(reused[name].valid, track.valid)


def test_frames_without_content_are_not_encoded(fingerprinter, tmp_path, monkeypatch):
    """Black frames (a fade, a gap between reels) carry no content: they are not sent to the
    encoder, their vectors are zeros that the track's mask leaves out, and the other samples'
    vectors are what encoding their frames gives."""
    clip = tmp_path / "gap.mp4"
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-f", "lavfi", "-i", "color=black:s=320x180:r=25:d=3",
                    "-i", str(VIDEO / "zwm_sintel.mp4"), "-filter_complex",
                    "[1:v]scale=320:180,setsar=1,fps=25,trim=duration=4,setpts=PTS-STARTPTS[v];"
                    "[0:v][v]concat=n=2:v=1:a=0[out]", "-map", "[out]", "-map_chapters", "-1", "-t", "7", str(clip)],
                   check=True, timeout=120)
    info = probe(clip)
    encoded, original = counting_encoder(fingerprinter, monkeypatch)
    tracks = fingerprinter.visual_tracks(info, mirrored=True, phases=2)
    picture = tracks["picture"]
    assert picture.valid[:5].sum() == 0 and picture.valid[7:].all()
    frames = fill_frames(np.concatenate(list(iter_frames(info, 2.0, 224))))
    assert sum(encoded) <= 2 * picture.valid.sum() + tracks["picture phase 1"].valid.sum()
    assert not tracks["picture mirrored"].vectors[~picture.valid].any()
    assert not picture.vectors[~picture.valid].any()
    direct = original(fingerprinter.visual, frames[picture.valid])
    assert np.allclose(picture.vectors[picture.valid], direct, atol=1e-4)


def test_a_portrait_picture_is_shown_at_its_own_aspect():
    """A 9:16 strip, squashed to the square as the decoder hands it over (bars of a pillarbox
    trimmed), is told portrait by its content's shape and drawn back at its own aspect: full
    copies side by side, cut to the square about the centre."""
    strip = np.asarray(frames_of("moviepy_big_buck_bunny_0_30.webm", size=224)[3][:, 49:175])  # 224 x 126
    square = torch.nn.functional.interpolate(torch.from_numpy(strip).permute(2, 0, 1)[None].float(), size=(224, 224),
                                             mode="bilinear", antialias=True)[0].permute(1, 2, 0).round().byte().numpy()
    boxed = np.zeros((224, 224, 3), np.uint8)  # the same strip pillarboxed in a 16:9 picture
    boxed[:, 76:147] = torch.nn.functional.interpolate(torch.from_numpy(strip).permute(2, 0, 1)[None].float(),
                                                       size=(224, 71), mode="bilinear", antialias=True)[0] \
        .permute(1, 2, 0).round().byte().numpy()
    aspects = content_aspects(border_boxes(square[None]), 9 / 16)
    assert aspects[0] == pytest.approx(9 / 16)
    assert content_aspects(border_boxes(boxed[None]), 16 / 9)[0] == pytest.approx(9 / 16, abs=0.01)
    assert content_aspects(border_boxes(square[None]), 16 / 9)[0] == pytest.approx(16 / 9)
    shown = tile_at_aspect(square[None], aspects)[0]
    # two copies of 126 columns cut to 224: the second copy's first 112 columns fill the right half
    assert np.abs(shown[:, 112:].astype(int) - strip[:, :112]).mean() < 4
    assert np.abs(shown[:, :112].astype(int) - strip[:, 14:]).mean() < 4


def test_a_landscape_picture_gives_its_centre_square_at_its_own_aspect():
    """A 16:9 frame squashed to the square holds its centre square in the middle 126 of 224
    columns; `centre_square` stretches those back to the square, and nothing beside them."""
    frame = np.zeros((224, 224, 3), np.uint8)
    frame[:, :49] = (255, 0, 0)  # left of the centre square
    frame[:, 175:] = (0, 0, 255)  # right of it
    frame[:, 49:175] = np.linspace(0, 255, 126).astype(np.uint8)[None, :, None]  # a ramp across it
    [square] = centre_square(frame[None], np.array([16 / 9]))
    assert square.shape == (224, 224, 3)
    grey = square.astype(int)
    assert np.abs(grey[..., 0] - grey[..., 1]).max() <= 2 and np.abs(grey[..., 2] - grey[..., 1]).max() <= 2
    ramp = square[100, :, 1].astype(int)
    assert ramp[2] < 8 and ramp[-3] > 247 and np.all(np.diff(ramp) >= 0)
