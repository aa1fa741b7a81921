"""Checkpoints and resume: a checkpoint holds the whole training state, and a resumed run ends
where an uninterrupted one does."""

from __future__ import annotations

import json

import pytest
import torch

from reflect.checkpoint import load_checkpoint
from reflect.config import load_config
from reflect.train import Trainer, resume_config, train
from tests.conftest import smoke_overrides

SMOKE = "configs/smoke.yaml"


@pytest.mark.parametrize("workers", [0, 2])
def test_resume_equals_uninterrupted(repo, tmp_path, workers):
    common = {
        "train.decay_steps": 4,
        "data.num_workers": workers,
        "train.ema": 0.9,
        "train.checkpoint_every": 100,
    }
    straight = train(load_config(repo / SMOKE, smoke_overrides(tmp_path, "straight", 6, **common)))

    first = Trainer(load_config(repo / SMOKE, smoke_overrides(tmp_path, "split", 6, **common)))
    first.fit(until=3)
    assert first.step == 3
    resumed = train(resume_config(tmp_path / "split"), resume=True)

    assert resumed.step == straight.step == 6
    assert resumed.lr == pytest.approx(straight.lr)
    for a, b in [
        (straight.model.state_dict(), resumed.model.state_dict()),
        (straight.ema.state_dict()["g_ab"], resumed.ema.state_dict()["g_ab"]),
    ]:
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
