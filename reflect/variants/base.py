"""The variant contract (DESIGN.md). A variant is a small ``nn.Module`` that

* declares its hyper-parameters in a nested ``Config`` dataclass (the paper's defaults),
* says which optimiser owns which parameters (:meth:`param_groups`),
* returns named, **unweighted** losses for the discriminator and generator phases,
* translates images with :meth:`translate` (pure, deterministic, any H and W, ONNX-exportable).

It never touches optimisers, AMP, devices or checkpoints: that is :mod:`reflect.train`'s job.

Batches are dicts. Two-domain variants read ``batch["A"]`` and ``batch["B"]``: (B, 3, H, W) in
[-1, 1]; A is "with reflections", B is "clean". Samples with a paired target carry
``batch["A_target"]`` and a boolean mask ``batch["has_target"]`` (B,).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, ClassVar

import torch
from torch import nn

from reflect.nn.pool import ImagePool


@dataclass
class VariantConfig:
    """Fields every variant has. Subclasses add theirs with the paper's defaults."""

    in_channels: int = 3
    out_channels: int = 3
    lr: float = 2e-4
    beta1: float = 0.5
    beta2: float = 0.999
    weight_decay: float = 0.0
    init: str = "normal"  # normal | xavier | kaiming | orthogonal | none
    init_gain: float = 0.02


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

    def __init__(self, cfg: VariantConfig) -> None:
        super().__init__()
        self.cfg = cfg

    # ---- contract -------------------------------------------------------------------------
    @classmethod
    def default_loss_weights(cls, cfg: Any) -> dict[str, float]:
        """Weights of every loss this variant returns, from its config (the paper's values)."""
        raise NotImplementedError

    def param_groups(self) -> dict[str, list[nn.Parameter]]:
        raise NotImplementedError

    def discriminator_losses(self, batch: dict[str, Any]) -> dict[str, torch.Tensor]:
        raise NotImplementedError

    def generator_losses(self, batch: dict[str, Any]) -> dict[str, torch.Tensor]:
        raise NotImplementedError

    def translate(self, x: torch.Tensor, target: str | None = None) -> torch.Tensor:
        raise NotImplementedError

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
