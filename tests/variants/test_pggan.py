"""PG-GAN specifics: the growth schedule, seamless fade-in, its layers, and resume in the middle of a fade."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from reflect.checkpoint import load_checkpoint
from reflect.config import build_config
from reflect.errors import CheckpointError, ConfigError
from reflect.nn.equalized import EqualConv2d, MinibatchStdDev, PixelNorm, downscale, fade_images, upscale
from reflect.train import Trainer, resume_config, train
from reflect.variants.pggan import PGGAN, PGGANConfig, schedule

# 8 -> 16 -> 32 px: level 0 for steps 0-1, level 1 fades in over steps 2-5 and stabilises over 6-7,
# level 2 fades in over steps 8-11, then stays.
TINY = {
    "resolution": 32,
    "start_resolution": 8,
    "fmap_base": 64,
    "fmap_max": 8,
    "stabilise_steps": 2,
    "fade_steps": 4,
}


def tiny_config(out_dir: Path, name: str, steps: int, **model: object):
    return build_config({
        "name": name, "seed": 0, "out_dir": str(out_dir),
        "model": {"variant": "pggan", **TINY, **model},
        "data": {"kind": "toy", "load_size": 32, "crop_size": 32, "batch_size": 3, "num_workers": 0, "max_images": 12},
        "train": {"steps": steps, "decay_steps": 0, "ema": 0.9, "log_every": 1, "sample_every": 7,
                  "checkpoint_every": 1000, "progress": False, "tensorboard": False, "device": "cpu"},
    })  # fmt: skip


def test_schedule_stabilises_then_fades_each_level() -> None:
    got = [schedule(s, 3, 2, 4) for s in range(14)]
    assert got[:2] == [(0, 1.0)] * 2
    assert got[2:6] == [(1, 0.0), (1, 0.25), (1, 0.5), (1, 0.75)]
    assert got[6:8] == [(1, 1.0)] * 2
    assert got[8:12] == [(2, 0.0), (2, 0.25), (2, 0.5), (2, 0.75)]
    assert got[12:] == [(2, 1.0)] * 2  # the top level stays
    assert schedule(0, 3, 0, 0) == (2, 1.0)  # no schedule: train the full network from the start


def test_fade_in_starts_exactly_where_the_previous_level_ended() -> None:
    torch.manual_seed(0)
    model = PGGAN(PGGANConfig(**TINY))
    x = torch.rand(2, 3, 32, 32) * 2 - 1
    with torch.no_grad():
        for level in (1, 2):
            # alpha 0: the new level contributes nothing; alpha 0.5 it does
            y_new = model.g_ab(x[..., : 8 * 2**level, : 8 * 2**level], level, 0.0)
            y_old = upscale(model.g_ab(downscale(x[..., : 8 * 2**level, : 8 * 2**level]), level - 1))
            assert torch.allclose(y_new, y_old, atol=1e-6)
            xs = x[..., : 8 * 2**level, : 8 * 2**level]
            assert torch.allclose(model.d_a(xs, level, 0.0), model.d_a(downscale(xs), level - 1), atol=1e-6)
            assert not torch.allclose(model.g_ab(xs, level, 0.5), y_old, atol=1e-3)
    # the real images fade the same way: at alpha 0 they hold only the coarser level's detail
    assert torch.equal(fade_images(x, 0.0), upscale(downscale(x)))
    assert torch.equal(fade_images(x, 1.0), x)


def test_equalised_conv_pixel_norm_and_minibatch_stddev() -> None:
    torch.manual_seed(0)
    conv = EqualConv2d(16, 32, 3)
    assert conv.weight.std().item() == pytest.approx(1.0, abs=0.05)  # N(0, 1), scaled at run time
    y = conv(torch.randn(4, 16, 8, 8))
    assert y.std().item() == pytest.approx(2**0.5, rel=0.15)  # He gain sqrt(2) keeps activations sized
    pn = PixelNorm()(torch.randn(2, 5, 4, 4) * 7)
    assert torch.allclose(pn.pow(2).mean(dim=1), torch.ones(2, 4, 4), atol=1e-4)
    mbstd = MinibatchStdDev(4)
    for n in (1, 3, 4, 6):  # the reference code fails on 6 (more than 4 but not a multiple of 4)
        out = mbstd(torch.randn(n, 5, 4, 4))
        assert out.shape == (n, 6, 4, 4)
    same = mbstd(torch.ones(4, 5, 4, 4))[:, -1]
    assert same.max().item() < 1e-3  # identical samples: no spread
    spread = mbstd(torch.randn(4, 5, 4, 4))[:, -1]
    assert spread.min().item() > 0.3


def test_training_needs_images_of_the_final_resolution() -> None:
    model = PGGAN(PGGANConfig(**TINY))
    batch = {"A": torch.zeros(1, 3, 64, 64), "B": torch.zeros(1, 3, 64, 64)}
    with pytest.raises(ConfigError, match="data.crop_size=32"):
        model.phase_losses("generator", batch)
    with pytest.raises(ConfigError, match="power of two"):
        PGGAN(PGGANConfig(resolution=96, start_resolution=16))


def test_resume_in_the_middle_of_a_fade_equals_an_uninterrupted_run(tmp_path: Path) -> None:
    straight = train(tiny_config(tmp_path, "straight", 14))
    assert straight.model.stage == (2, 1.0)  # grown to 32 px
    # the sample grid shows the stage being trained (16 px at step 7), at full size
    assert (tmp_path / "straight" / "samples" / "step_000000007.png").is_file()

    first = Trainer(tiny_config(tmp_path, "split", 14))
    first.fit(until=10)  # step 10 runs at level 2 (32 px), alpha 0.5
    saved = load_checkpoint(tmp_path / "split")["training_state"]["schedule"]
    assert saved == {"step": 10, "level": 2, "resolution": 32, "alpha": 0.5}

    resumed = Trainer(resume_config(tmp_path / "split"), resume=True)
    assert resumed.model.stage == (2, 0.5) and resumed.step == 10
    resumed.fit()
    assert resumed.step == straight.step == 14
    assert resumed.model.steps_done == straight.model.steps_done == 14
    pairs = [(straight.model.state_dict(), resumed.model.state_dict())]
    pairs += [(straight.ema.state_dict()[m], resumed.ema.state_dict()[m]) for m in ("g_ab", "g_ba")]  # type: ignore[union-attr]
    for a, b in pairs:
        for k in a:
            torch.testing.assert_close(a[k], b[k], atol=1e-6, rtol=0, msg=k)


def test_resume_with_another_schedule_is_refused(tmp_path: Path) -> None:
    Trainer(tiny_config(tmp_path, "run", 14)).fit(until=4)  # level 1 (16 px), alpha 0.5
    cfg = resume_config(tmp_path / "run", ["model.fade_steps=8"])  # step 4 would be alpha 0.25
    with pytest.raises(CheckpointError, match="16 px, alpha 0.5000"):
        Trainer(cfg, resume=True)


def test_lsgan_option_has_no_gradient_penalty_or_drift() -> None:
    torch.manual_seed(0)
    model = PGGAN(PGGANConfig(**TINY, gan_mode="lsgan"))
    batch = {"A": torch.rand(2, 3, 32, 32) * 2 - 1, "B": torch.rand(2, 3, 32, 32) * 2 - 1}
    d_losses = model.phase_losses("discriminator", batch)
    assert set(d_losses) == {"d_a", "d_b"} and set(d_losses) <= set(PGGAN.default_loss_weights(model.cfg))
    assert all(
        torch.isfinite(v) for v in [*d_losses.values(), *model.phase_losses("generator", batch).values()]
    )
    assert model.steps_done == 1  # one generator phase moved the schedule on by one step
    with pytest.raises(ConfigError, match="gan_mode"):
        PGGAN(PGGANConfig(**TINY, gan_mode="hinge"))  # type: ignore[arg-type]
