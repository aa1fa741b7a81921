"""Remover: one reflection-removal generator, trained on synthetic pairs with an adversarial term.

This is the variant behind the bundled model. Unpaired GANs learn the reflection-free domain only
slowly on a CPU; synthetic windshield pairs (``data.kind: synthetic``) give a direct signal, and a
small PatchGAN keeps the outputs looking like real clean crops (``data.root/trainB`` when given,
else the synthetic targets). Real crops with reflections and no target (``data.real_fraction``)
feed only the adversarial term and the layer losses.

Paper names -> code: ``g`` is the generator G: A -> B (a :class:`~reflect.nn.unet.RemovalUNet`
predicting the transmission T = G(x) and the reflection R); ``d`` is the discriminator D on B.

Losses (named, unweighted; weights from the config):
- ``supervised``: L1(T, target) on samples with a target (``lambda_sup``);
- ``gradient``: multi-scale gradient L1 (ERRNet, Wei et al. 2019) (``lambda_grad``);
- ``exclusion``: T's and R's gradients do not coincide (Zhang et al. 2018) (``lambda_excl``);
- ``reconstruction``: ``x = T + R`` (``lambda_rec``; the ``correction`` output form only: the ``layers``
  form composes T from x and R, so it holds by construction);
- ``no_reflection``: on reflection-free samples (``batch["reflection_free"]``: input == target), L1 of
  the output against the input plus the mean predicted reflection: nothing to remove, nothing changed
  (``lambda_no_reflection``; the do-no-harm term);
- ``face_region``: pixel and gradient L1 inside the known face boxes (``lambda_face_region``);
- ``face_no_worse``: a face box's error above the input's, relative to the input's: the face never comes
  out worse than through the glass, however faint the reflection (``lambda_face_no_worse``);
- ``no_worse``: the same over the whole crop, paired samples (``lambda_no_worse``): no backdrop darkened
  past what the glass did to it (both per colour channel with ``no_worse_per_channel``: no colour cast
  the glass did not make);
- ``face_id``: identity of each known face box, torch port of dlib's recogniser (``lambda_face``);
- ``face_features``: L1 of that recogniser's stage activations at the same boxes, a perceptual loss
  from weights that ship offline (``lambda_face_features``; computed in the same pass as ``face_id``);
- ``face_relative``: each face's identity loss after cleaning over the same through the glass, so that
  faces the glass barely touched count as much as the worst (``lambda_face_relative``; same pass);
- ``perceptual``: VGG-19 features from ``vgg_weights`` when given (``lambda_vgg``);
- ``adv`` / ``d``: LSGAN (``lambda_adv``).
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass
from typing import Any, ClassVar

import torch

from reflect import losses
from reflect.errors import ConfigError
from reflect.losses import application
from reflect.losses.adversarial import GanMode
from reflect.losses.layers import exclusion, gradient_l1, layer_reconstruction, no_reflection
from reflect.losses.perceptual import PerceptualLoss
from reflect.losses.removal import face_no_worse, no_worse
from reflect.nn import PatchDiscriminator, crop_to, init_weights, pad_to_multiple
from reflect.nn.unet import OUTPUT_FORMS, OutputForm, RemovalUNet
from reflect.registry import register
from reflect.variants.base import Variant, VariantConfig, params_of

log = logging.getLogger(__name__)


@dataclass
class RemoverConfig(VariantConfig):
    lr: float = 2e-4
    beta1: float = 0.9
    init: str = "none"  # PyTorch's defaults suit the norm-free U-Net; its output layer starts at zero
    ngf: int = 32
    n_bottleneck: int = 3
    n_refine: int = 0  # extra residual blocks per decoder scale (start as the identity: grow a trained model)
    n_context: int = 0  # extra residual blocks at 1/16 scale, after the bottleneck (the same: grow a model)
    predict_reflection: bool = True
    output: OutputForm = (
        "correction"  # correction: T = x + delta; layers: T = g * (x - R) + d (reflect.nn.unet)
    )
    ndf: int = 32
    n_layers_d: int = 3
    gan_mode: GanMode = "lsgan"
    lambda_sup: float = 1.0
    lambda_grad: float = 1.0
    lambda_excl: float = 0.05
    lambda_rec: float = 0.2
    lambda_adv: float = 0.01
    lambda_no_reflection: float = 0.0  # output == input and R == 0 on reflection-free samples
    lambda_face: float = 0.0
    lambda_face_region: float = 0.0  # extra L1 (pixels + gradients) inside the synthesiser's face boxes
    lambda_face_no_worse: float = 0.0  # the face box no worse than the input's (relative hinge)
    face_no_worse_eps: float = 0.02  # added to the input's face-box L1 (in [-1, 1] units) in that ratio
    lambda_no_worse: float = 0.0  # the whole crop no worse than the input (the same hinge)
    no_worse_eps: float = 0.02  # added to the input's whole-crop L1 in that ratio
    no_worse_per_channel: bool = False  # both hinges per colour channel (a colour cast is charged too)
    lambda_face_features: float = (
        0.0  # L1 of dlib's stage activations at the face boxes (needs lambda_face > 0)
    )
    lambda_face_relative: float = (
        0.0  # identity loss after / before cleaning, per face (needs lambda_face > 0)
    )
    face_relative_eps: float = 0.01  # added to the before-cleaning loss (1 - cos) of the ratio
    face_embedder: str = "dlib-torch"
    face_embedder_weights: str = ""
    face_max_faces: int = 2  # faces per batch for face_id (about 0.2 s each on a CPU, forward)
    face_probability: float = 1.0  # share of steps that compute face_id (the rest return 0)
    lambda_vgg: float = 0.0
    vgg_weights: str = ""  # a torchvision VGG-19 state dict; never downloaded


@register("remover")
class Remover(Variant):
    Config = RemoverConfig
    generator_modules = ("g",)
    domains: ClassVar[tuple[str, ...]] = ("B",)  # one direction: remove reflections
    reconstruction_losses: ClassVar[tuple[str, ...]] = ("supervised",)
    clean_key: ClassVar[str] = "t"  # the transmission layer, unclamped
    known_face_boxes: ClassVar[bool] = True  # face identity at the synthesiser's boxes

    def __init__(self, cfg: RemoverConfig) -> None:
        super().__init__(cfg)
        self.cfg: RemoverConfig = cfg
        if cfg.gan_mode not in losses.GAN_MODES:
            raise ConfigError(f"model.gan_mode: '{cfg.gan_mode}' is not one of {', '.join(losses.GAN_MODES)}")
        if cfg.lambda_face_features > 0 and (cfg.lambda_face <= 0 or cfg.face_embedder != "dlib-torch"):
            raise ConfigError(
                "model.lambda_face_features needs model.lambda_face > 0 and model.face_embedder 'dlib-torch' "
                f"(got lambda_face {cfg.lambda_face}, face_embedder '{cfg.face_embedder}')"
            )
        for weight, eps in (
            ("lambda_face_no_worse", "face_no_worse_eps"),
            ("lambda_no_worse", "no_worse_eps"),
        ):
            if getattr(cfg, weight) > 0 and getattr(cfg, eps) <= 0:
                raise ConfigError(f"model.{eps} must be > 0 with model.{weight} (got {getattr(cfg, eps)})")
        if cfg.lambda_face_relative > 0 and (cfg.lambda_face <= 0 or cfg.face_relative_eps <= 0):
            raise ConfigError(
                "model.lambda_face_relative needs model.lambda_face > 0 and model.face_relative_eps > 0 "
                f"(got lambda_face {cfg.lambda_face}, face_relative_eps {cfg.face_relative_eps})"
            )
        if cfg.output not in OUTPUT_FORMS:
            raise ConfigError(f"model.output: '{cfg.output}' is not one of {', '.join(OUTPUT_FORMS)}")
        if cfg.output == "layers" and not cfg.predict_reflection:
            raise ConfigError(
                "model.output 'layers' predicts the reflection: model.predict_reflection must be true"
            )
        if cfg.ngf % 4:
            raise ConfigError(
                f"model.ngf: {cfg.ngf} is not allowed: the remover needs a multiple of 4 (space-to-depth stem)"
            )
        self.g = RemovalUNet(
            cfg.in_channels,
            cfg.out_channels,
            ngf=cfg.ngf,
            n_bottleneck=cfg.n_bottleneck,
            n_refine=cfg.n_refine,
            n_context=cfg.n_context,
            predict_reflection=cfg.predict_reflection,
            output=cfg.output,
        )
        self.d = PatchDiscriminator(cfg.out_channels, ndf=cfg.ndf, n_layers=cfg.n_layers_d, norm="instance")
        init_weights(self.d, "normal", 0.02)
        if cfg.init != "none":
            init_weights(self.g, cfg.init, cfg.init_gain)
            self.g.zero_outputs()
        # frozen helper: a plain attribute, never in state_dict or param groups
        self.vgg: PerceptualLoss | None = None
        if cfg.lambda_vgg > 0:
            if cfg.vgg_weights:
                self.__dict__["vgg"] = PerceptualLoss(cfg.vgg_weights)  # not a child module
            else:
                log.info(
                    "perceptual loss off: model.vgg_weights names no VGG-19 weights file (none is downloaded)"
                )

    @classmethod
    def default_loss_weights(cls, cfg: RemoverConfig) -> dict[str, float]:
        w = {"supervised": cfg.lambda_sup, "gradient": cfg.lambda_grad, "adv": cfg.lambda_adv, "d": 1.0}
        if cfg.predict_reflection:
            w |= {"exclusion": cfg.lambda_excl}
            if cfg.output == "correction":
                w["reconstruction"] = cfg.lambda_rec
        if cfg.lambda_no_reflection > 0:
            w["no_reflection"] = cfg.lambda_no_reflection
        if cfg.lambda_face > 0:
            w["face_id"] = cfg.lambda_face
        if cfg.lambda_face_region > 0:
            w["face_region"] = cfg.lambda_face_region
        if cfg.lambda_face_no_worse > 0:
            w["face_no_worse"] = cfg.lambda_face_no_worse
        if cfg.lambda_no_worse > 0:
            w["no_worse"] = cfg.lambda_no_worse
        if cfg.lambda_face > 0 and cfg.lambda_face_features > 0:
            w["face_features"] = cfg.lambda_face_features
        if cfg.lambda_face > 0 and cfg.lambda_face_relative > 0:
            w["face_relative"] = cfg.lambda_face_relative
        if cfg.lambda_vgg > 0:
            w["perceptual"] = cfg.lambda_vgg
        return w

    def param_groups(self) -> dict[str, list[torch.nn.Parameter]]:
        return {"generator": params_of(self.g), "discriminator": params_of(self.d)}

    def layers(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """(T unclamped, R or None) for any H and W (padded to the stride and cropped back)."""
        h, w = x.shape[-2], x.shape[-1]
        t, r = self.g.layers(pad_to_multiple(x, self.g.stride))
        return crop_to(t, h, w), (crop_to(r, h, w) if r is not None else None)

    def generate(self, batch: dict[str, Any]) -> dict[str, torch.Tensor]:
        t, r = self.layers(batch["A"])  # T = G(x), unclamped so saturated pixels still get a gradient
        return {"t": t} if r is None else {"t": t, "r": r}

    def discriminator_losses(
        self, batch: dict[str, Any], outputs: dict[str, torch.Tensor]
    ) -> dict[str, torch.Tensor]:
        fake = outputs["t"].detach().clamp(-1, 1)
        return {"d": losses.d_loss(self.cfg.gan_mode, self.d(batch["B"]), self.d(fake))}

    def generator_losses(
        self, batch: dict[str, Any], outputs: dict[str, torch.Tensor]
    ) -> dict[str, torch.Tensor]:
        x = batch["A"]  # (B, 3, H, W) in [-1, 1], through the glass
        t, r = outputs["t"], outputs.get("r")
        target, has = application.paired(batch, x)
        out = {
            "gradient": gradient_l1(t, target, has),
            "adv": losses.g_loss(self.cfg.gan_mode, self.d(t.clamp(-1, 1))),
        }
        if r is not None:
            out["exclusion"] = exclusion(t, r)
            if self.cfg.output == "correction":
                out["reconstruction"] = layer_reconstruction(x, t, r)
        if self.cfg.lambda_no_reflection > 0:
            free = batch.get("reflection_free", torch.zeros(x.shape[0], dtype=torch.bool)).to(x.device)
            out["no_reflection"] = no_reflection(x, t, r, free)
        if self.cfg.lambda_face_no_worse > 0:
            out["face_no_worse"] = (
                face_no_worse(
                    t,
                    x,
                    target,
                    batch["faces_box"],
                    batch["faces_n"].to(x.device) * has.long(),
                    self.cfg.face_no_worse_eps,
                    self.cfg.no_worse_per_channel,
                )
                if "faces_box" in batch
                else losses.graph_zero(t)
            )
        if self.cfg.lambda_no_worse > 0:
            every = has.to(t.dtype).view(-1, 1, 1, 1).expand(-1, 1, *t.shape[-2:])
            out["no_worse"] = no_worse(
                t, x, target, every, self.cfg.no_worse_eps, self.cfg.no_worse_per_channel
            )
        if self.cfg.lambda_vgg > 0:
            out["perceptual"] = (
                self.vgg.to(t.device)(t, target, has) if self.vgg is not None else losses.graph_zero(t)
            )
        return out

    # ---- the application losses: the face region, and identity at the known face boxes -------
    def application_terms(self) -> application.Terms:
        """The contract's terms plus ``face_region`` and, with the identity at the boxes against the
        paired target, ``face_features`` and ``face_relative`` from the same pass."""
        c, face = self.cfg, self.face_id is not None
        return dataclasses.replace(
            super().application_terms(),
            face_region="face_region" if c.lambda_face_region > 0 else "",
            face_features=face and c.lambda_face_features > 0,
            face_relative=face and c.lambda_face_relative > 0,
            relative_eps=c.face_relative_eps,
            face_probability=c.face_probability,
        )

    def translate(self, x: torch.Tensor, target: str | None = None) -> torch.Tensor:
        """(B, 3, H, W) in [-1, 1] -> the same with reflections removed (any H and W)."""
        if target not in (None, "B"):
            raise ValueError(f"remover only removes reflections (target 'B'), not {target!r}")
        return self.layers(x)[0].clamp(-1.0, 1.0)

    def samples(self, batch: dict[str, Any]) -> dict[str, torch.Tensor]:
        with torch.no_grad():
            t, r = self.layers(batch["A"])
            out = {"input": batch["A"], "cleaned": t.clamp(-1, 1)}
            if "A_target" in batch:
                out["target"] = batch["A_target"]
            if r is not None:
                out["reflection"] = (r * 2 - 1).clamp(-1, 1)  # R >= 0 mostly: shown on a dark background
        return out
