"""Every named generator-phase loss of every registered variant reaches the generator.

A loss computed on tensors rebuilt without their graph (DUNIT's original instance-consistency loss
wraps post-NMS boxes in a new tensor) trains nothing; this catches it for every variant. Losses of
the discriminator phase are excluded by phase: they legitimately train the discriminators only.
The application losses are included where a tiny batch can carry them: ``supervised`` (toy A
images have a clean target); ``face_id`` needs a real face and has its own test in tests/faces/.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from tests.contract.test_variant_contract import VARIANTS, build
from tests.specs import first_batch, tiny_config


def generator_params(model: torch.nn.Module) -> list[torch.nn.Parameter]:
    groups = model.param_groups()  # type: ignore[operator]
    return [p for g, ps in groups.items() if g not in model.discriminator_groups for p in ps]


@pytest.mark.parametrize("name", VARIANTS)
def test_every_generator_loss_has_a_gradient_path_to_the_generator(name: str, tmp_path: Path) -> None:
    cfg = tiny_config(name, tmp_path, ["model.lambda_sup=1.0"])
    model = build(cfg).train()
    batch = first_batch(cfg)
    if "faces_box" in batch:
        assert int(batch["faces_n"].sum()) > 0, "the toy batch should carry its face box"
    if "A_target" not in batch:  # multi-domain data has no paired target: give every image one
        source = model.clean_source(batch)
        batch["A_target"], batch["has_target"] = source.flip(-1), torch.ones(len(source), dtype=torch.bool)
    if (
        "A" in batch and "reflection_free" not in batch
    ):  # toy data has no reflection-free sample: call the first one that
        batch["reflection_free"] = torch.arange(len(batch["A"])) == 0  # (the remover's no_reflection loss)
    params = generator_params(model)
    torch.manual_seed(0)
    with torch.no_grad():  # zero-initialised layers (an identity start) sit where some losses have a
        for p in params:  # kink with a zero sub-gradient (|x - (T + R)| at R = 0): move them off it
            if not p.any():
                p.normal_(0.0, 0.02)
    g_losses = model.phase_losses("generator", batch)
    assert params and "supervised" in g_losses
    dead = []
    for key, loss in g_losses.items():
        grads = torch.autograd.grad(loss, params, retain_graph=True, allow_unused=True)
        total = sum(float(g.abs().sum()) for g in grads if g is not None)
        if not total > 0:
            dead.append(key)
    assert not dead, f"{name}: generator losses {dead} give the generator no gradient"
