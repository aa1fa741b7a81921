"""DiscoGAN specifics: a CycleGAN specialisation with its own networks and squared-error reconstruction."""

from __future__ import annotations

import torch

from reflect import losses
from reflect.nn import DCGANDiscriminator, EncoderDecoderGenerator
from reflect.utils.flops import count_params
from reflect.variants.discogan import DiscoGAN, DiscoGANConfig


def test_has_the_papers_parts_and_weights() -> None:
    m = DiscoGAN(DiscoGANConfig(ngf=8, ndf=8))
    # DCGAN's discriminator: one logit per 64 px image (not CycleGAN's 70 px PatchGAN map)
    assert m.d_b(torch.zeros(2, 3, 64, 64)).shape == (2, 1, 1, 1)
    assert count_params(m.g_ab) == count_params(EncoderDecoderGenerator(ngf=8))  # no residual blocks
    w = DiscoGAN.default_loss_weights(m.cfg)
    assert w["cycle_a"] == w["adv_ab"] == 1.0 and "idt_a" not in w  # the paper's equal weights
    assert m.cfg.gan_mode == "vanilla" and m.cfg.pool_size == 0


def test_reconstruction_is_squared_error() -> None:
    torch.manual_seed(0)
    m = DiscoGAN(DiscoGANConfig(ngf=8, ndf=8)).eval()  # eval: batch norm uses running statistics
    batch = {"A": torch.rand(1, 3, 64, 64) * 2 - 1, "B": torch.rand(1, 3, 64, 64) * 2 - 1}
    with torch.no_grad():
        out = m.phase_losses("generator", batch)
        expected = losses.mse(m.g_ba(m.g_ab(batch["A"])), batch["A"])
    assert torch.allclose(out["cycle_a"], expected)


def test_network_shapes_and_size() -> None:
    g = EncoderDecoderGenerator(ngf=64)
    assert g.stride == 16 and count_params(g) == 5_513_856
    d = DCGANDiscriminator(ndf=8)
    assert d(torch.zeros(1, 3, 64, 64)).shape == (1, 1, 1, 1)  # one logit at the paper's 64 px
    assert d(torch.zeros(1, 3, 256, 256)).shape == (1, 1, 13, 13)
