"""Mixed precision on the CPU: bf16 autocast trains, ``amp: auto`` picks bf16 only with AMX, fp16 is refused."""

from __future__ import annotations

import math

import pytest
import torch

from reflect.config import load_config
from reflect.train import Trainer, train
from tests.conftest import smoke_overrides

SMOKE = "configs/smoke.yaml"


def test_bf16_autocast_and_grad_clip_on_cpu(repo, tmp_path):
    cfg = load_config(
        repo / SMOKE, smoke_overrides(tmp_path, steps=2, **{"train.amp": "bf16", "train.grad_clip": 1.0})
    )
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
