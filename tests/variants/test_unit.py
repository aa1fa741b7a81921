"""UNIT specifics: reference size, weight sharing, VAE sampling and KL."""

from __future__ import annotations

import pytest
import torch

from reflect import losses
from reflect.nn import reparameterize
from reflect.utils.flops import count_params
from reflect.variants.unit import UNIT, UNITConfig


def tiny() -> UNIT:
    return UNIT(UNITConfig(dim=8, ndf=8, n_res=2, num_scales=2, n_layers_d=3))


def test_vae_generator_matches_the_reference_size() -> None:
    m = UNIT(UNITConfig(num_scales=1, ndf=8))  # discriminator size does not matter here
    per_domain = count_params(m.enc_a, m.enc_shared, m.dec_shared, m.dec_a)
    assert per_domain == 11_140_483  # UNIT's VAEGen (dim 64, 4 residual blocks): 11.1 M
    both = count_params(m.enc_a, m.enc_b, m.enc_shared, m.dec_shared, m.dec_a, m.dec_b)
    assert both == 2 * per_domain - count_params(m.enc_shared, m.dec_shared)


def test_shared_layers_learn_from_both_domains() -> None:
    m = tiny()
    batch = {"A": torch.rand(1, 3, 32, 32) * 2 - 1, "B": torch.rand(1, 3, 32, 32) * 2 - 1}
    for domain in ("a", "b"):
        m.zero_grad()
        m.phase_losses("generator", batch)[f"recon_{domain}"].backward()
        assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in m.enc_shared.parameters())
        assert all(p.grad is not None for p in m.dec_shared.parameters())
        other = m.enc_b if domain == "a" else m.enc_a
        assert all(p.grad is None for p in other.parameters())


def test_translate_uses_the_mean_and_is_deterministic_even_in_train_mode() -> None:
    m = tiny().train()
    x = torch.rand(1, 3, 33, 31) * 2 - 1
    with torch.no_grad():
        assert torch.equal(m.translate(x), m.translate(x))
    with pytest.raises(ValueError, match="'A' or 'B'"):
        m.translate(x, target="C")


def test_reparameterize_and_kl() -> None:
    torch.manual_seed(0)
    mu = torch.full((20000,), 2.0)
    z = reparameterize(mu)
    assert abs(z.mean().item() - 2.0) < 0.05 and abs(z.std().item() - 1.0) < 0.05
    z = reparameterize(mu, torch.full_like(mu, 2 * torch.log(torch.tensor(3.0)).item()))
    assert abs(z.std().item() - 3.0) < 0.1
    zero = torch.zeros(5)
    assert losses.kl_standard_normal(zero, zero).item() == 0.0
    assert losses.kl_standard_normal(torch.ones(5), zero).item() == pytest.approx(0.5)
    assert losses.kl_unit_variance(torch.full((5,), 3.0)).item() == pytest.approx(9.0)
