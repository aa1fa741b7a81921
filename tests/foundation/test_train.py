from __future__ import annotations

import json
import math

import pytest
import torch

from reflect.checkpoint import list_checkpoints, load_checkpoint
from reflect.config import load_config
from reflect.errors import TrainingDiverged
from reflect.train import Trainer, resume_config, train
from tests.conftest import smoke_overrides

SMOKE = "configs/smoke.yaml"


def test_twenty_steps_lower_the_cycle_loss(repo, tmp_path):
    cfg = load_config(repo / SMOKE, smoke_overrides(tmp_path, steps=20, **{"train.decay_steps": 0}))
    hist = train(cfg).history
    assert len(hist) == 20
    assert all(math.isfinite(v) for rec in hist for v in rec.values())
    cyc = [r["cycle_a"] + r["cycle_b"] for r in hist]
    assert sum(cyc[-3:]) / 3 < 0.8 * sum(cyc[:3]) / 3, cyc
    # run folder: config, checkpoints (keep last K), samples, metrics
    run = cfg.run_dir
    assert (run / "config.yaml").is_file()
    assert [p.name for p in list_checkpoints(run)] == ["step_000000010.pt", "step_000000020.pt"]
    assert (run / "samples" / "step_000000020.png").is_file()
    assert len((run / "metrics.jsonl").read_text().splitlines()) == 20


@pytest.mark.parametrize("workers", [0, 2])
def test_resume_equals_uninterrupted(repo, tmp_path, workers):
    common = {"train.decay_steps": 4, "data.num_workers": workers, "train.ema": 0.9, "train.checkpoint_every": 100}
    straight = train(load_config(repo / SMOKE, smoke_overrides(tmp_path, "straight", 6, **common)))

    first = Trainer(load_config(repo / SMOKE, smoke_overrides(tmp_path, "split", 6, **common)))
    first.fit(until=3)
    assert first.step == 3
    resumed = train(resume_config(tmp_path / "split"), resume=True)

    assert resumed.step == straight.step == 6
    assert resumed.lr == pytest.approx(straight.lr)
    for a, b in [(straight.model.state_dict(), resumed.model.state_dict()),
                 (straight.ema.state_dict()["g_ab"], resumed.ema.state_dict()["g_ab"])]:
        for k in a:
            torch.testing.assert_close(a[k], b[k], atol=1e-6, rtol=0, msg=k)
    # the metrics log holds each step once, with the time the step waited for its batch
    records = [json.loads(line) for line in (tmp_path / "split" / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records] == [1, 2, 3, 4, 5, 6]
    assert all(r["data_wait_s"] >= 0 for r in records)


def test_checkpoint_holds_everything_needed(repo, tmp_path):
    cfg = load_config(repo / SMOKE, smoke_overrides(tmp_path, steps=2))
    train(cfg)
    ckpt = load_checkpoint(cfg.run_dir)
    assert ckpt["variant"] == "cyclegan" and ckpt["step"] == 2
    assert set(ckpt["optimizers"]) == {"generator", "discriminator"}
    assert len(ckpt["training_state"]["pool_a"]["images"]) == 2
    assert ckpt["config"]["model"]["ngf"] == 8


def test_nan_losses_are_skipped_then_stop(repo, tmp_path, monkeypatch):
    cfg = load_config(repo / SMOKE, smoke_overrides(tmp_path, steps=20, **{"train.max_bad_steps": 3}))
    trainer = Trainer(cfg)
    real = trainer.model.generator_losses

    def poisoned(batch, outputs=None):
        out = real(batch, outputs)
        out["cycle_a"] = out["cycle_a"] * float("nan")
        return out

    monkeypatch.setattr(trainer.model, "generator_losses", poisoned)
    before = {k: v.clone() for k, v in trainer.model.g_ab.state_dict().items()}
    with pytest.raises(TrainingDiverged, match="3 consecutive steps"):
        trainer.fit()
    assert trainer.step == 2  # two skipped steps completed, the third raised
    for k, v in trainer.model.g_ab.state_dict().items():
        assert torch.equal(v, before[k]), "a skipped step must not change the generator"


def test_bf16_autocast_and_grad_clip_on_cpu(repo, tmp_path):
    cfg = load_config(repo / SMOKE, smoke_overrides(tmp_path, steps=2, **{"train.amp": "bf16", "train.grad_clip": 1.0}))
    hist = train(cfg).history
    assert all(math.isfinite(r["cycle_a"]) for r in hist)


@pytest.mark.parametrize("amx", [True, False])
def test_amp_auto_on_cpu_is_bf16_only_with_amx(monkeypatch, amx):
    from reflect.train import setup

    monkeypatch.setattr(setup, "cpu_has_amx", lambda: amx)
    assert setup.amp_dtype("auto", torch.device("cpu")) == (torch.bfloat16 if amx else None)
    assert setup.amp_dtype("none", torch.device("cpu")) is None


def test_fp16_on_cpu_is_refused(repo, tmp_path):
    from reflect.errors import ConfigError

    cfg = load_config(repo / SMOKE, smoke_overrides(tmp_path, **{"train.amp": "fp16", "train.device": "cpu"}))
    with pytest.raises(ConfigError, match="fp16 needs a CUDA"):
        Trainer(cfg)


def test_torchrun_world_size_one_gloo(repo, tmp_path):
    import subprocess
    import sys

    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=1", "--master_port=29533",
           "-m", "reflect", "train", str(repo / SMOKE), *smoke_overrides(tmp_path, "ddp", 2)]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=300, cwd=repo)
    assert res.returncode == 0, res.stderr[-2000:]
    assert load_checkpoint(tmp_path / "ddp")["step"] == 2


