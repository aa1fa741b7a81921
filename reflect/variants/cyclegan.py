"""CycleGAN (Zhu et al., ICCV 2017): two generators, two PatchGANs, cycle consistency.

Paper names -> code: G: A->B is ``g_ab``; F: B->A is ``g_ba``; D_Y (judges B) is ``d_b``;
D_X (judges A) is ``d_a``. A is "with reflections", B is "clean".

Defaults follow the paper and the reference code: ResNet-9 generator at 256 px (use
``n_blocks=6`` for 128 px), 70x70 PatchGAN, LSGAN, lambda_cyc = 10 per direction, identity
weight 0.5 * lambda_cyc, image pools of 50, Adam(2e-4, betas 0.5/0.999).

Added for this application: ``supervised`` -- an L1 term ``|G(A) - target|`` applied only to
samples that come with a paired target (synthetic pairs mixed with real unpaired footage).
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
    lambda_sup: float = 0.0  # supervised L1 on paired samples (0 = off)
    # face identity 1 - cos(E(G(A)), E(A)) on faces found in A (reflect.losses.identity; 0 = off)
    lambda_face: float = 0.0
    face_detector: str = "mtcnn"  # mtcnn | retinaface | dlib-hog | dlib-cnn
    face_embedder: str = "dlib-torch"  # dlib-torch | facenet (differentiable ones)
    face_min_size: float = 24.0  # faces smaller than this (pixels) are skipped
    face_detector_weights: str = ""  # retinaface .pth
    face_embedder_weights: str = ""  # facenet InceptionResnetV1 state dict


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
        # frozen face detector + embedder, a plain attribute: never in state_dict or param groups
        self.face_id = _face_identity_loss(cfg) if cfg.lambda_face > 0 else None

    # Specialisations (DiscoGAN) override these two.
    @staticmethod
    def make_generator(cfg: Any) -> torch.nn.Module:
        return ResnetGenerator(
            cfg.in_channels, cfg.out_channels, ngf=cfg.ngf, n_blocks=cfg.n_blocks,
            norm=cfg.norm, upsample=cfg.upsample, dropout=cfg.dropout, residual=cfg.residual,
        )

    @staticmethod
    def make_discriminator(cfg: Any) -> torch.nn.Module:
        return PatchDiscriminator(cfg.out_channels, ndf=cfg.ndf, n_layers=cfg.n_layers_d, norm=cfg.norm)

    # L1, as the paper; DiscoGAN uses the squared distance.
    cycle_distance = staticmethod(losses.l1)

    @classmethod
    def default_loss_weights(cls, cfg: CycleGANConfig) -> dict[str, float]:
        w = {
            "d_a": 1.0, "d_b": 1.0, "adv_ab": 1.0, "adv_ba": 1.0,
            "cycle_a": cfg.lambda_cyc, "cycle_b": cfg.lambda_cyc,
        }
        if cfg.lambda_idt > 0:
            w |= {"idt_a": cfg.lambda_idt * cfg.lambda_cyc, "idt_b": cfg.lambda_idt * cfg.lambda_cyc}
        if cfg.lambda_sup > 0:
            w["supervised"] = cfg.lambda_sup
        if cfg.lambda_face > 0:
            w["face_id"] = cfg.lambda_face
        return w

    def param_groups(self) -> dict[str, list[torch.nn.Parameter]]:
        return {"generator": params_of(self.g_ab, self.g_ba), "discriminator": params_of(self.d_a, self.d_b)}

    def discriminator_losses(self, batch: dict[str, Any]) -> dict[str, torch.Tensor]:
        real_a, real_b = batch["A"], batch["B"]
        with torch.no_grad():
            fake_b = self.pool_b.query(self.g_ab(real_a))  # G(A), from the history pool
            fake_a = self.pool_a.query(self.g_ba(real_b))  # F(B)
        mode = self.cfg.gan_mode
        return {
            "d_a": losses.d_loss(mode, self.d_a(real_a), self.d_a(fake_a)),
            "d_b": losses.d_loss(mode, self.d_b(real_b), self.d_b(fake_b)),
        }

    def generator_losses(self, batch: dict[str, Any]) -> dict[str, torch.Tensor]:
        real_a, real_b = batch["A"], batch["B"]
        fake_b = self.g_ab(real_a)  # G(A)
        fake_a = self.g_ba(real_b)  # F(B)
        mode = self.cfg.gan_mode
        out = {
            "adv_ab": losses.g_loss(mode, self.d_b(fake_b)),
            "adv_ba": losses.g_loss(mode, self.d_a(fake_a)),
            "cycle_a": self.cycle_distance(self.g_ba(fake_b), real_a),  # |F(G(A)) - A|
            "cycle_b": self.cycle_distance(self.g_ab(fake_a), real_b),  # |G(F(B)) - B|
        }
        if self.cfg.lambda_idt > 0:
            out["idt_a"] = losses.l1(self.g_ba(real_a), real_a)  # F should leave A images alone
            out["idt_b"] = losses.l1(self.g_ab(real_b), real_b)
        if self.cfg.lambda_sup > 0:
            if "A_target" in batch:
                out["supervised"] = losses.masked_l1(fake_b, batch["A_target"], batch["has_target"])
            else:
                out["supervised"] = fake_b.sum() * 0.0
        if self.face_id is not None:
            out["face_id"] = self.face_id(fake_b, real_a)  # faces found in A, same landmarks on G(A)
        return out

    def translate(self, x: torch.Tensor, target: str | None = None) -> torch.Tensor:
        """(B, C, H, W) in [-1, 1] -> same shape. ``target='A'`` runs F (B->A); default G (A->B)."""
        if target not in (None, "B", "A"):
            raise ValueError(f"cyclegan translates to 'A' or 'B', not {target!r}")
        g = self.g_ba if target == "A" else self.g_ab
        h, w = x.shape[-2], x.shape[-1]
        stride = int(g.stride)  # type: ignore[arg-type]
        return crop_to(g(pad_to_multiple(x, stride)), h, w)


def _face_identity_loss(cfg: CycleGANConfig) -> losses.FaceIdentityLoss:
    from reflect.errors import ConfigError
    from reflect.faces.detectors import DETECTORS

    if cfg.face_detector not in DETECTORS:
        raise ConfigError(f"face_detector {cfg.face_detector!r} is not one of {', '.join(DETECTORS)}")
    if cfg.face_embedder not in ("dlib-torch", "facenet"):
        raise ConfigError(f"face_embedder {cfg.face_embedder!r} must be differentiable: dlib-torch or facenet")
    return losses.FaceIdentityLoss(
        cfg.face_detector, cfg.face_embedder, cfg.face_min_size,
        detector_weights=cfg.face_detector_weights or None, embedder_weights=cfg.face_embedder_weights or None,
    )
