"""Losses, returned unweighted; the trainer applies the config's weights."""

from reflect.losses.adversarial import GAN_MODES, d_loss, g_loss, gradient_penalty
from reflect.losses.reconstruction import l1, masked_l1

__all__ = ["GAN_MODES", "d_loss", "g_loss", "gradient_penalty", "l1", "masked_l1"]