def test_supervised_term_uses_only_paired_samples(repo, tmp_path):
    from reflect.variants.cyclegan import CycleGAN, CycleGANConfig

    torch.manual_seed(0)
    m = CycleGAN(CycleGANConfig(ngf=8, ndf=8, n_blocks=1, lambda_sup=1.0))
    a, b = torch.rand(2, 3, 32, 32) * 2 - 1, torch.rand(2, 3, 32, 32) * 2 - 1
    batch = {"A": a, "B": b, "A_target": torch.zeros_like(a), "has_target": torch.tensor([False, False])}
    assert m.phase_losses("generator", batch)["supervised"].item() == 0.0
    batch["has_target"] = torch.tensor([True, False])
    sup = m.phase_losses("generator", batch)["supervised"]
    assert sup.item() == pytest.approx(m.translate(a[:1]).abs().mean().item(), rel=1e-5)


def test_tensorboard_scalars_and_sample_grid_are_written(repo, tmp_path):
    from PIL import Image

    cfg = load_config(repo / SMOKE, smoke_overrides(tmp_path, steps=2, **{"train.tensorboard": True, "train.sample_every": 2}))
    train(cfg)
    events = list((cfg.run_dir / "tb").glob("events.out.tfevents.*"))
    assert events and events[0].stat().st_size > 0
    grid = Image.open(cfg.run_dir / "samples" / "step_000000002.png")
    # one row per sample (batch 1), one column per image kind: real_A, fake_B, real_B, fake_A
    assert grid.size[0] > 3 * grid.size[1]


def test_fit_can_be_called_twice_and_keeps_tensorboard(repo, tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    cfg = load_config(repo / SMOKE, smoke_overrides(tmp_path, steps=4, **{"train.tensorboard": True}))
    with Trainer(cfg) as trainer:
        trainer.fit(until=2)
        assert trainer.step == 2
        trainer.fit()
    assert trainer.step == 4 and [r["step"] for r in trainer.history] == [1, 2, 3, 4]
    steps = []
    for events in sorted((cfg.run_dir / "tb").glob("events.out.tfevents.*")):
        acc = EventAccumulator(str(events))
        acc.Reload()
        steps += [e.step for e in acc.Scalars("loss/cycle_a")]
    assert sorted(steps) == [1, 2, 3, 4], "the second fit() must still write TensorBoard scalars"


def test_ema_view_swaps_generators_in_and_back(repo, tmp_path):
    cfg = load_config(repo / SMOKE, smoke_overrides(tmp_path, steps=2, **{"train.ema": 0.5}))
    trainer = train(cfg)
    live = trainer.model.g_ab
    x = torch.rand(1, 3, 32, 32) * 2 - 1
    with torch.no_grad():
        with trainer.ema.applied(trainer.model) as m:
            assert m.g_ab is trainer.ema.shadow["g_ab"]
            ema_out = m.translate(x)
        assert trainer.model.g_ab is live
        assert torch.equal(ema_out, trainer.ema.shadow["g_ab"](x))
        assert not torch.equal(ema_out, trainer.model.translate(x)), "EMA weights should differ after 2 steps"
