"""UNIT (Liu, Breuel & Kautz, "Unsupervised Image-to-Image Translation Networks", NeurIPS 2017):
two VAE-GANs whose encoders and decoders share one latent space.

Paper names -> code: E_1, E_2 are ``enc_a`` + ``enc_shared`` and ``enc_b`` + ``enc_shared``;
G_1, G_2 are ``dec_shared`` + ``dec_a`` and ``dec_shared`` + ``dec_b``; D_1, D_2 are ``d_a``,
``d_b``. Weight sharing (the shared-latent assumption): the last encoder layers
(``enc_shared``) and the first decoder layers (``dec_shared``) are one module used by both
domains. A is "with reflections", B is "clean". A -> B translation is G_2(E_1(x)) with z = mu
(no sampling), so it is deterministic.

Losses (per domain): VAE reconstruction ``recon_*``, KL of the posterior ``kl_*``, LSGAN
``adv_*``, cycle reconstruction ``cycle_*`` (x -> other domain -> back, sampling z both times)
and KL of the cycle's posterior ``kl_cyc_*``. Weights follow the paper's ratios as the reference
code sets them: GAN 1, reconstruction 10, KL 0.01, cycle 10, cycle KL 0.01 (the paper writes
10, 100, 0.1, 100, 0.1). Adam(1e-4, betas 0.5/0.999, weight decay 1e-4); Kaiming init for
encoders/decoders, N(0, 0.02) for the discriminators; 3-scale, 4-layer LSGAN discriminators.
The per-domain VAE generator (one encoder + one decoder, shared parts included) has
11.14 M parameters at ``dim=64, n_res=4`` (reference: 11.1 M).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import torch

from reflect import losses
from reflect.losses.adversarial import GanMode
from reflect.nn import (
    MultiScaleImageDiscriminator,
    SharedResBlocks,
    UnitDecoderBack,
    UnitEncoderFront,
    crop_to,
    init_weights,
    pad_to_multiple,
    reparameterize,
)
from reflect.registry import register
from reflect.variants.base import Variant, VariantConfig, params_of


@dataclass
class UNITConfig(VariantConfig):
    lr: float = 1e-4
    weight_decay: float = 1e-4
    init: str = "kaiming"  # encoders/decoders; discriminators always N(0, 0.02)
    dim: int = 64
    n_down: int = 2
    n_res: int = 4  # residual blocks per encoder (and per decoder), shared ones included
    n_shared: int = 1  # of those, how many are shared between domains (>= 1)
    ndf: int = 64
    n_layers_d: int = 4
    num_scales: int = 3
    gan_mode: GanMode = "lsgan"
    lambda_gan: float = 1.0
    lambda_recon: float = 10.0
    lambda_kl: float = 0.01
    lambda_cyc: float = 10.0
    lambda_kl_cyc: float = 0.01


@register("unit")
class UNIT(Variant):
    Config = UNITConfig
    generator_modules: ClassVar[tuple[str, ...]] = (
        "enc_a",
        "enc_b",
        "enc_shared",
        "dec_shared",
        "dec_a",
        "dec_b",
    )
    reconstruction_losses: ClassVar[tuple[str, ...]] = ("recon_a", "recon_b", "cycle_a", "cycle_b")

    def __init__(self, cfg: UNITConfig) -> None:
        super().__init__(cfg)
        self.cfg: UNITConfig = cfg
        if not 1 <= cfg.n_shared <= cfg.n_res:
            raise ValueError(f"unit: n_shared must be between 1 and n_res={cfg.n_res}, got {cfg.n_shared}")
        own = cfg.n_res - cfg.n_shared
        self.enc_a = UnitEncoderFront(cfg.in_channels, dim=cfg.dim, n_down=cfg.n_down, n_res=own)
        self.enc_b = UnitEncoderFront(cfg.out_channels, dim=cfg.dim, n_down=cfg.n_down, n_res=own)
        latent = self.enc_a.out_channels
        self.enc_shared = SharedResBlocks(latent, cfg.n_shared)  # high-level encoder layers
        self.dec_shared = SharedResBlocks(latent, cfg.n_shared)  # low-level decoder layers
        self.dec_a = UnitDecoderBack(cfg.in_channels, dim=latent, n_up=cfg.n_down, n_res=own)
        self.dec_b = UnitDecoderBack(cfg.out_channels, dim=latent, n_up=cfg.n_down, n_res=own)
        dis = {"num_scales": cfg.num_scales, "ndf": cfg.ndf, "n_layers": cfg.n_layers_d}
        self.d_a = MultiScaleImageDiscriminator(cfg.in_channels, **dis)
        self.d_b = MultiScaleImageDiscriminator(cfg.out_channels, **dis)
        for gen in (self.enc_a, self.enc_b, self.enc_shared, self.dec_shared, self.dec_a, self.dec_b):
            init_weights(gen, cfg.init, cfg.init_gain)
        for d in (self.d_a, self.d_b):
            init_weights(d, "normal", 0.02)

    @classmethod
    def default_loss_weights(cls, cfg: UNITConfig) -> dict[str, float]:
        w: dict[str, float] = {"d_a": cfg.lambda_gan, "d_b": cfg.lambda_gan}
        for d in ("a", "b"):
            w |= {
                f"adv_{d}": cfg.lambda_gan,
                f"recon_{d}": cfg.lambda_recon,
                f"kl_{d}": cfg.lambda_kl,
                f"cycle_{d}": cfg.lambda_cyc,
                f"kl_cyc_{d}": cfg.lambda_kl_cyc,
            }
        return w

    def param_groups(self) -> dict[str, list[torch.nn.Parameter]]:
        gen = (self.enc_a, self.enc_b, self.enc_shared, self.dec_shared, self.dec_a, self.dec_b)
        return {"generator": params_of(*gen), "discriminator": params_of(self.d_a, self.d_b)}

    # ---- the two VAEs ---------------------------------------------------------------------
    def encode(self, x: torch.Tensor, domain: str) -> torch.Tensor:
        """E_1 / E_2: the posterior mean mu (B, dim * 2**n_down, H/stride, W/stride)."""
        front = self.enc_a if domain == "A" else self.enc_b
        return self.enc_shared(front(x))

    def decode(self, z: torch.Tensor, domain: str) -> torch.Tensor:
        """G_1 / G_2: a latent code -> an image of ``domain`` in [-1, 1]."""
        back = self.dec_a if domain == "A" else self.dec_b
        return back(self.dec_shared(z))

    # ---- contract -------------------------------------------------------------------------
    def generate(self, batch: dict[str, Any]) -> dict[str, torch.Tensor]:
        """Both VAEs and both translations, each network once per input (the shared decoder
        layers run once per code and feed both domains' back ends)."""
        real_a, real_b = batch["A"], batch["B"]
        mu_a, mu_b = self.encode(real_a, "A"), self.encode(real_b, "B")
        h_a, h_b = self.dec_shared(reparameterize(mu_a)), self.dec_shared(reparameterize(mu_b))
        fake_a, fake_b = self.dec_a(h_b), self.dec_b(h_a)  # B -> A, A -> B
        mu_ab, mu_ba = self.encode(fake_b, "B"), self.encode(fake_a, "A")  # back into the latent space
        return {
            "mu_a": mu_a,
            "mu_b": mu_b,
            "fake_a": fake_a,
            "fake_b": fake_b,
            "mu_ab": mu_ab,
            "mu_ba": mu_ba,
            "recon_a": self.dec_a(h_a),  # G_1(E_1(x_1))
            "recon_b": self.dec_b(h_b),
            "cycle_a": self.decode(reparameterize(mu_ab), "A"),  # G_1(E_2(G_2(E_1(x_1))))
            "cycle_b": self.decode(reparameterize(mu_ba), "B"),
        }

    def discriminator_losses(
        self, batch: dict[str, Any], outputs: dict[str, torch.Tensor]
    ) -> dict[str, torch.Tensor]:
        real_a, real_b = batch["A"], batch["B"]
        fake_a, fake_b = outputs["fake_a"].detach(), outputs["fake_b"].detach()
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
        return {
            "recon_a": losses.l1(outputs["recon_a"], real_a),
            "recon_b": losses.l1(outputs["recon_b"], real_b),
            "kl_a": losses.kl_unit_variance(outputs["mu_a"]),
            "kl_b": losses.kl_unit_variance(outputs["mu_b"]),
            "adv_a": losses.g_loss(mode, self.d_a(outputs["fake_a"])),
            "adv_b": losses.g_loss(mode, self.d_b(outputs["fake_b"])),
            "cycle_a": losses.l1(outputs["cycle_a"], real_a),
            "cycle_b": losses.l1(outputs["cycle_b"], real_b),
            "kl_cyc_a": losses.kl_unit_variance(outputs["mu_ab"]),
            "kl_cyc_b": losses.kl_unit_variance(outputs["mu_ba"]),
        }

    def translate(self, x: torch.Tensor, target: str | None = None) -> torch.Tensor:
        """(B, C, H, W) in [-1, 1] -> same shape. ``target='A'`` runs B -> A; default A -> B."""
        if target not in (None, "B", "A"):
            raise ValueError(f"unit translates to 'A' or 'B', not {target!r}")
        source = "B" if target == "A" else "A"
        h, w = x.shape[-2], x.shape[-1]
        z = self.encode(pad_to_multiple(x, self.enc_a.stride), source)
        return crop_to(self.decode(z, "A" if source == "B" else "B"), h, w)
