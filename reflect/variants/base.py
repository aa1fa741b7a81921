"""The variant contract (docs/ARCHITECTURE.md). A variant is a small ``nn.Module`` that

* declares its hyper-parameters in a nested ``Config`` dataclass (the paper's defaults),
* says which optimiser owns which parameters (:meth:`param_groups`),
* runs its generators once per training iteration (:meth:`generate`, the paper's forward pass)
  and returns named, **unweighted** losses for the generator and discriminator phases from those
  outputs (the discriminator phase sees them detached),
* translates images with :meth:`translate` (pure, deterministic, any H and W, ONNX-exportable).

It never touches optimisers, AMP, devices or checkpoints: that is :mod:`reflect.train`'s job.
The application's own losses (supervised L1 on paired samples, face identity) are the contract's,
not a variant's: they judge the variant's A -> clean output (:meth:`clean_output`) for every variant.

Batches are dicts. Two-domain variants read ``batch["A"]`` and ``batch["B"]``: (B, 3, H, W) in
[-1, 1]; A is "with reflections", B is "clean". Samples with a paired target carry
``batch["A_target"]`` and a boolean mask ``batch["has_target"]`` (B,).

One iteration, as the trainer runs it (the order of CycleGAN's reference ``optimize_parameters``)::

    outputs = variant.generate(batch)                       # each generator forward once, with grad
    variant.phase_losses("generator", batch, outputs)       # -> generator update
    detached = {k: v.detach() for k, v in outputs.items()}
    variant.phase_losses("discriminator", batch, detached)  # -> d_steps discriminator updates

A variant whose :meth:`generate` returns None (the older contract) still trains: each of its loss
methods then runs its own forward from the batch, discriminator phase first.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, ClassVar

import torch
from torch import nn

from reflect import losses
from reflect.nn.pool import ImagePool

Outputs = dict[str, torch.Tensor]


@dataclass
class VariantConfig:
    """Fields every variant has. Subclasses add theirs with the paper's defaults."""

    variant_name: ClassVar[str] = ""  # set by @register
    in_channels: int = 3
    out_channels: int = 3
    lr: float = 2e-4
    beta1: float = 0.5
    beta2: float = 0.999
    weight_decay: float = 0.0
    init: str = "normal"  # normal | xavier | kaiming | orthogonal | none
    init_gain: float = 0.02
    # ---- application losses, on the variant's A -> clean output (0 = off) ----
    lambda_sup: float = 0.0  # supervised L1 |clean(A) - target| on samples with a paired target
    lambda_face: float = 0.0  # face identity 1 - cos(E(clean(A)), E(A)) on faces found in A
    face_detector: str = "mtcnn"  # mtcnn | retinaface | dlib-hog | dlib-cnn
    face_embedder: str = "dlib-torch"  # dlib-torch | facenet (differentiable ones)
    face_min_size: float = 24.0  # faces smaller than this (pixels) are skipped
    face_detector_weights: str = ""  # retinaface .pth
    face_embedder_weights: str = ""  # facenet InceptionResnetV1 state dict


