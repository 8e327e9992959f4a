"""fp-visual-v1, the trained copy-detection head: its training loop learns, the shipped weights
load offline and reproduce their stored embedding, and indexes of the two picture encoders do
not mix."""

from __future__ import annotations

import dataclasses
import json
import random

import numpy as np
import pytest
import safetensors.torch
import torch

from fp.config import Config
from fp.errors import ConfigMismatchError
from fp.fingerprint import visual_augment
from fp.fingerprint.encoders import load_visual_encoder
from fp.fingerprint.visual_head import HeadConfig
from fp.fingerprint.trained import SHIPPED_VISUAL, trained_files
from fp.fingerprint.visual_train import (MEDIA, BaseFrames, TrainConfig, decode_frames, encode_views, koleo, prepare,
                                         train, video_frames)
from fp.matcher import Matcher

from conftest import VIDEO

REFERENCE_TOLERANCE = 1e-4


def test_every_edit_keeps_the_frame_size_and_changes_the_picture():
    frame = decode_frames(VIDEO / "askany_yoga.mp4", limit=1)[0]
    host = decode_frames(VIDEO / "mdn_flower.mp4", limit=1)[0]
    for name, edit in visual_augment.EDITS.items():
        out = edit(frame, random.Random(0), host)
        assert out.mode == "RGB", name
        if name != "vertical":  # a 9:16 strip of the 16:9 frame
            assert out.size == frame.size, name
        square = visual_augment.to_square(out, 64).astype(int)
        assert np.abs(square - visual_augment.to_square(frame, 64)).mean() > 1, name


def test_a_pip_window_is_the_pasted_frame_cut_back_out_of_the_coded_picture():
    frame = decode_frames(VIDEO / "askany_yoga.mp4", limit=1)[0]
    host = decode_frames(VIDEO / "mdn_flower.mp4", limit=1)[0]
    whole = visual_augment.pip(frame, random.Random(3), host)
    window = visual_augment.pip_window(frame, random.Random(3), host)
    share = window.width / frame.width
    assert 0.45 <= share <= 0.7 and abs(window.height / frame.height - share) < 0.01
    shrunk = np.asarray(frame.resize(window.size, visual_augment.Image.BICUBIC), float)
    assert np.abs(np.asarray(window, float) - shrunk).mean() < 10  # the frame, coded once (about 7)
    assert np.abs(np.asarray(whole.resize(window.size), float) - shrunk).mean() > 20  # not the whole picture


def test_the_training_loop_learns_on_a_few_real_frames():
    trunk = load_visual_encoder("efficientnet_lite0", "cpu")
    frames, neighbours, group = [], [], []
    for k, name in enumerate(["askany_yoga.mp4", "mdn_flower.mp4", "mdn_friday_hisgirlfriday.mp4"]):
        got, near = video_frames(VIDEO / name, limit=4)
        assert len(got) == len(near) == 4 and all(len(n) == 2 for n in near)
        frames, neighbours, group = frames + got, neighbours + near, group + [k] * len(got)
    bases = BaseFrames(frames, neighbours, np.array(group))
    embeddings, ok = encode_views(trunk, bases, random.Random(0), views=3, log=lambda _: None)
    assert ok.sum(1).min() >= 2
    head_cfg = HeadConfig(hidden=64, dim=32)
    _, losses = train(embeddings, ok, bases.group, TrainConfig(steps=40, batch=8, lr=3e-3), head_cfg,
                      log=lambda _: None)
    assert np.mean(losses[-8:]) < 0.8 * np.mean(losses[:8])


def test_koleo_ignores_the_frames_of_the_same_group():
    """Frames of one video are never pushed apart: only the nearest frame of another group counts."""
    z = torch.nn.functional.normalize(torch.tensor([[1.0, 0.0], [0.99, 0.14], [0.0, 1.0]]), dim=1)
    group = torch.tensor([0, 0, 1])
    apart = koleo(z, group[:, None] == group[None, :])
    together = koleo(z, torch.eye(3, dtype=torch.bool))
    assert apart < together
    nearest_other = (z @ z.T)[[0, 1, 2], [2, 2, 1]]  # 0 and 1 are one group
    assert apart.item() == pytest.approx(-torch.log(torch.sqrt(2 - 2 * nearest_other)).mean().item(), abs=1e-5)


