"""The variant contract (docs/ARCHITECTURE.md). A variant is a small ``nn.Module`` that

* declares its hyper-parameters in a nested ``Config`` dataclass (the paper's defaults),
* says which optimiser owns which parameters (:meth:`param_groups`),
* runs its generators once per training iteration (:meth:`generate`, the paper's forward pass)
  and returns named, **unweighted** losses for the generator and discriminator phases from those
  outputs (the discriminator phase sees them detached),
* translates images with :meth:`translate` (pure, deterministic, any H and W, ONNX-exportable).

It never touches optimisers, AMP, devices or checkpoints: that is :mod:`reflect.train`'s job.
The application's own losses (supervised L1 on paired samples, the face region, face identity) are
the contract's, not a variant's (:mod:`reflect.losses.application`): they judge the variant's A -> clean
output (:meth:`clean_output`) for every variant, which says only which terms it takes
(:meth:`application_terms`).

Batches are dicts. Two-domain variants read ``batch["A"]`` and ``batch["B"]``: (B, 3, H, W) in
[-1, 1]; A is "with reflections", B is "clean". Samples with a paired target carry
``batch["A_target"]`` and a boolean mask ``batch["has_target"]`` (B,).

One iteration, as the trainer runs it (the order of CycleGAN's reference ``optimize_parameters``)::

    outputs = variant.generate(batch)                       # each generator forward once, with grad
    variant.phase_losses("generator", batch, outputs)       # -> generator update
    detached = {k: v.detach() for k, v in outputs.items()}
    variant.phase_losses("discriminator", batch, detached)  # -> d_steps discriminator updates

The loss methods never run a generator: they read :meth:`generate`'s outputs.
"""

from __future__ import annotations

import abc
import dataclasses
from dataclasses import dataclass
from typing import Any, ClassVar, final

import torch
from torch import nn

from reflect.losses import application
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


class Variant(nn.Module, abc.ABC):
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
        self.face_id: Any = (
            application.make_identity_loss(cfg, self.known_face_boxes) if cfg.lambda_face > 0 else None
        )

    # ---- contract -------------------------------------------------------------------------
    @classmethod
    @abc.abstractmethod
    def default_loss_weights(cls, cfg: Any) -> dict[str, float]:
        """Weights of every loss this variant returns, from its config (the paper's values)."""

    @abc.abstractmethod
    def param_groups(self) -> dict[str, list[nn.Parameter]]:
        """Optimiser name -> the parameters it steps."""

    @abc.abstractmethod
    def generate(self, batch: dict[str, Any]) -> Outputs:
        """Every generator forward of one iteration, each computed once: name -> tensor, with grad.

        The trainer calls it in the generator phase (discriminator parameters frozen), passes the
        outputs to :meth:`generator_losses`, then their detached copies to
        :meth:`discriminator_losses`. With the application losses on (:attr:`uses_clean_output`)
        the outputs hold the A -> clean images under :attr:`clean_key`.
        """

    @abc.abstractmethod
    def discriminator_losses(self, batch: dict[str, Any], outputs: Outputs) -> dict[str, torch.Tensor]:
        """Named, unweighted losses of the discriminator phase, from :meth:`generate`'s detached outputs."""

    @abc.abstractmethod
    def generator_losses(self, batch: dict[str, Any], outputs: Outputs) -> dict[str, torch.Tensor]:
        """Named, unweighted losses of the variant's own objective, from :meth:`generate`'s outputs."""

    @abc.abstractmethod
    def translate(self, x: torch.Tensor, target: str | None = None) -> torch.Tensor:
        """(B, C, H, W) in [-1, 1] -> the same shape in domain ``target`` (default: the clean one)."""

    # ---- what the trainer optimises -------------------------------------------------------
    @classmethod
    def loss_weights(cls, cfg: Any) -> dict[str, float]:
        """The variant's weights plus the application losses' (the trainer's and config's view)."""
        app = {"supervised": cfg.lambda_sup} if cfg.lambda_sup > 0 else {}
        if cfg.lambda_face > 0:
            app["face_id"] = cfg.lambda_face
        return app | cls.default_loss_weights(cfg)

    def phase_losses(
        self, phase: str, batch: dict[str, Any], outputs: Outputs | None = None
    ) -> dict[str, torch.Tensor]:
        """Named, unweighted losses of ``phase`` ('generator' adds the application losses).

        ``outputs``: this iteration's :meth:`generate` (detached for the discriminator phase). None
        (a call outside the trainer) runs :meth:`generate` here, without grad for the discriminator.
        """
        if phase not in ("generator", "discriminator"):
            raise ValueError(f"phase must be 'generator' or 'discriminator', not {phase!r}")
        if phase == "discriminator":
            if outputs is None:
                with torch.no_grad():
                    outputs = self.generate(batch)
            return self.discriminator_losses(batch, outputs)
        if outputs is None:
            outputs = self.generate(batch)
        return self.generator_losses(batch, outputs) | self.application_losses(batch, outputs)

    # ---- the application losses, shared by every variant ----------------------------------
    def application_terms(self) -> application.Terms:
        """Which application losses this variant takes: ``supervised`` with ``lambda_sup`` > 0 and
        ``face_id`` with ``lambda_face`` > 0 (at detected faces, or at the batch's boxes with
        :attr:`known_face_boxes`). A variant with more face terms extends these; the losses stay
        :func:`reflect.losses.application.application_losses`."""
        face: application.Identity = ""
        if self.face_id is not None:
            face = "boxes" if self.known_face_boxes else "detected"
        return application.Terms(supervised=self.cfg.lambda_sup > 0, face_id=face)

    @property
    def uses_clean_output(self) -> bool:
        """Whether the application losses are on (:meth:`generate` then puts the A -> clean images
        under :attr:`clean_key`, in the same forward where it can)."""
        return self.application_terms().any

    def clean_output(self, batch: dict[str, Any], outputs: Outputs) -> torch.Tensor:
        """The A -> clean images (B, 3, H, W) the application losses judge: ``outputs[clean_key]``."""
        if self.clean_key not in outputs:
            raise KeyError(
                f"{type(self).__name__}.generate made no '{self.clean_key}' (the A -> clean images)"
            )
        return outputs[self.clean_key]

    def clean_source(self, batch: dict[str, Any]) -> torch.Tensor:
        """The images the clean output is made from (two-domain: A; multi-domain: every image)."""
        return batch["A"]

    @final  # a variant names its terms (application_terms), never computes them itself
    def application_losses(self, batch: dict[str, Any], outputs: Outputs) -> dict[str, torch.Tensor]:
        """The application losses :meth:`application_terms` names, on this iteration's clean output."""
        terms = self.application_terms()
        if not terms.any:
            return {}
        return application.application_losses(
            terms, self.clean_output(batch, outputs), batch, self.clean_source(batch), self.face_id
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
