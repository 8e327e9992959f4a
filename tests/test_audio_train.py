"""Audio encoder training, on a tiny model: runs, learns, saves, loads, encodes."""

import numpy as np
import torch

from conftest import AUDIO, VIDEO
from fp.fingerprint.audio import AudioEncoder, AudioNetConfig, load_audio_model, save_audio_model
from fp.fingerprint.audio_train import TrainConfig, build_corpus, nt_xent, sample_batch, train


def test_tiny_training_run_saves_weights_that_load_and_encode(tmp_path):
    cfg = TrainConfig(steps=6, batch=8, max_seconds_per_file=20.0)
    clean, variants = build_corpus([AUDIO / "whisper_jfk.flac", VIDEO / "mdn_flower.mp4"], cfg)
    assert len(clean) == 2 and all(len(v) == 8 for v in variants)
    a, p = sample_batch(np.random.default_rng(0), clean, variants, cfg)
    assert a.shape == p.shape == (8, 16000) and np.abs(p).max() <= 1.0
    net_cfg = AudioNetConfig(width=4, dim=8)
    model = train(clean, variants, cfg, net_cfg, log=lambda msg: None)
    path = tmp_path / "tiny.safetensors"
    save_audio_model(model, net_cfg, path, {"note": "test"})
    loaded, loaded_cfg = load_audio_model(str(path))
    assert loaded_cfg == net_cfg
    enc = AudioEncoder(str(path))
    windows = enc.windows(clean[0][:40000], 0.5)
    assert windows.shape == (5, 16000)
    out = enc.encode(windows)
    with torch.no_grad():
        want = model(torch.from_numpy(np.ascontiguousarray(windows))).numpy()
    assert np.allclose(out, want, atol=1e-5) and np.allclose(np.linalg.norm(out, axis=1), 1, atol=1e-4)


def test_contrastive_loss_prefers_matching_pairs():
    a = torch.nn.functional.normalize(torch.randn(16, 8), dim=1)
    good = nt_xent(a, a, 0.1)
    bad = nt_xent(a, torch.roll(a, 1, dims=0), 0.1)
    assert good < bad
