"""Adapt: fine-tune a trained remover on one site's unlabeled window crops (``reflect adapt``).

The generator ``g`` is the base remover's :class:`~reflect.nn.unet.RemovalUNet` (same module name, so
the merged weights are a plain remover generator file). By default only low-rank adapters train
(:mod:`reflect.nn.lora` on the decoder's, refinement blocks', head's and gain's convolutions; the
base weights are frozen and the adapters start at zero, so step 0 *is* the base model);
``adapter: full`` fine-tunes every weight.

A batch mixes site crops (``batch["site"]``: no target) and, with ``data.kind: synthetic``, anchor
pairs rendered from the base recipe (``has_target``). Losses (named, unweighted; weights from the
config):

- ``resynthesis``: the model's own output on a site crop, detached, gets a new reflection (a layer
  cut from another crop of the site or a procedural one, blended by the synthesiser's glass models:
  :func:`~reflect.losses.adaptation.resynthesise`); the model must give that output back (L1);
- ``composition``: the layers recompose the input, the reflection holds no more light than the input
  and the transmission stays in range (:func:`~reflect.losses.adaptation.composition`);
- ``identity``: 1 - cos of dlib's descriptor (torch port) between output and input on site faces
  that are already clear (``faces_box``/``faces_lm`` of the site index), never traded for cleanliness;
- ``anchor``: L1 and multi-scale gradient L1 to the target on anchor pairs (do not forget);
- ``method`` picks the adversarial family member. ``cyclegan`` (Zhu et al. 2017): D_Y is ``d`` on the
  clean images ``B`` vs G(A) (``adversarial``/``d``), F: B -> A is ``g_back`` (a small residual ResNet
  generator) with D_X ``d_back`` (``adversarial_back``/``d_back``) and ``cycle`` = |F(G(A)) - A| +
  |G(F(B)) - B|. ``unit`` (Liu et al. 2017): the remover's encoder is the shared-latent encoder E (its
  bottleneck the code ``mu``), the remover the decoder G_B and ``dec_a`` (UNIT's decoder) G_A:
  ``vae`` = |G_A(mu_A + n) - A| + |G_B(E(B)) - B|, ``kl`` = mean(mu^2) of both codes, ``cycle`` =
  |G_A(E(G_B(E(A))) + n) - A|, with the same two adversarial pairs (G_A(E(B)) judged by ``d_back``).
  ``none``: no adversarial term and no discriminator.
- ``clean_pairs`` (``clean_pair_fraction`` > 0, ``reflect adapt --clean-pairs F``; needs ``--clean``
  crops of the same camera): a share ``F`` of the samples are clean crops of the site behind a new
  reflection (as ``resynthesis`` draws them), with the clean crop as the target: L1 and gradient L1.
  Re-synthesis cannot move the model off its own biases (its target is the model's output: a
  backdrop the base darkens stays dark); these pairs show it the site's scenes as they are. With
  ``clean_pair_glass: site`` (``--pair-glass site``) the pairs' input is the clean crop behind the glass
  the model reads on the batch's site crops (:func:`~reflect.losses.adaptation.through_site_glass`:
  ``c / g + R``, detached), not behind a re-synthesis glass model; a batch without a site crop keeps
  the re-synthesised input. ``clean_pair_glass: site-mean`` (``--pair-glass site-mean``): the
  re-synthesised input behind the site's mean glass, fitted once to the site crops' statistics by the
  data (:meth:`~reflect.data.site.SiteDataset._fit_site_glass`: a contrast and a smooth added light);
  ``site-floor``: the same contrast, and the added light of one site crop per pair, its light floor
  (a haze from that crop's side of the sun, its reflection's floor).
- ``colour`` (``lambda_colour`` > 0, ``reflect adapt --match-colour``; needs ``--clean`` crops of the
  same camera): the cleaned site crops' per-channel mean and spread match the clean crops'
  (:func:`~reflect.losses.adaptation.colour_moments`): the site's glass loss and tint, which no
  single crop reveals. A batch holds one to three site crops, whose moments are mostly the scene's
  (a batch-only term stayed at 0.03-0.08 for a whole run, noise that points anywhere); so the term's
  value is the mismatch of a running mean over the last ~1 / (1 - ``colour_momentum``) batches, and
  its gradient flows through the current batch's share of it (the running part is a buffer, saved
  with the checkpoint so a resumed run goes on exactly).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any, ClassVar

import torch
from torch import nn

from reflect import losses
from reflect.losses.adaptation import (
    cleaned_moments,
    colour_moments_of,
    composition,
    fallback_blend,
    gain_from_logit,
    resynthesise,
    through_site_glass,
)
from reflect.losses.layers import gradient_l1
from reflect.losses.removal import BoxIdentityLoss
from reflect.nn import (
    PatchDiscriminator,
    ResnetGenerator,
    UnitDecoderBack,
    crop_to,
    init_weights,
    pad_to_multiple,
)
from reflect.nn.lora import add_lora, is_adapter_key, merge_lora
from reflect.nn.unet import RemovalUNet
from reflect.registry import register
from reflect.variants.adapt_config import METHODS, AdaptConfig
from reflect.variants.base import Variant, params_of

__all__ = ["METHODS", "Adapt", "AdaptConfig"]


@register("adapt")
class Adapt(Variant):
    Config = AdaptConfig
    generator_modules: ClassVar[tuple[str, ...]] = ("g",)
    domains: ClassVar[tuple[str, ...]] = ("B",)
    reconstruction_losses: ClassVar[tuple[str, ...]] = ("resynthesis",)
    clean_key: ClassVar[str] = "t"
    colour_running: torch.Tensor  # buffers, with lambda_colour > 0 only
    colour_count: torch.Tensor

    def __init__(self, cfg: AdaptConfig) -> None:
        super().__init__(cfg)
        self.cfg: AdaptConfig = cfg
        from reflect.errors import ConfigError

        if cfg.ngf % 4:
            raise ConfigError(f"model.ngf: {cfg.ngf} is not a multiple of 4")
        if cfg.clean_pair_fraction > 0 and not cfg.clean:
            raise ConfigError(
                "model.clean_pair_fraction needs clean crops of the site's camera (model.clean, --clean)"
            )
        if cfg.lambda_colour > 0 and not cfg.clean:
            raise ConfigError(
                "model.lambda_colour needs clean crops of the site's camera (model.clean, --clean)"
            )
        if not 0.0 <= cfg.colour_momentum < 1.0:
            raise ConfigError(f"model.colour_momentum: {cfg.colour_momentum} is not in [0, 1)")
        self.g = RemovalUNet(
            cfg.in_channels,
            cfg.out_channels,
            ngf=cfg.ngf,
            n_bottleneck=cfg.n_bottleneck,
            n_refine=cfg.n_refine,
            n_context=cfg.n_context,
            predict_reflection=True,
            output=cfg.output,
        )
        if cfg.adapter == "lora":
            try:
                add_lora(self.g, tuple(cfg.adapter_targets), cfg.adapter_rank)
            except ValueError as e:
                raise ConfigError(f"model.adapter_targets: {e}") from None
            for name, p in self.g.named_parameters():
                p.requires_grad_(is_adapter_key(name))
        c4 = 6 * cfg.ngf
        if cfg.method != "none":
            # the family member's cycle (F(G(A)) = A, G(F(B)) = B) is a reconstruction loss too
            self.reconstruction_losses = ("resynthesis", "cycle")  # type: ignore[misc]
            self.d = PatchDiscriminator(
                cfg.out_channels, ndf=cfg.ndf, n_layers=cfg.n_layers_d, norm="instance"
            )
            self.d_back = PatchDiscriminator(
                cfg.in_channels, ndf=cfg.ndf, n_layers=cfg.n_layers_d, norm="instance"
            )
            init_weights(self.d, "normal", 0.02)
            init_weights(self.d_back, "normal", 0.02)
        if cfg.method == "cyclegan":
            self.g_back = ResnetGenerator(
                cfg.out_channels,
                cfg.in_channels,
                ngf=cfg.ngf_back,
                n_blocks=cfg.n_blocks_back,
                upsample="nearest",
                residual=True,
            )
        elif cfg.method == "unit":
            self.dec_a = UnitDecoderBack(cfg.in_channels, dim=c4, n_up=4, n_res=1)
            init_weights(self.dec_a, "kaiming", 0.02)
        if cfg.lambda_colour > 0:
            # running (mean, std) per channel of the cleaned site crops; count 0: not yet seen
            self.register_buffer("colour_running", torch.zeros(2, 3))
            self.register_buffer("colour_count", torch.zeros(()))
        # frozen helper: a plain attribute, never in state_dict or param groups
        self.identity = (
            BoxIdentityLoss("dlib-torch", max_faces=cfg.identity_max_faces)
            if cfg.lambda_identity > 0
            else None
        )

    @classmethod
    def default_loss_weights(cls, cfg: AdaptConfig) -> dict[str, float]:
        w = {
            "resynthesis": cfg.lambda_resynthesis,
            "composition": cfg.lambda_composition,
            "anchor": cfg.lambda_anchor,
        }
        if cfg.lambda_identity > 0:
            w["identity"] = cfg.lambda_identity
        if cfg.lambda_colour > 0:
            w["colour"] = cfg.lambda_colour
        if cfg.clean_pair_fraction > 0:
            w["clean_pairs"] = cfg.lambda_clean_pairs
        if cfg.method != "none":
            w |= {
                "adversarial": cfg.lambda_adv,
                "adversarial_back": cfg.lambda_adv,
                "cycle": cfg.lambda_cycle,
                "d": 1.0,
                "d_back": 1.0,
            }
        if cfg.method == "unit":
            w |= {"vae": cfg.lambda_vae, "kl": cfg.lambda_kl}
        return w

    def param_groups(self) -> dict[str, list[nn.Parameter]]:
        gen = [p for p in self.g.parameters() if p.requires_grad]
        gen += params_of(self.g_back) if self.cfg.method == "cyclegan" else []
        gen += params_of(self.dec_a) if self.cfg.method == "unit" else []
        groups = {"generator": gen}
        if self.cfg.method != "none":
            groups["discriminator"] = params_of(self.d, self.d_back)
        return groups

    # ---- the generator, with its internals traced ------------------------------------------
    @contextlib.contextmanager
    def _traced(self) -> Iterator[dict[str, list[torch.Tensor]]]:
        """Within the block, each :meth:`layers` call appends the gain conv's output (``gain``) and the
        bottleneck code (``mu``) of its forward: read off the one forward, never run again."""
        seen: dict[str, list[torch.Tensor]] = {"gain": [], "mu": []}
        mods = {"mu": self.g.bottleneck} | ({"gain": self.g.gain} if self.g.gain is not None else {})
        hooks = [
            m.register_forward_hook(lambda _m, _a, out, k=k: seen[k].append(out)) for k, m in mods.items()
        ]
        try:
            yield seen
        finally:
            for h in hooks:
                h.remove()

    def layers(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(T unclamped, R) for any H and W, in [-1, 1] units."""
        h, w = x.shape[-2], x.shape[-1]
        t, r = self.g.layers(pad_to_multiple(x, self.g.stride))
        assert r is not None
        return crop_to(t, h, w), crop_to(r, h, w)

    @staticmethod
    def site_mask(batch: dict[str, Any]) -> torch.Tensor:
        """(B,) bool: the site crops of the batch (plain batches: the samples without a target)."""
        x = batch["A"]
        if "site" in batch:
            return batch["site"].to(x.device).bool()
        return ~batch.get("has_target", torch.zeros(x.shape[0], dtype=torch.bool)).to(x.device).bool()

    def generate(self, batch: dict[str, Any]) -> dict[str, torch.Tensor]:
        x, site = batch["A"], self.site_mask(batch)  # (B, 3, H, W) in [-1, 1]
        with self._traced() as seen:
            t, r = self.layers(x)  # T = G(x)
        out = {"t": t, "r": r, "mu_a": seen["mu"][0]}
        if seen["gain"]:
            out["gain"] = gain_from_logit(seen["gain"][0])
        if bool(site.any()):
            t0 = t[site].detach().clamp(-1, 1)
            if "layer" in batch:
                layer, params = batch["layer"][site], batch["blend"][site]
            else:
                layer, params = fallback_blend(x[site])
            out["resynth_target"] = t0
            out["resynth_t"] = self.layers(resynthesise(t0, layer, params))[0]  # G(T0 + new reflection)
            paired = batch.get("clean_pair", torch.zeros_like(site)).to(x.device).bool()
            if self.cfg.clean_pair_glass == "site" and bool(paired.any()):
                gain = out["gain"][site].detach() if "gain" in out else None
                glass = through_site_glass(batch["A_target"][paired], r[site].detach(), gain)
                out["pair_t"] = self.layers(glass)[0]  # the clean crops behind the site's own glass
        m = self.cfg.method
        if m == "cyclegan":
            real_b = batch["B"]
            fake_a = self._back(real_b)  # F(B)
            out |= {"fake_a": fake_a, "rec_a": self._back(t.clamp(-1, 1)), "rec_b": self.layers(fake_a)[0]}
        elif m == "unit":
            real_b = batch["B"]
            with self._traced() as seen_b:
                out["recon_b"] = self.layers(real_b)[0]  # G_B(E(B))
            with self._traced() as seen_ab:
                self.layers(t.clamp(-1, 1))  # E(G_B(E(A))): the code of the cleaned image
            mu_b, mu_ab = seen_b["mu"][0], seen_ab["mu"][0]
            h, w = x.shape[-2:]
            mu_a = out["mu_a"]
            out |= {
                "mu_b": mu_b,
                "recon_a": crop_to(self.dec_a(mu_a + torch.randn_like(mu_a)), h, w),  # G_A(E(A) + n)
                "fake_a": crop_to(self.dec_a(mu_b + torch.randn_like(mu_b)), h, w),  # G_A(E(B) + n)
                "cycle_a": crop_to(self.dec_a(mu_ab + torch.randn_like(mu_ab)), h, w),
            }
        return out

    def _colour(self, t: torch.Tensor, mean: torch.Tensor, std: torch.Tensor) -> torch.Tensor:
        """The colour term on the running moments: value from the running mean of the batches' moments,
        gradient through this batch's share of it."""
        now = torch.stack(cleaned_moments(t))
        k = self.cfg.colour_momentum if float(self.colour_count) > 0 else 0.0
        running = k * self.colour_running.to(now) + (1 - k) * now
        if self.training and torch.is_grad_enabled():
            with torch.no_grad():
                self.colour_running.copy_(running.detach())
                self.colour_count.add_(1)
        # the running value, but the gradient of the whole mismatch flows through this batch
        moments = now + (running - now).detach()
        return colour_moments_of(moments[0], moments[1], mean, std)

    def _back(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[-2], x.shape[-1]
        return crop_to(self.g_back(pad_to_multiple(x, 4)), h, w)

    # ---- losses ----------------------------------------------------------------------------
    def generator_losses(
        self, batch: dict[str, Any], outputs: dict[str, torch.Tensor]
    ) -> dict[str, torch.Tensor]:
        x, site = batch["A"], self.site_mask(batch)
        t, r = outputs["t"], outputs["r"]
        zero = losses.graph_zero(t)
        has = batch.get("has_target", torch.zeros(x.shape[0], dtype=torch.bool)).to(x.device).bool()
        paired = batch.get("clean_pair", torch.zeros_like(has)).to(x.device).bool()
        has = has & ~paired  # the anchor: the base recipe's pairs
        target = batch.get("A_target", x)
        out = {
            "resynthesis": losses.l1(outputs["resynth_t"], outputs["resynth_target"])
            if "resynth_t" in outputs
            else zero,
            "composition": composition(x, t, r, outputs.get("gain")),
            "anchor": losses.masked_l1(t, target, has) + gradient_l1(t, target, has)
            if bool(has.any())
            else zero,
        }
        if self.cfg.clean_pair_fraction > 0:
            pred, pair_target, mask = (t, target, paired)
            if "pair_t" in outputs:  # the clean crops behind the site's own glass, every one a pair
                pred, pair_target = outputs["pair_t"], target[paired]
                mask = torch.ones(pred.shape[0], dtype=torch.bool, device=pred.device)
            out["clean_pairs"] = (
                losses.masked_l1(pred, pair_target, mask) + gradient_l1(pred, pair_target, mask)
                if bool(mask.any())
                else zero
            )
        if self.identity is not None:
            out["identity"] = self._identity(t, x, site, batch)
        if self.cfg.lambda_colour > 0:
            out["colour"] = (
                self._colour(t[site], batch["clean_mean"][0], batch["clean_std"][0])
                if bool(site.any()) and "clean_mean" in batch
                else zero
            )
        m, mode = self.cfg.method, self.cfg.gan_mode
        if m != "none":
            fake = t[site].clamp(-1, 1)
            out["adversarial"] = losses.g_loss(mode, self.d(fake)) if fake.shape[0] else zero
            out["adversarial_back"] = losses.g_loss(mode, self.d_back(outputs["fake_a"]))
        if m == "cyclegan":
            out["cycle"] = losses.l1(outputs["rec_a"], x) + losses.l1(outputs["rec_b"], batch["B"])
        elif m == "unit":
            out["vae"] = losses.l1(outputs["recon_a"], x) + losses.l1(outputs["recon_b"], batch["B"])
            out["kl"] = losses.kl_unit_variance(outputs["mu_a"]) + losses.kl_unit_variance(outputs["mu_b"])
            out["cycle"] = losses.l1(outputs["cycle_a"], x)
        return out

    def _identity(
        self, t: torch.Tensor, x: torch.Tensor, site: torch.Tensor, batch: dict[str, Any]
    ) -> torch.Tensor:
        """1 - cos of the descriptors of output and input at the site's clear faces (0 when none)."""
        assert self.identity is not None
        if "faces_box" not in batch:
            return losses.graph_zero(t)
        counts = batch["faces_n"].to(site.device) * site.long()
        lm = batch.get("faces_lm")
        return self.identity.terms(t.clamp(-1, 1), x, batch["faces_box"], counts, landmarks=lm)["face_id"]

    def discriminator_losses(
        self, batch: dict[str, Any], outputs: dict[str, torch.Tensor]
    ) -> dict[str, torch.Tensor]:
        if self.cfg.method == "none":
            return {}
        x, real_b, site = batch["A"], batch["B"], self.site_mask(batch)
        mode = self.cfg.gan_mode
        fake = outputs["t"][site].detach().clamp(-1, 1)
        d = (
            losses.d_loss(mode, self.d(real_b), self.d(fake))
            if fake.shape[0]
            else losses.graph_zero(self.d(real_b))
        )
        return {
            "d": d,
            "d_back": losses.d_loss(mode, self.d_back(x), self.d_back(outputs["fake_a"].detach())),
        }

    # ---- inference and the files ------------------------------------------------------------
    def translate(self, x: torch.Tensor, target: str | None = None) -> torch.Tensor:
        if target not in (None, "B"):
            raise ValueError(f"adapt only removes reflections (target 'B'), not {target!r}")
        return self.layers(x)[0].clamp(-1.0, 1.0)

    def samples(self, batch: dict[str, Any]) -> dict[str, torch.Tensor]:
        with torch.no_grad():
            t, r = self.layers(batch["A"])
            return {"input": batch["A"], "cleaned": t.clamp(-1, 1), "reflection": (r * 2 - 1).clamp(-1, 1)}

    def merged_generator_state(self) -> dict[str, torch.Tensor]:
        """``g``'s weights with every adapter folded in: a plain remover generator's state dict."""
        import copy

        plain = merge_lora(copy.deepcopy(self.g))
        return {k: v.detach().cpu().contiguous() for k, v in plain.state_dict().items()}
