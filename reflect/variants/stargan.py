"""StarGAN (Choi et al., "StarGAN: Unified Generative Adversarial Networks for Multi-Domain
Image-to-Image Translation", CVPR 2018): one generator for every pair of domains.

Paper names -> code: G(x, c) is ``g`` (the target domain c as a one-hot code); D is ``d`` with two
heads, D_src (real/fake, a patch map) and D_cls (domain logits). Domains here are the glass
conditions of :mod:`reflect.data.multidomain` (clean, sky, foliage, glare, false_colour, nir);
``translate(x)`` goes to ``clean``.

Losses (unweighted; weights in brackets, the paper's): D: ``d_adv`` WGAN critic loss
D_src(G(x, c)) - D_src(x) [1], ``d_cls`` cross-entropy of D_cls(x) against x's domain
[lambda_cls = 1], ``d_gp`` the WGAN-GP gradient penalty [lambda_gp = 10]. G: ``g_adv`` -D_src(G(x, c))
[1], ``g_cls`` cross-entropy of D_cls(G(x, c)) against c [lambda_cls], ``g_rec`` the cycle
|G(G(x, c), c') - x| back to x's own domain c' [lambda_rec = 10].

Targets c are drawn per sample from the domains its dataset is labelled with, and the
classification losses only compare those (the mask vector; the paper feeds it to G as well, to
say which dataset's labels are meant: with one index over one domain set a target is unambiguous,
so G gets the one-hot target alone).

Defaults from the paper and the reference code (yunjey/stargan): 6 residual blocks, ngf 64,
6-layer discriminator with ndf 64, Adam(1e-4, betas 0.5/0.999) for both, PyTorch's default
initialisation, batch 16, 200k iterations with linear decay over the last 100k, and n_critic = 5
discriminator updates per generator update: ``train.d_steps: 5`` in ``configs/stargan.yaml``.
One iteration draws the targets c once (:meth:`generate`, from the torch RNG the checkpoint keeps)
and runs G twice, for G(x, c) and the cycle; the generator update uses them, then the n_critic
updates judge the same detached G(x, c), each with fresh gradient-penalty interpolates (the
reference draws a new batch for each critic update; here they share the iteration's batch).
Fixed here: instance norm keeps no running statistics (the same output in train and eval mode and in
ONNX), and the domain head pools globally, so D works at any image size.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

import torch

from reflect import losses
from reflect.nn import crop_to, init_weights, pad_to_multiple
from reflect.nn.conditional import ConditionalResnetGenerator, SourceClassDiscriminator
from reflect.registry import register
from reflect.variants.base import VariantConfig, params_of
from reflect.variants.multidomain import SYNTH_DOMAINS, MultiDomainVariant


@dataclass
class StarGANConfig(VariantConfig):
    lr: float = 1e-4
    init: str = "none"  # the reference keeps PyTorch's default initialisation
    domains: list[str] = field(default_factory=lambda: list(SYNTH_DOMAINS))
    default_target: str = "clean"
    ngf: int = 64
    ndf: int = 64
    n_blocks: int = 6  # g_repeat_num
    n_layers_d: int = 6  # d_repeat_num: 6 stride-2 convs
    lambda_cls: float = 1.0
    lambda_rec: float = 10.0
    lambda_gp: float = 10.0


@register("stargan")
class StarGAN(MultiDomainVariant):
    Config = StarGANConfig
    generator_modules = ("g",)
    clean_key = "clean"
    reconstruction_losses: ClassVar[tuple[str, ...]] = ("g_rec",)

    def __init__(self, cfg: StarGANConfig) -> None:
        super().__init__(cfg)
        self.cfg: StarGANConfig = cfg
        n = len(self.domains)
        self.g = ConditionalResnetGenerator(
            cfg.in_channels, cfg.out_channels, n, ngf=cfg.ngf, n_blocks=cfg.n_blocks
        )
        self.d = SourceClassDiscriminator(cfg.out_channels, n, ndf=cfg.ndf, n_layers=cfg.n_layers_d)
        for m in (self.g, self.d):
            init_weights(m, cfg.init, cfg.init_gain)

    @classmethod
    def default_loss_weights(cls, cfg: StarGANConfig) -> dict[str, float]:
        return {
            "d_adv": 1.0,
            "d_cls": cfg.lambda_cls,
            "d_gp": cfg.lambda_gp,
            "g_adv": 1.0,
            "g_cls": cfg.lambda_cls,
            "g_rec": cfg.lambda_rec,
        }

    def param_groups(self) -> dict[str, list[torch.nn.Parameter]]:
        return {"generator": params_of(self.g), "discriminator": params_of(self.d)}

    def conditioned(self, x: torch.Tensor, target_index: torch.Tensor) -> torch.Tensor:
        """G(x, c) on training crops (H, W multiples of 4)."""
        return self.g(x, self.one_hot(target_index, x))

    def generate(self, batch: dict[str, Any]) -> dict[str, torch.Tensor]:
        """G(x, c) for a random target c per sample and the cycle G(G(x, c), c'), each once.

        With the application losses on, the clean translations G(x, clean) ride in the same first
        call (``clean``: the batch doubled, so G still runs once per input)."""
        x, c_org = batch["image"], batch["domain"]
        c_trg = self.random_targets(batch)  # the iteration's one draw: every phase judges these targets
        out = {"target": c_trg}
        if self.uses_clean_output:
            clean = torch.full_like(c_trg, self.domain_index(None))
            out["fake"], out["clean"] = self.conditioned(torch.cat([x, x]), torch.cat([c_trg, clean])).chunk(
                2
            )
        else:
            out["fake"] = self.conditioned(x, c_trg)  # G(x, c)
        out["rec"] = self.conditioned(out["fake"], c_org)  # G(G(x, c), c') = x
        return out

    def discriminator_losses(
        self, batch: dict[str, Any], outputs: dict[str, torch.Tensor]
    ) -> dict[str, torch.Tensor]:
        x, c_org, mask = batch["image"], batch["domain"], batch.get("domain_mask")
        fake = outputs["fake"].detach()  # the same fakes for each of the n_critic updates
        src_real, cls_real = self.d(x)
        src_fake, _ = self.d(fake)
        return {
            "d_adv": losses.d_loss("wgan", src_real, src_fake),
            "d_cls": losses.domain_cross_entropy(cls_real, c_org, mask),
            "d_gp": losses.gradient_penalty(lambda t: self.d(t)[0], x, fake),
        }

    def generator_losses(
        self, batch: dict[str, Any], outputs: dict[str, torch.Tensor]
    ) -> dict[str, torch.Tensor]:
        x, mask = batch["image"], batch.get("domain_mask")
        src_fake, cls_fake = self.d(outputs["fake"])
        return {
            "g_adv": losses.g_loss("wgan", src_fake),
            "g_cls": losses.domain_cross_entropy(cls_fake, outputs["target"], mask),
            "g_rec": losses.l1(outputs["rec"], x),
        }

    def translate_index(self, x: torch.Tensor, target_index: torch.Tensor) -> torch.Tensor:
        """(B, C, H, W) in [-1, 1], (B,) domain indices -> (B, C, H, W) in [-1, 1]; any H, W."""
        h, w = x.shape[-2], x.shape[-1]
        return crop_to(self.conditioned(pad_to_multiple(x, self.g.stride), target_index), h, w)