class Variant(nn.Module):
    Config: ClassVar[type[VariantConfig]] = VariantConfig
    name: ClassVar[str] = "base"
    #: domain names; two-domain variants translate A -> B by default
    domains: ClassVar[tuple[str, ...]] = ("A", "B")
    #: param groups stepped in the discriminator phase (all others in the generator phase)
    discriminator_groups: ClassVar[tuple[str, ...]] = ("discriminator",)
    #: names of submodules legitimately updated in both phases (NICE-GAN's shared encoder)
    shared_modules: ClassVar[tuple[str, ...]] = ()
    #: submodules that make up the deployable generator (EMA is kept for these)
    generator_modules: ClassVar[tuple[str, ...]] = ()
    #: generator losses that a few training steps must lower (the contract suite checks them)
    reconstruction_losses: ClassVar[tuple[str, ...]] = ()
    #: the key of :meth:`generate`'s outputs holding the A -> clean images
    clean_key: ClassVar[str] = "fake_b"
    #: face identity at the face boxes the batch carries (``faces_box``/``faces_n`` from the synthesiser,
    #: :class:`~reflect.losses.removal.BoxIdentityLoss`) instead of faces a detector finds
    known_face_boxes: ClassVar[bool] = False

    def __init__(self, cfg: VariantConfig) -> None:
        super().__init__()
        self.cfg = cfg
        # frozen face detector + embedder: a plain attribute, never in state_dict or param groups
        self.face_id: Any = self.make_face_loss(cfg) if cfg.lambda_face > 0 else None

    # ---- contract -------------------------------------------------------------------------
    @classmethod
    def default_loss_weights(cls, cfg: Any) -> dict[str, float]:
        """Weights of every loss this variant returns, from its config (the paper's values)."""
        raise NotImplementedError

    def param_groups(self) -> dict[str, list[nn.Parameter]]:
        raise NotImplementedError

    def generate(self, batch: dict[str, Any]) -> Outputs | None:
        """Every generator forward of one iteration, each computed once: name -> tensor, with grad.

        The trainer calls it in the generator phase (discriminator parameters frozen), passes the
        outputs to :meth:`generator_losses`, then their detached copies to
        :meth:`discriminator_losses`. None (the default) keeps the older two-forward contract.
        """
        return None

    # A variant with ``generate`` adds ``outputs: Outputs | None = None`` to both loss methods: the
    # outputs of this iteration's ``generate`` (detached for the discriminator); None when called
    # on a batch alone. The base signatures stay the older contract's, so older variants type-check.
    def discriminator_losses(self, batch: dict[str, Any]) -> dict[str, torch.Tensor]:
        raise NotImplementedError

    def generator_losses(self, batch: dict[str, Any]) -> dict[str, torch.Tensor]:
        raise NotImplementedError

    def translate(self, x: torch.Tensor, target: str | None = None) -> torch.Tensor:
        raise NotImplementedError

    # ---- what the trainer optimises -------------------------------------------------------
    @classmethod
    def loss_weights(cls, cfg: Any) -> dict[str, float]:
        """The variant's weights plus the application losses' (the trainer's and config's view)."""
        app = {"supervised": cfg.lambda_sup} if cfg.lambda_sup > 0 else {}
        if cfg.lambda_face > 0:
            app["face_id"] = cfg.lambda_face
        return app | cls.default_loss_weights(cfg)

    def phase_losses(self, phase: str, batch: dict[str, Any], outputs: Outputs | None = None) -> dict[str, torch.Tensor]:
        """Named, unweighted losses of ``phase`` ('generator' adds the application losses).

        Without ``outputs`` the generator phase runs :meth:`generate` here, and the discriminator
        phase leaves the (no-grad) forward to :meth:`discriminator_losses`.
        """
        if phase not in ("generator", "discriminator"):
            raise ValueError(f"phase must be 'generator' or 'discriminator', not {phase!r}")
        if phase == "generator" and outputs is None:
            outputs = self.generate(batch)
        fn: Any = self.generator_losses if phase == "generator" else self.discriminator_losses
        own = fn(batch) if outputs is None else fn(batch, outputs)  # outputs: see the loss methods
        return own if phase == "discriminator" else own | self.application_losses(batch, outputs)

    @property
    def one_forward(self) -> bool:
        """Whether this variant implements :meth:`generate` (the trainer then runs each forward once)."""
        return type(self).generate is not Variant.generate

    def generated(self, batch: dict[str, Any], outputs: Outputs | None) -> Outputs:
        """``outputs`` when given, else a fresh :meth:`generate` (for calls outside the trainer)."""
        if outputs is not None:
            return outputs
        out = self.generate(batch)
        if out is None:
            raise NotImplementedError(f"{type(self).__name__}.generate returned None")
        return out

    # ---- the application losses, shared by every variant ----------------------------------
    def clean_output(self, batch: dict[str, Any], outputs: Outputs | None = None) -> torch.Tensor:
        """The A -> clean images (B, 3, H, W) the application losses judge, with grad.

        ``outputs[clean_key]`` when :meth:`generate` made it; else one more forward (translate).
        """
        if outputs is not None and self.clean_key in outputs:
            return outputs[self.clean_key]
        return self.translate(self.clean_source(batch))

    @property
    def uses_clean_output(self) -> bool:
        """Whether the application losses are on (a :meth:`generate` whose usual outputs lack the
        clean images then adds them under :attr:`clean_key`, in the same forward where it can)."""
        return self.cfg.lambda_sup > 0 or self.face_id is not None

    def clean_source(self, batch: dict[str, Any]) -> torch.Tensor:
        """The images the clean output is made from (two-domain: A; multi-domain: every image)."""
        return batch["A"]

    def application_losses(self, batch: dict[str, Any], outputs: Outputs | None = None) -> dict[str, torch.Tensor]:
        """``supervised`` (L1 to the paired target, paired samples only) and ``face_id`` (identity
        of the faces found in A, kept in the clean output), each only when its lambda is > 0."""
        if not self.uses_clean_output:
            return {}
        clean = self.clean_output(batch, outputs)
        out: dict[str, torch.Tensor] = {}
        if self.cfg.lambda_sup > 0:
            if "A_target" in batch:
                out["supervised"] = losses.masked_l1(clean, batch["A_target"], batch["has_target"])
            else:
                out["supervised"] = clean.sum() * 0.0
        if self.face_id is not None:
            out["face_id"] = self.face_id(clean, self.clean_source(batch))  # faces found in A, same landmarks on clean
        return out

    def make_face_loss(self, cfg: VariantConfig) -> Any:
        """The frozen face-identity loss: ``loss(clean, real_a)`` (:class:`~reflect.losses.FaceIdentityLoss`),
        or with :attr:`known_face_boxes` ``loss(clean, reference, boxes, counts)`` (no detector)."""
        from reflect.errors import ConfigError
        from reflect.faces.detectors import DETECTORS

        if self.known_face_boxes:
            from reflect.losses.removal import BoxIdentityLoss

            return BoxIdentityLoss(cfg.face_embedder, cfg.face_embedder_weights or None,
                                   max_faces=int(getattr(cfg, "face_max_faces", 2)))

        if cfg.face_detector not in DETECTORS:
            raise ConfigError(f"face_detector {cfg.face_detector!r} is not one of {', '.join(DETECTORS)}")
        if cfg.face_embedder not in ("dlib-torch", "facenet"):
            raise ConfigError(f"face_embedder {cfg.face_embedder!r} must be differentiable: dlib-torch or facenet")
        return losses.FaceIdentityLoss(
            cfg.face_detector, cfg.face_embedder, cfg.face_min_size,
            detector_weights=cfg.face_detector_weights or None, embedder_weights=cfg.face_embedder_weights or None,
        )

    # ---- helpers with sensible defaults ---------------------------------------------------
    def optimizer_settings(self, group: str) -> dict[str, Any]:
        """Adam hyper-parameters for one param group (override for per-group settings)."""
        c = self.cfg
        return {"lr": c.lr, "betas": (c.beta1, c.beta2), "weight_decay": c.weight_decay}

    def samples(self, batch: dict[str, Any]) -> dict[str, torch.Tensor]:
        """Images for the trainer's sample grid: name -> (B, 3, H, W) in [-1, 1]."""
        with torch.no_grad():
            out = {"real_A": batch["A"], "fake_B": self.translate(batch["A"])}
            if "B" in batch and len(self.domains) == 2:
                out["real_B"] = batch["B"]
                out["fake_A"] = self.translate(batch["B"], target=self.domains[0])
        return out

    def export_module(self, target: str | None = None) -> nn.Module:
        """An ``nn.Module`` whose ``forward(x)`` is ``translate(x, target)``, for ONNX export."""
        return _TranslateModule(self, target)

    def export_module_multidomain(self) -> nn.Module:
        """Multi-domain variants (more than two ``domains``): an ``nn.Module`` whose
        ``forward(x, target_index)`` translates each image to its target domain, exported as one ONNX
        graph with a ``target_index`` input (deploy/export.py). Two-domain variants have none."""
        raise NotImplementedError(f"{self.name} is not a multi-domain variant")

    # ---- training state that is not weights (image pools) ---------------------------------
    def _pools(self) -> dict[str, ImagePool]:
        return {k: v for k, v in vars(self).items() if isinstance(v, ImagePool)}

    def training_state(self) -> dict[str, Any]:
        return {k: p.state_dict() for k, p in self._pools().items()}

    def load_training_state(self, state: dict[str, Any]) -> None:
        device = next(self.parameters()).device
        for k, p in self._pools().items():
            if k in state:
                p.load_state_dict(state[k], device=device)

    def config_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self.cfg)


class _TranslateModule(nn.Module):
    def __init__(self, variant: Variant, target: str | None) -> None:
        super().__init__()
        self.variant = variant
        self.target = target

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.variant.translate(x, target=self.target)


def params_of(*modules: nn.Module) -> list[nn.Parameter]:
    return [p for m in modules for p in m.parameters()]
