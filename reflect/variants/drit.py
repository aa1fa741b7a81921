"""DRIT++ with multi-domain conditioning (Lee et al., "DRIT++: Diverse Image-to-Image Translation via
Disentangled Representations", IJCV 2020, and its multi-domain extension MDMM): content and attribute
codes, one decoder for every domain, diverse outputs.

Paper names -> code: E^c (content encoder) is ``enc_c``; E^a (attribute encoder, conditioned on the
image's domain) is ``enc_a``; G is ``gen`` (content, attribute z, target one-hot); D (image
discriminator with a domain head) is ``dis1`` for translations with encoded attributes and ``dis2``
for translations with random attributes; D^c (content discriminator) is ``dis_c``.

Each sample i pairs with sample i-1 of the batch (any batch size; the reference needs an even one):
it is translated with its partner's attribute code into its partner's domain (``fake_cross``), then
back (cross-cycle), with its own attribute into its own domain (self reconstruction), and with
random codes z, z' ~ N(0, I) into its partner's domain (``fake_rand``, ``fake_rand2``).

Losses (unweighted; the reference's weights in brackets): D: ``d_adv``/``d_adv_random`` BCE, the
mean of the real and fake terms (the reference sums them) [1],
``d_cls``/``d_cls_random`` domain cross-entropy on real images [lambda_cls 1], ``d_content`` D^c's
domain cross-entropy [1]. G: ``adv``/``adv_random`` [1], ``cls``/``cls_random`` on translations
[lambda_cls_g 5], ``recon_self`` and ``recon_cross`` L1 [10 each], ``kl_content`` mean squared content
code [0.01], ``kl_attr`` KL of q(z|x) from N(0, I) per sample [0.01], ``latent`` |E^a(G(c, z)) - z|
[10; E^a's own weights are held fixed for it, as the reference updates only G and E^c with it],
``mode_seeking`` 1 / (|G(c, z) - G(c, z')| / |z - z'| + 1e-5) [1], ``content_adv`` cross-entropy of
D^c(content) against the uniform distribution over domains [1] (the reference's two-domain target of
0.5, generalised). Classification losses only compare the domains each sample's dataset is labelled
with (``domain_mask``). Content codes get unit Gaussian noise during training, as in the reference.

Defaults: nz 8, Adam(1e-4, betas 0.5/0.999, weight decay 1e-4), D^c at lr / 2.5, N(0, 0.02) init,
6-layer image discriminators. Not reproduced: the reference updates D^c alone on 2 of every 3
batches and clips its gradient norm at 5 (the trainer here updates every discriminator once per
step, and ``train.grad_clip`` clips per phase). One iteration encodes, samples and decodes once
(:meth:`generate`); the discriminators then judge those translations and content codes, detached
(the reference samples the attributes again for its discriminator update).

``translate(x, target)`` uses the prior mean z = 0 as attribute (deterministic);
:meth:`translate_reference` takes the attribute of a reference image instead (e.g. a clean window).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

import torch
from torch.func import functional_call

from reflect import losses
from reflect.nn import crop_to, init_weights, pad_to_multiple, reparameterize
from reflect.nn.drit import (
    AttributeDecoder,
    AttributeEncoder,
    ContentDiscriminator,
    ContentEncoder,
    ImageDomainDiscriminator,
)
from reflect.registry import register
from reflect.variants.base import VariantConfig, params_of
from reflect.variants.multidomain import SYNTH_DOMAINS, MultiDomainVariant


@dataclass
class DRITConfig(VariantConfig):
    lr: float = 1e-4
    weight_decay: float = 1e-4
    init: str = "normal"
    domains: list[str] = field(default_factory=lambda: list(SYNTH_DOMAINS))
    default_target: str = "clean"
    ngf: int = 64  # content code: 4 * ngf channels at 1/4 resolution
    ndf: int = 64
    nz: int = 8  # attribute code length
    n_res: int = 4  # content encoder residual blocks (the last one is DRIT's shared block)
    n_res_dec: int = 3  # decoder residual blocks after the condition is concatenated
    n_layers_d: int = 6
    lr_content_factor: float = 0.4  # D^c learns at lr * 0.4 (the reference: lr / 2.5)
    lambda_cls: float = 1.0
    lambda_cls_g: float = 5.0
    lambda_rec: float = 10.0
    lambda_kl: float = 0.01
    lambda_latent: float = 10.0
    lambda_ms: float = 1.0
    lambda_content: float = 1.0


@register("drit")
class DRIT(MultiDomainVariant):
    Config = DRITConfig
    discriminator_groups = ("discriminator", "content_discriminator")
    generator_modules = ("enc_c", "enc_a", "gen")
    clean_key = "clean"
    reconstruction_losses: ClassVar[tuple[str, ...]] = ("recon_self", "recon_cross")

    def __init__(self, cfg: DRITConfig) -> None:
        super().__init__(cfg)
        self.cfg: DRITConfig = cfg
        n = len(self.domains)
        self.enc_c = ContentEncoder(cfg.in_channels, dim=cfg.ngf, n_res=cfg.n_res)
        k = self.enc_c.out_channels
        self.enc_a = AttributeEncoder(cfg.in_channels, n, dim=cfg.ngf, nz=cfg.nz)
        self.gen = AttributeDecoder(cfg.out_channels, n, content_ch=k, nz=cfg.nz, n_res=cfg.n_res_dec)
        self.dis1 = ImageDomainDiscriminator(cfg.out_channels, n, ndf=cfg.ndf, n_layers=cfg.n_layers_d)
        self.dis2 = ImageDomainDiscriminator(cfg.out_channels, n, ndf=cfg.ndf, n_layers=cfg.n_layers_d)
        self.dis_c = ContentDiscriminator(n, ch=k)
        for m in (self.enc_c, self.enc_a, self.gen, self.dis1, self.dis2, self.dis_c):
            init_weights(m, cfg.init, cfg.init_gain)

    @classmethod
    def default_loss_weights(cls, cfg: DRITConfig) -> dict[str, float]:
        return {
            "d_adv": 1.0,
            "d_adv_random": 1.0,
            "d_cls": cfg.lambda_cls,
            "d_cls_random": cfg.lambda_cls,
            "d_content": 1.0,
            "adv": 1.0,
            "adv_random": 1.0,
            "cls": cfg.lambda_cls_g,
            "cls_random": cfg.lambda_cls_g,
            "recon_self": cfg.lambda_rec,
            "recon_cross": cfg.lambda_rec,
            "kl_content": cfg.lambda_kl,
            "kl_attr": cfg.lambda_kl,
            "latent": cfg.lambda_latent,
            "mode_seeking": cfg.lambda_ms,
            "content_adv": cfg.lambda_content,
        }

    def param_groups(self) -> dict[str, list[torch.nn.Parameter]]:
        return {
            "generator": params_of(self.enc_c, self.enc_a, self.gen),
            "discriminator": params_of(self.dis1, self.dis2),
            "content_discriminator": params_of(self.dis_c),
        }

    def optimizer_settings(self, group: str) -> dict[str, Any]:
        out = super().optimizer_settings(group)
        if group == "content_discriminator":
            out["lr"] = self.cfg.lr * self.cfg.lr_content_factor
        return out

    # ---- pieces ---------------------------------------------------------------------------
    def content(self, x: torch.Tensor) -> torch.Tensor:
        """E^c(x) plus unit Gaussian noise (training only, as the reference's noise layer)."""
        z_c = self.enc_c(x)
        return z_c + torch.randn_like(z_c)

    def _labels(self, batch: dict[str, Any]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        x, c = batch["image"], batch["domain"]
        mask = batch.get("domain_mask")
        return x, c, mask

    # ---- contract -------------------------------------------------------------------------
    def generate(self, batch: dict[str, Any]) -> dict[str, torch.Tensor]:
        """Every forward of one iteration, each network once per input; every random draw of the
        iteration (content noise, attribute samples, z and z') happens here, once.

        One decoder pass makes the partner-attribute, own-attribute and both random translations
        (and, with the application losses on, the clean translation ``clean`` with z = 0 from the
        noise-free content code, as :meth:`translate` makes it)."""
        x, c, _ = self._labels(batch)
        b = x.shape[0]
        c_p = c.roll(1, 0)  # each sample's partner's domain
        oh, oh_p = self.one_hot(c, x), self.one_hot(c_p, x)
        z_c_clean = self.enc_c(x)
        z_c = z_c_clean + torch.randn_like(z_c_clean)
        mu, logvar = self.enc_a(x, oh)
        z_a = reparameterize(mu, logvar)
        z_r, z_r2 = torch.randn_like(mu), torch.randn_like(mu)
        contents, codes, targets = (
            [z_c.repeat(4, 1, 1, 1)],
            [z_a.roll(1, 0), z_a, z_r, z_r2],
            [oh_p, oh, oh_p, oh_p],
        )
        if self.uses_clean_output:
            clean = torch.full_like(c, self.domain_index(None))
            contents, codes, targets = (
                [*contents, z_c_clean],
                [*codes, torch.zeros_like(mu)],
                [*targets, self.one_hot(clean, x)],
            )
        fakes = self.gen(torch.cat(contents), torch.cat(codes), torch.cat(targets)).split(b)
        out = dict(zip(("fake_cross", "fake_self", "fake_rand", "fake_rand2", "clean"), fakes, strict=False))
        # cross-cycle: encode the translations, swap the attributes back
        mu_x, logvar_x = self.enc_a(out["fake_cross"], oh_p)
        out["fake_back"] = self.gen(
            self.content(out["fake_cross"]), reparameterize(mu_x, logvar_x).roll(-1, 0), oh
        )
        # latent regression through a frozen E^a (the reference updates only G and E^c with it)
        frozen = {k: v.detach() for k, v in self.enc_a.named_parameters()}
        out["mu_rand"], _ = functional_call(self.enc_a, frozen, (out["fake_rand"], oh_p))
        return out | {
            "content": z_c,
            "content_clean": z_c_clean,
            "mu": mu,
            "logvar": logvar,
            "z_rand": z_r,
            "z_rand2": z_r2,
        }

    def discriminator_losses(
        self, batch: dict[str, Any], outputs: dict[str, torch.Tensor]
    ) -> dict[str, torch.Tensor]:
        x, c, mask = self._labels(batch)
        z_c, fake_cross, fake_rand = (outputs[k].detach() for k in ("content", "fake_cross", "fake_rand"))
        out: dict[str, torch.Tensor] = {}
        for suffix, dis, fake in (("", self.dis1, fake_cross), ("_random", self.dis2, fake_rand)):
            src_real, cls_real = dis(x)
            src_fake, _ = dis(fake)
            out[f"d_adv{suffix}"] = losses.d_loss("vanilla", src_real, src_fake)
            out[f"d_cls{suffix}"] = losses.domain_cross_entropy(cls_real, c, mask)
        out["d_content"] = losses.domain_cross_entropy(self.dis_c(z_c), c, mask)
        return out

    def generator_losses(
        self, batch: dict[str, Any], outputs: dict[str, torch.Tensor]
    ) -> dict[str, torch.Tensor]:
        x, c, mask = self._labels(batch)
        c_p, mask_p = c.roll(1, 0), None if mask is None else mask.roll(1, 0)
        src, cls = self.dis1(outputs["fake_cross"])
        src_r, cls_r = self.dis2(torch.cat([outputs["fake_rand"], outputs["fake_rand2"]]))
        ratio = (outputs["fake_rand2"] - outputs["fake_rand"]).abs().mean() / (
            outputs["z_rand2"] - outputs["z_rand"]
        ).abs().mean()
        mask_p2 = None if mask_p is None else mask_p.repeat(2, 1)
        return {
            "adv": losses.g_loss("vanilla", src),
            "adv_random": losses.g_loss("vanilla", src_r),
            "cls": losses.domain_cross_entropy(cls, c_p, mask_p),
            "cls_random": losses.domain_cross_entropy(cls_r, c_p.repeat(2), mask_p2),
            "recon_self": losses.l1(outputs["fake_self"], x),
            "recon_cross": losses.l1(outputs["fake_back"], x),
            "kl_content": losses.kl_unit_variance(outputs["content_clean"]),
            "kl_attr": losses.kl_standard_normal(outputs["mu"], outputs["logvar"]) * outputs["mu"].shape[1],
            "latent": losses.l1(outputs["mu_rand"], outputs["z_rand"]),
            "mode_seeking": 1.0 / (ratio.float() + 1e-5),
            "content_adv": losses.domain_confusion(self.dis_c(outputs["content"]), mask),
        }

    # ---- translation ----------------------------------------------------------------------
    def _decode(self, x: torch.Tensor, z: torch.Tensor, target_index: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[-2], x.shape[-1]
        content = self.enc_c(pad_to_multiple(x, self.enc_c.stride))
        return crop_to(self.gen(content, z, self.one_hot(target_index, x)), h, w)

    def translate_index(self, x: torch.Tensor, target_index: torch.Tensor) -> torch.Tensor:
        """(B, C, H, W) in [-1, 1], (B,) domain indices -> (B, C, H, W); attribute z = 0 (the prior mean)."""
        z = x.new_zeros((x.shape[0], self.cfg.nz))
        return self._decode(x, z, target_index)

    def translate_reference(
        self, x: torch.Tensor, reference: torch.Tensor, domain: str | None = None
    ) -> torch.Tensor:
        """Translate ``x`` (B, C, H, W) with the attribute (posterior mean) of ``reference``
        (1 or B images of any size, of ``domain``, default ``default_target``) into that domain."""
        index = torch.full(
            (reference.shape[0],), self.domain_index(domain), dtype=torch.long, device=x.device
        )
        mu, _ = self.enc_a(reference, self.one_hot(index, reference))
        mu = mu.expand(x.shape[0], -1) if mu.shape[0] == 1 else mu
        return self._decode(x, mu, index.expand(x.shape[0]) if index.shape[0] == 1 else index)
