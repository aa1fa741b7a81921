"""The training loop on the smoke config (a tiny CycleGAN): it learns, writes its run folder and
logs, survives non-finite losses, and can be called again."""

from __future__ import annotations

import math

import pytest
import torch

from reflect.checkpoint import list_checkpoints
from reflect.config import load_config
from reflect.errors import TrainingDiverged
from reflect.train import Trainer, train
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


def test_tensorboard_scalars_and_sample_grid_are_written(repo, tmp_path):
    from PIL import Image

    cfg = load_config(
        repo / SMOKE,
        smoke_overrides(tmp_path, steps=2, **{"train.tensorboard": True, "train.sample_every": 2}),
    )
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
