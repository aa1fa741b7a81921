"""NICE-GAN specifics: reference sizes, decoupled training, the light/full generator, LIN/AdaLIN and CAM."""

from __future__ import annotations

import pytest
import torch
from torch.nn import functional as F

from reflect.nn import LIN, AdaLIN, CAMAttention, NiceEncoder, NiceGenerator, NiceHeads
from reflect.utils.flops import count_params
from reflect.variants.nicegan import NiceGAN, NiceGANConfig


def test_light_generator_matches_the_reference_size() -> None:
    # The reference light generator (ngf 64, 6 AdaLIN blocks) has 8,104,640 parameters.
    assert count_params(NiceGenerator(128, 3, ngf=64, n_blocks=6, light=True)) == 8_104_640


def test_heads_have_local_and_global_receptive_fields() -> None:
    enc, heads = NiceEncoder(3, ndf=8), NiceHeads(ndf=8, n_layers=7)
    z, cam = enc(torch.zeros(1, 3, 256, 256))
    local, global_ = heads(z)
    assert z.shape == (1, 16, 64, 64) and cam.shape == (1, 1)
    assert local.shape[-1] > global_.shape[-1] > 1  # many local patches, a few global ones
    with pytest.raises(ValueError, match="n_layers >= 6"):
        NiceHeads(ndf=8, n_layers=5)


def test_encoder_is_trained_by_the_discriminator_only() -> None:
    model = NiceGAN(NiceGANConfig(ngf=8, ndf=8, n_blocks=1, n_layers_d=6))
    groups = model.param_groups()
    enc_ids = {id(p) for p in [*model.enc_a.parameters(), *model.enc_b.parameters()]}
    assert enc_ids <= {id(p) for p in groups["discriminator"]}
    assert not enc_ids & {id(p) for p in groups["generator"]}
    assert model.shared_modules == ()  # decoupled: a generator step never updates the encoders
    assert {"enc_a", "g_ab"} <= set(model.generator_modules)  # the deployable translator


def test_full_generator_is_tied_to_its_image_size() -> None:
    model = NiceGAN(NiceGANConfig(ngf=8, ndf=8, n_blocks=1, n_layers_d=6, light=False, img_size=64)).eval()
    with torch.no_grad():
        assert model.translate(torch.zeros(1, 3, 64, 64)).shape == (1, 3, 64, 64)
        with pytest.raises(ValueError, match="light=true"):
            model.translate(torch.zeros(1, 3, 96, 64))


def test_lin_reduces_to_instance_norm_when_rho_says_so() -> None:
    x = torch.randn(2, 4, 8, 8) * 3 + 1
    lin = LIN(4)
    with torch.no_grad():
        lin.rho.copy_(torch.tensor([50.0, -50.0]).repeat(1, 4, 1))
    assert torch.allclose(lin(x), F.instance_norm(x), atol=1e-4)
    ada = AdaLIN(4)  # starts favouring instance norm; gamma/beta per sample and channel
    gamma, beta = torch.full((2, 4), 2.0), torch.full((2, 4), 0.5)
    out = ada(x, gamma, beta)
    assert out.shape == x.shape and torch.allclose(out.mean(dim=(1, 2, 3)), torch.full((2,), 0.5), atol=1e-4)


def test_cam_attention_starts_as_identity_plus_leaky_relu() -> None:
    cam = CAMAttention(6)
    x = torch.randn(2, 6, 5, 7)
    out, logit, heatmap = cam(x)
    assert logit.shape == (2, 1) and heatmap.shape == (2, 1, 5, 7)
    assert torch.allclose(out, F.leaky_relu(x, 0.2))  # lamda starts at 0
