"""NICE-GAN (Chen et al., "Reusing Discriminators for Encoding: Towards Unsupervised Image-to-Image
Translation", CVPR 2020): no separate encoder; each discriminator's first layers encode.

Paper names -> code: the discriminator D_X (judges domain A) is ``enc_a`` + ``d_a``: ``enc_a`` is
its encoder E_X^E (first layers + CAM attention), ``d_a`` its classifier C_X (local and global
heads; the CAM logit from ``enc_a`` is a third output). G_{X->Y} (A -> B) is ``g_ab``, a decoder of
``enc_a``'s code; G_{Y->X} is ``g_ba``. A is "with reflections", B is "clean".

Decoupled training: the encoders belong to the ``discriminator`` param group and are updated by the
discriminator loss only; the generator optimiser never sees them (so they are not "shared" in the
contract's sense: a generator step leaves them unchanged). The deployable translator is
``enc_a`` + ``g_ab``, so both are ``generator_modules`` (EMA keeps a copy of both).

Defaults follow the paper and the reference code: LSGAN on local, global and CAM outputs; weights
adversarial 1, cycle 10, reconstruction 10 (``g_ba(enc_a(A)) ~ A``); Adam(1e-4, betas 0.5/0.999,
weight decay 1e-4); 6 AdaLIN blocks; 7-layer spectrally normalised discriminators; no image pool.
``light`` defaults to True (the reference's "light" model: 8.1 M generator parameters): the full
model's style MLP flattens the whole feature map (268 M weights at 256 px) and then only translates
images of exactly ``img_size``, while this app's window crops vary in size.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import torch

from reflect import losses
from reflect.losses.adversarial import GanMode
from reflect.nn import NiceEncoder, NiceGenerator, NiceHeads, crop_to, init_weights, pad_to_multiple
from reflect.registry import register
from reflect.variants.base import Variant, VariantConfig, params_of


@dataclass
class NiceGANConfig(VariantConfig):
    lr: float = 1e-4
    weight_decay: float = 1e-4
    init: str = "none"  # the reference keeps PyTorch's default initialisation
    ngf: int = 64
    ndf: int = 64  # the encoder emits 2*ndf channels; the generator accepts any
    n_blocks: int = 6  # AdaLIN residual blocks
    n_layers_d: int = 7  # 7: local head 70x70, global head 286x286 receptive fields (>= 6)
    light: bool = True
    img_size: int = 256  # only used by light=false
    gan_mode: GanMode = "lsgan"
    lambda_adv: float = 1.0
    lambda_cyc: float = 10.0
    lambda_rec: float = 10.0


@register("nicegan")
class NiceGAN(Variant):
    Config = NiceGANConfig
    generator_modules = ("enc_a", "enc_b", "g_ab", "g_ba")
    reconstruction_losses: ClassVar[tuple[str, ...]] = ("cycle_a", "cycle_b", "recon_a", "recon_b")

    def __init__(self, cfg: NiceGANConfig) -> None:
        super().__init__(cfg)
        self.cfg: NiceGANConfig = cfg
        self.enc_a = NiceEncoder(cfg.in_channels, ndf=cfg.ndf)  # E_X: first layers of D_X
        self.enc_b = NiceEncoder(cfg.out_channels, ndf=cfg.ndf)  # E_Y
        self.d_a = NiceHeads(ndf=cfg.ndf, n_layers=cfg.n_layers_d)  # C_X
        self.d_b = NiceHeads(ndf=cfg.ndf, n_layers=cfg.n_layers_d)  # C_Y
        self.g_ab = self._generator(self.enc_a.out_channels, cfg.out_channels, cfg)  # G_{X->Y}
        self.g_ba = self._generator(self.enc_b.out_channels, cfg.in_channels, cfg)  # G_{Y->X}
        for m in (self.enc_a, self.enc_b, self.d_a, self.d_b, self.g_ab, self.g_ba):
            init_weights(m, cfg.init, cfg.init_gain)

    @staticmethod
    def _generator(in_ch: int, out_ch: int, cfg: NiceGANConfig) -> NiceGenerator:
        return NiceGenerator(
            in_ch, out_ch, ngf=cfg.ngf, n_blocks=cfg.n_blocks, light=cfg.light, img_size=cfg.img_size
        )

    @classmethod
    def default_loss_weights(cls, cfg: NiceGANConfig) -> dict[str, float]:
        return {
            "d_a": cfg.lambda_adv,
            "d_b": cfg.lambda_adv,
            "adv_ab": cfg.lambda_adv,
            "adv_ba": cfg.lambda_adv,
            "cycle_a": cfg.lambda_cyc,
            "cycle_b": cfg.lambda_cyc,
            "recon_a": cfg.lambda_rec,
            "recon_b": cfg.lambda_rec,
        }

    def param_groups(self) -> dict[str, list[torch.nn.Parameter]]:
        return {
            "generator": params_of(self.g_ab, self.g_ba),
            "discriminator": params_of(self.enc_a, self.enc_b, self.d_a, self.d_b),
        }

    # ---- helpers --------------------------------------------------------------------------
    @staticmethod
    def _judge(heads: NiceHeads, z: torch.Tensor, cam_logit: torch.Tensor) -> list[torch.Tensor]:
        """[local, global, cam] logits of one discriminator for an encoded batch."""
        return [*heads(z), cam_logit]

    def _d_loss(self, real: list[torch.Tensor], fake: list[torch.Tensor]) -> torch.Tensor:
        # The reference sums the three LSGAN terms (local, global, CAM) rather than averaging.
        mode = self.cfg.gan_mode
        return torch.stack([losses.d_loss(mode, r, f) for r, f in zip(real, fake, strict=True)]).sum()

    def _g_loss(self, fake: list[torch.Tensor]) -> torch.Tensor:
        return torch.stack([losses.g_loss(self.cfg.gan_mode, f) for f in fake]).sum()

    # ---- contract -------------------------------------------------------------------------
    def generate(self, batch: dict[str, Any]) -> dict[str, torch.Tensor]:
        """The generator update's forward, each generator once per input. The trainer runs it with
        the encoders frozen (they belong to the discriminators), so their codes carry no weight grad."""
        real_a, real_b = batch["A"], batch["B"]
        z_a, _ = self.enc_a(real_a)
        z_b, _ = self.enc_b(real_b)
        fake_b = self.g_ab(z_a)  # G_{X->Y}(E_X(A))
        fake_a = self.g_ba(z_b)
        z_fake_a, cam_fake_a = self.enc_a(fake_a)  # D_X encodes (and judges) the fake A
        z_fake_b, cam_fake_b = self.enc_b(fake_b)
        return {
            "fake_b": fake_b,
            "fake_a": fake_a,
            "z_fake_a": z_fake_a,
            "cam_fake_a": cam_fake_a,
            "z_fake_b": z_fake_b,
            "cam_fake_b": cam_fake_b,
            "cyc_a": self.g_ba(z_fake_b),  # A -> B -> A through E_Y's code
            "cyc_b": self.g_ab(z_fake_a),
            "rec_a": self.g_ba(z_a),  # G_{Y->X}(E_X(A)) = A
            "rec_b": self.g_ab(z_b),
        }

    def discriminator_losses(
        self, batch: dict[str, Any], outputs: dict[str, torch.Tensor]
    ) -> dict[str, torch.Tensor]:
        real_a, real_b = batch["A"], batch["B"]
        z_a, cam_a = self.enc_a(real_a)  # the encoders learn from this loss
        z_b, cam_b = self.enc_b(real_b)
        fake_a, fake_b = outputs["fake_a"].detach(), outputs["fake_b"].detach()
        return {
            "d_a": self._d_loss(
                self._judge(self.d_a, z_a, cam_a), self._judge(self.d_a, *self.enc_a(fake_a))
            ),
            "d_b": self._d_loss(
                self._judge(self.d_b, z_b, cam_b), self._judge(self.d_b, *self.enc_b(fake_b))
            ),
        }

    def generator_losses(
        self, batch: dict[str, Any], outputs: dict[str, torch.Tensor]
    ) -> dict[str, torch.Tensor]:
        real_a, real_b = batch["A"], batch["B"]
        return {
            "adv_ab": self._g_loss(self._judge(self.d_b, outputs["z_fake_b"], outputs["cam_fake_b"])),
            "adv_ba": self._g_loss(self._judge(self.d_a, outputs["z_fake_a"], outputs["cam_fake_a"])),
            "cycle_a": losses.l1(outputs["cyc_a"], real_a),
            "cycle_b": losses.l1(outputs["cyc_b"], real_b),
            "recon_a": losses.l1(outputs["rec_a"], real_a),
            "recon_b": losses.l1(outputs["rec_b"], real_b),
        }

    def translate(self, x: torch.Tensor, target: str | None = None) -> torch.Tensor:
        """(B, C, H, W) in [-1, 1] -> same shape. ``target='A'`` runs B -> A; default A -> B."""
        if target not in (None, "B", "A"):
            raise ValueError(f"nicegan translates to 'A' or 'B', not {target!r}")
        enc, gen = (self.enc_b, self.g_ba) if target == "A" else (self.enc_a, self.g_ab)
        h, w = x.shape[-2], x.shape[-1]
        z, _ = enc(pad_to_multiple(x, enc.stride))
        return crop_to(gen(z), h, w)
