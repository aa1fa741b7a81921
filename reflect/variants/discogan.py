"""DiscoGAN (Kim et al., "Learning to Discover Cross-Domain Relations with Generative Adversarial
Networks", ICML 2017): CycleGAN's two-generator, two-discriminator scheme with different parts.

A specialisation of :class:`~reflect.variants.cyclegan.CycleGAN` (same losses, param groups and
translate); what differs:

* generators are BN conv encoder-decoders (4 stride-2 convs down to 1/16, 4 transposed convs
  back), discriminators DCGAN-style BN convnets (:mod:`reflect.nn.encdec`);
* the reconstruction losses L_CONST_A = d(G_BA(G_AB(x_A)), x_A) (and B) use the squared distance,
  weighted equally with the GAN losses (the paper's L_G = L_GAN_B + L_CONST_A + L_GAN_A + L_CONST_B);
* the vanilla (cross-entropy) GAN loss, no identity loss, no image pool;
* Adam(2e-4, betas 0.5/0.999, weight decay 1e-5) as the reference code.

Paper names -> code: G_AB is ``g_ab``, G_BA is ``g_ba``, D_B is ``d_b``, D_A is ``d_a``; the
reconstruction losses are named ``cycle_a`` and ``cycle_b`` like CycleGAN's.
Omitted from the reference code: its feature-matching term and GAN-weight curriculum.
The discriminator's final 4x4 valid conv needs training crops of at least 64x64 (translation
works at any size).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from reflect import losses
from reflect.losses.adversarial import GanMode
from reflect.nn import DCGANDiscriminator, EncoderDecoderGenerator
from reflect.nn.blocks import Norm
from reflect.registry import register
from reflect.variants.cyclegan import CycleGAN, CycleGANConfig


@dataclass
class DiscoGANConfig(CycleGANConfig):
    """CycleGAN's fields (so its optional terms, e.g. the supervised L1, work here too) with
    DiscoGAN's defaults. ``n_blocks``, ``upsample`` and ``dropout`` do not apply to its networks."""

    weight_decay: float = 1e-5
    n_down: int = 4  # generator depth: stride-16 bottleneck
    n_layers_d: int = 4
    norm: Norm = "batch"
    gan_mode: GanMode = "vanilla"
    pool_size: int = 0
    lambda_cyc: float = 1.0  # reconstruction weight relative to the GAN loss
    lambda_idt: float = 0.0  # not in DiscoGAN


@register("discogan")
class DiscoGAN(CycleGAN):
    Config = DiscoGANConfig
    cycle_distance = staticmethod(losses.mse)

    @staticmethod
    def make_generator(cfg: Any) -> torch.nn.Module:
        return EncoderDecoderGenerator(
            cfg.in_channels, cfg.out_channels, ngf=cfg.ngf, n_down=cfg.n_down, norm=cfg.norm
        )

    @staticmethod
    def make_discriminator(cfg: Any) -> torch.nn.Module:
        return DCGANDiscriminator(cfg.out_channels, ndf=cfg.ndf, n_layers=cfg.n_layers_d, norm=cfg.norm)
