"""DRIT++/MDMM specifics: heads at any size and batch size, reference-guided translation."""

from __future__ import annotations

import math

import pytest
import torch

from reflect.variants.drit import DRIT, DRITConfig


@pytest.fixture(scope="module")
def model() -> DRIT:
    torch.manual_seed(0)
    return DRIT(DRITConfig(ngf=8, ndf=8, n_res=1, n_res_dec=1, init="kaiming"))


@pytest.mark.parametrize("batch_size", [1, 3])
@pytest.mark.parametrize(("h", "w"), [(96, 96), (160, 128), (72, 104)])
def test_losses_at_any_size_and_batch_size(model: DRIT, h: int, w: int, batch_size: int) -> None:
    batch = {
        "image": torch.rand(batch_size, 3, h, w) * 2 - 1,
        "domain": torch.arange(batch_size) % 6,
        "domain_mask": torch.ones(batch_size, 6, dtype=torch.bool),
    }
    model.train()
    for name, loss in {
        **model.phase_losses("discriminator", batch),
        **model.phase_losses("generator", batch),
    }.items():
        v = loss.detach()
        assert v.dim() == 0 and math.isfinite(float(v)), f"{name} at {h}x{w}, batch {batch_size}: {float(v)}"


def test_reference_guided_translation_uses_the_references_attribute(model: DRIT) -> None:
    model.eval()
    g = torch.Generator().manual_seed(1)
    x = torch.rand(2, 3, 37, 45, generator=g) * 2 - 1
    ref_a, ref_b = (torch.rand(1, 3, 64, 80, generator=g) * 2 - 1 for _ in range(2))
    with torch.no_grad():
        a = model.translate_reference(x, ref_a)  # into 'clean', with ref_a's look
        b = model.translate_reference(x, ref_b)
        again = model.translate_reference(x, ref_a)
        default = model.translate(x)
    assert a.shape == x.shape and torch.equal(a, again)
    assert not torch.allclose(a, b) and not torch.allclose(a, default)
