"""Losses, returned unweighted; the trainer applies the config's weights."""

from reflect.losses.adversarial import GAN_MODES, d_loss, g_loss, gradient_penalty
from reflect.losses.classification import domain_confusion, domain_cross_entropy
from reflect.losses.identity import FaceIdentityLoss
from reflect.losses.kl import kl_standard_normal, kl_unit_variance
from reflect.losses.reconstruction import graph_zero, l1, masked_l1, mse

__all__ = [
    "GAN_MODES",
    "FaceIdentityLoss",
    "d_loss",
    "domain_confusion",
    "domain_cross_entropy",
    "g_loss",
    "graph_zero",
    "gradient_penalty",
    "kl_standard_normal",
    "kl_unit_variance",
    "l1",
    "masked_l1",
    "mse",
]
