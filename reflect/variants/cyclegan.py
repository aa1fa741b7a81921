"""CycleGAN (Zhu et al., ICCV 2017): two generators, two PatchGANs, cycle consistency.

Paper names -> code: G: A->B is ``g_ab``; F: B->A is ``g_ba``; D_Y (judges B) is ``d_b``;
D_X (judges A) is ``d_a``. A is "with reflections", B is "clean".

Defaults follow the paper and the reference code: ResNet-9 generator at 256 px (use
``n_blocks=6`` for 128 px), 70x70 PatchGAN, LSGAN, lambda_cyc = 10 per direction, identity
weight 0.5 * lambda_cyc, image pools of 50, Adam(2e-4, betas 0.5/0.999).

One iteration follows the reference's ``optimize_parameters``: :meth:`generate` runs G and F once
on each input (``fake_b``, ``fake_a``, the cycles and the identity mappings), the generator update
uses them, then the discriminators judge the detached fakes drawn through the image pools.
The application's supervised and face-identity terms (the contract's) judge ``fake_b`` = G(A).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import torch

from reflect import losses
from reflect.losses.adversarial import GanMode
from reflect.nn import ImagePool, PatchDiscriminator, ResnetGenerator, crop_to, init_weights, pad_to_multiple
from reflect.nn.blocks import Norm, Upsampler
from reflect.registry import register
from reflect.variants.base import Variant, VariantConfig, params_of


@dataclass
class CycleGANConfig(VariantConfig):
    ngf: int = 64
    ndf: int = 64
    n_blocks: int = 9  # 9 for 256 px, 6 for 128 px
    n_layers_d: int = 3  # 3 -> 70x70 PatchGAN
    norm: Norm = "instance"
    upsample: Upsampler = "transposed"  # transposed | nearest | bilinear | pixel_shuffle
    dropout: float = 0.0
    residual: bool = False  # G(x) = clamp(x + net(x)): starts near the identity (not in the paper)
    gan_mode: GanMode = "lsgan"
    pool_size: int = 50
    lambda_cyc: float = 10.0
    lambda_idt: float = 0.5  # identity weight = lambda_idt * lambda_cyc


@register("cyclegan")
class CycleGAN(Variant):
    Config = CycleGANConfig
    generator_modules = ("g_ab", "g_ba")
    #: the losses the contract suite expects a few training steps to lower
    reconstruction_losses: ClassVar[tuple[str, ...]] = ("cycle_a", "cycle_b")

    def __init__(self, cfg: CycleGANConfig) -> None:
        super().__init__(cfg)
        self.cfg: CycleGANConfig = cfg
        self.g_ab = self.make_generator(cfg)  # G
        self.g_ba = self.make_generator(cfg)  # F
        self.d_a = self.make_discriminator(cfg)  # D_X
        self.d_b = self.make_discriminator(cfg)  # D_Y
        for m in (self.g_ab, self.g_ba, self.d_a, self.d_b):
            init_weights(m, cfg.init, cfg.init_gain)
        self.pool_a = ImagePool(cfg.pool_size)  # past fake A images, for d_a
        self.pool_b = ImagePool(cfg.pool_size)

    # Specialisations (DiscoGAN) override these two.
    @staticmethod
    def make_generator(cfg: Any) -> torch.nn.Module:
        return ResnetGenerator(
            cfg.in_channels,
            cfg.out_channels,
            ngf=cfg.ngf,
            n_blocks=cfg.n_blocks,
            norm=cfg.norm,
            upsample=cfg.upsample,
            dropout=cfg.dropout,
            residual=cfg.residual,
        )

    @staticmethod
    def make_discriminator(cfg: Any) -> torch.nn.Module:
        return PatchDiscriminator(cfg.out_channels, ndf=cfg.ndf, n_layers=cfg.n_layers_d, norm=cfg.norm)

    # L1, as the paper; DiscoGAN uses the squared distance.
    cycle_distance = staticmethod(losses.l1)

    @classmethod
    def default_loss_weights(cls, cfg: CycleGANConfig) -> dict[str, float]:
        w = {
            "d_a": 1.0,
            "d_b": 1.0,
            "adv_ab": 1.0,
            "adv_ba": 1.0,
            "cycle_a": cfg.lambda_cyc,
            "cycle_b": cfg.lambda_cyc,
        }
        if cfg.lambda_idt > 0:
            w |= {"idt_a": cfg.lambda_idt * cfg.lambda_cyc, "idt_b": cfg.lambda_idt * cfg.lambda_cyc}
        return w

    def param_groups(self) -> dict[str, list[torch.nn.Parameter]]:
        return {"generator": params_of(self.g_ab, self.g_ba), "discriminator": params_of(self.d_a, self.d_b)}

    def generate(self, batch: dict[str, Any]) -> dict[str, torch.Tensor]:
        real_a, real_b = batch["A"], batch["B"]
        out = {"fake_b": self.g_ab(real_a), "fake_a": self.g_ba(real_b)}  # G(A), F(B)
        out["rec_a"] = self.g_ba(out["fake_b"])  # F(G(A))
        out["rec_b"] = self.g_ab(out["fake_a"])  # G(F(B))
        if self.cfg.lambda_idt > 0:
            out["idt_a"] = self.g_ba(real_a)  # F should leave A images alone
            out["idt_b"] = self.g_ab(real_b)
        return out

    def discriminator_losses(
        self, batch: dict[str, Any], outputs: dict[str, torch.Tensor]
    ) -> dict[str, torch.Tensor]:
        real_a, real_b = batch["A"], batch["B"]
        fake_b = self.pool_b.query(outputs["fake_b"].detach())  # G(A), from the history pool
        fake_a = self.pool_a.query(outputs["fake_a"].detach())  # F(B)
        mode = self.cfg.gan_mode
        return {
            "d_a": losses.d_loss(mode, self.d_a(real_a), self.d_a(fake_a)),
            "d_b": losses.d_loss(mode, self.d_b(real_b), self.d_b(fake_b)),
        }

    def generator_losses(
        self, batch: dict[str, Any], outputs: dict[str, torch.Tensor]
    ) -> dict[str, torch.Tensor]:
        real_a, real_b = batch["A"], batch["B"]
        mode = self.cfg.gan_mode
        out = {
            "adv_ab": losses.g_loss(mode, self.d_b(outputs["fake_b"])),
            "adv_ba": losses.g_loss(mode, self.d_a(outputs["fake_a"])),
            "cycle_a": self.cycle_distance(outputs["rec_a"], real_a),  # |F(G(A)) - A|
            "cycle_b": self.cycle_distance(outputs["rec_b"], real_b),  # |G(F(B)) - B|
        }
        if self.cfg.lambda_idt > 0:
            out["idt_a"] = losses.l1(outputs["idt_a"], real_a)
            out["idt_b"] = losses.l1(outputs["idt_b"], real_b)
        return out

    def translate(self, x: torch.Tensor, target: str | None = None) -> torch.Tensor:
        """(B, C, H, W) in [-1, 1] -> same shape. ``target='A'`` runs F (B->A); default G (A->B)."""
        if target not in (None, "B", "A"):
            raise ValueError(f"cyclegan translates to 'A' or 'B', not {target!r}")
        g = self.g_ba if target == "A" else self.g_ab
        h, w = x.shape[-2], x.shape[-1]
        stride = int(g.stride)  # type: ignore[arg-type]
        return crop_to(g(pad_to_multiple(x, stride)), h, w)
