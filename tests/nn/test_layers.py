"""Building blocks of the generators and discriminators (reflect/nn): sizes, receptive field, padding, starts."""

from __future__ import annotations

import pytest
import torch

from reflect.nn import PatchDiscriminator, ResnetGenerator, Upsample, pad_to_multiple


def test_resnet9_generator_matches_reference_parameter_count():
    g = ResnetGenerator(ngf=64, n_blocks=9)
    assert sum(p.numel() for p in g.parameters()) == 11_378_179  # CycleGAN's ResNet-9 at any size


@pytest.mark.parametrize("mode", ["transposed", "nearest", "bilinear", "pixel_shuffle"])
def test_upsamplers_double_resolution(mode):
    up = Upsample(8, 4, mode=mode)
    assert up(torch.randn(1, 8, 5, 7)).shape == (1, 4, 10, 14)


def test_patchgan_receptive_field_is_70():
    d = PatchDiscriminator(ndf=8, norm="none")
    x = torch.randn(1, 3, 140, 140, requires_grad=True)
    out = d(x)
    out[0, 0, out.shape[2] // 2, out.shape[3] // 2].backward()
    rows = (x.grad.abs().sum((0, 1, 3)) > 0).nonzero()
    assert rows.max() - rows.min() + 1 == 70


def test_residual_generator_starts_near_identity_and_stays_in_range():
    torch.manual_seed(0)
    from reflect.nn import init_weights

    g = init_weights(ResnetGenerator(ngf=8, n_blocks=2, residual=True))
    x = torch.rand(2, 3, 32, 32) * 2 - 1
    y = g(x)
    assert (y - x).abs().mean() < 0.05  # the learned gain starts small
    assert y.min() >= -1 and y.max() <= 1
    plain = init_weights(ResnetGenerator(ngf=8, n_blocks=2))
    assert (plain(x) - x).abs().mean() > 0.3  # a plain generator starts far from the input


def test_pad_to_multiple_pads_bottom_right_only():
    x = torch.arange(2 * 3 * 5 * 6, dtype=torch.float32).view(2, 3, 5, 6)
    y = pad_to_multiple(x, 4)
    assert y.shape == (2, 3, 8, 8)
    assert torch.equal(y[..., :5, :6], x)
    assert pad_to_multiple(torch.zeros(1, 3, 8, 4), 4).shape == (1, 3, 8, 4)
    assert pad_to_multiple(torch.zeros(1, 3, 2, 3), 4).shape == (1, 3, 4, 4)  # tiny: replicate