def test_the_shipped_head_reproduces_its_stored_embedding_offline():
    weights, meta = trained_files(SHIPPED_VISUAL)
    assert weights.is_file() and meta.is_file()
    ref = json.loads(meta.read_text())["reference"]
    frames = decode_frames(MEDIA / ref["video"], fps=ref["frames_per_second"], limit=ref["frame"] + 1)
    prepared, _ = prepare([frames[ref["frame"]]])
    encoder = load_visual_encoder(SHIPPED_VISUAL, "cpu")
    got = encoder.encode(prepared)[0]
    assert got.shape == (len(ref["embedding"]),) and len(got) <= 256
    assert np.abs(got - np.array(ref["embedding"], np.float32)).max() < REFERENCE_TOLERANCE


def test_an_index_of_one_picture_encoder_refuses_queries_of_the_other(index_dir):
    built = Config().visual_encoder
    other = "efficientnet_lite0" if built == SHIPPED_VISUAL else SHIPPED_VISUAL
    with pytest.raises(ConfigMismatchError) as err:
        Matcher(index_dir, dataclasses.replace(Config(), visual_encoder=other))
    line = str(err.value)
    assert "\n" not in line and f"visual_encoder={other!r} (index: {built!r})" in line


@torch.inference_mode()
def test_the_head_runs_on_every_trunk_runtime_alike():
    from fp.fingerprint.runtime import load_visual

    frames = decode_frames(VIDEO / "askany_yoga.mp4", limit=4)
    prepared, _ = prepare(frames)
    torch_vectors = load_visual(SHIPPED_VISUAL, "torch").encode(prepared)
    for runtime in ("onnx", "onnx-int8"):
        encoder = load_visual(SHIPPED_VISUAL, runtime)
        assert encoder.runtime == runtime
        assert np.min(np.sum(encoder.encode(prepared) * torch_vectors, axis=1)) > 0.9


def test_the_accuracy_benchmark_measures_only_clips_the_head_never_trained_on():
    from bench.accuracy import CATALOGUE, NATURAL

    from fp.fingerprint.visual_train import HELD_OUT

    assert set(CATALOGUE) | {copy for copy, _ in NATURAL} <= set(HELD_OUT)
    trained = json.loads(trained_files(SHIPPED_VISUAL)[1].read_text())["data"]["videos"]
    assert not set(trained) & set(HELD_OUT)


def test_an_index_refuses_other_weights_under_the_same_encoder_name(tmp_path):
    """Retrained weights keep their encoder's name: the index records their digest and refuses
    to be extended or queried with others, in one line each."""
    from fp.index.store import IndexStore

    head = tmp_path / "head.safetensors"
    weights, meta = trained_files(SHIPPED_VISUAL)
    head.write_bytes(weights.read_bytes())
    head.with_suffix(".json").write_text(meta.read_text())
    cfg = dataclasses.replace(Config(), visual_encoder=str(head))
    with IndexStore.open_for_writing(tmp_path / "index", cfg):
        pass
    with IndexStore.open_for_writing(tmp_path / "index", cfg):  # the same weights: welcome
        pass
    Matcher(tmp_path / "index", cfg).reader.close()

    state = safetensors.torch.load_file(str(head))
    state["fc2.bias"] = state["fc2.bias"] + 0.01
    safetensors.torch.save_file(state, str(head))
    for attempt in (lambda: IndexStore.open_for_writing(tmp_path / "index", cfg),
                    lambda: Matcher(tmp_path / "index", cfg)):
        with pytest.raises(ConfigMismatchError) as err:
            attempt()
        line = str(err.value)
        assert "\n" not in line and f"other trained weights for {head}" in line and "re-index" in line
