"""The EMA generator: a view that swaps its weights in and back."""

from __future__ import annotations

import torch

from reflect.config import load_config
from reflect.train import train
from tests.conftest import smoke_overrides

SMOKE = "configs/smoke.yaml"


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
