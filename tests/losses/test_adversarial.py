"""The adversarial losses: every GAN mode prefers the right discriminator; the gradient penalty
measures the critic's slope."""

from __future__ import annotations

import pytest
import torch

from reflect import losses


@pytest.mark.parametrize("mode", losses.GAN_MODES)
def test_gan_losses_prefer_correct_discriminators(mode):
    good_real, good_fake = torch.full((2, 1, 4, 4), 2.0), torch.full((2, 1, 4, 4), -2.0)
    assert losses.d_loss(mode, good_real, good_fake) < losses.d_loss(mode, good_fake, good_real)
    assert losses.g_loss(mode, good_real) < losses.g_loss(mode, good_fake)
    # multi-scale lists average over scales
    assert torch.isclose(
        losses.d_loss(mode, [good_real, good_real], [good_fake, good_fake]),
        losses.d_loss(mode, good_real, good_fake),
    )


def test_gradient_penalty_is_zero_for_unit_slope_critic():
    real, fake = torch.randn(4, 3, 8, 8), torch.randn(4, 3, 8, 8)
    w = torch.randn(3 * 8 * 8)
    w = w / w.norm()
    gp = losses.gradient_penalty(lambda x: (x.flatten(1) * w).sum(1), real, fake)
    assert gp.item() == pytest.approx(0.0, abs=1e-6)
    gp2 = losses.gradient_penalty(lambda x: 3 * (x.flatten(1) * w).sum(1), real, fake)
    assert gp2.item() == pytest.approx(4.0, rel=1e-4)
