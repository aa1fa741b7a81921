"""What multi-domain variants (StarGAN, DRIT++/MDMM) share: named domains, target lookup, a
translator conditioned on a domain index, its ONNX export with a ``target_index`` input, samples.

Multi-domain batches (:mod:`reflect.data.multidomain`): ``batch["image"]`` (B, 3, H, W) in [-1, 1],
``batch["domain"]`` (B,) int64 indices into ``domains`` and ``batch["domain_mask"]`` (B, D) bool,
the domains each sample's dataset is labelled with (StarGAN's mask vector).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from reflect.errors import ConfigError
from reflect.variants.base import Variant, VariantConfig

#: the synthetic multi-domain layout's domains (``reflect synth --layout multidomain``)
SYNTH_DOMAINS = ("clean", "sky", "foliage", "glare", "false_colour", "nir")


class MultiDomainVariant(Variant):
    """A variant translating any image to any of ``cfg.domains``; ``translate(x)`` goes to
    ``cfg.default_target`` (``clean``: remove reflections). Subclasses implement
    :meth:`translate_index`."""

    def __init__(self, cfg: VariantConfig) -> None:
        super().__init__(cfg)
        domains = tuple(getattr(cfg, "domains", ()))
        if len(domains) < 2 or len(set(domains)) != len(domains):
            raise ConfigError(
                f"{self.name}: model.domains must name at least two distinct domains, got {list(domains)}"
            )
        self.domains = domains  # type: ignore[misc]  # per instance: the config names them
        self.default_target = str(getattr(cfg, "default_target", domains[0]))
        self.domain_index(self.default_target)

    def domain_index(self, target: str | None) -> int:
        name = self.default_target if target is None else target
        if name not in self.domains:
            raise ConfigError(f"unknown target domain '{name}'; valid: {', '.join(self.domains)}")
        return self.domains.index(name)

    def one_hot(self, index: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
        """(B,) int64 -> (B, D) one-hot rows, in ``like``'s dtype and device (ONNX: a Gather)."""
        return torch.eye(len(self.domains), device=like.device, dtype=like.dtype)[index]

    def random_targets(self, batch: dict[str, Any]) -> torch.Tensor:
        """A target domain per sample, uniform over the domains its dataset knows (all without a mask)."""
        x = batch["image"]
        mask = batch.get("domain_mask")
        if mask is None:
            mask = torch.ones(x.shape[0], len(self.domains), dtype=torch.bool, device=x.device)
        return torch.multinomial(mask.float(), 1).squeeze(1).to(x.device)

    def translate_index(self, x: torch.Tensor, target_index: torch.Tensor) -> torch.Tensor:
        """(B, C, H, W) in [-1, 1] and (B,) int64 domain indices -> (B, C, H, W) in [-1, 1]."""
        raise NotImplementedError

    def translate(self, x: torch.Tensor, target: str | None = None) -> torch.Tensor:
        """(B, C, H, W) in [-1, 1] -> the same images in domain ``target`` (default ``default_target``)."""
        index = torch.full((x.shape[0],), self.domain_index(target), dtype=torch.long, device=x.device)
        return self.translate_index(x, index)

    def export_module_multidomain(self) -> nn.Module:
        """``forward(x, target_index)`` for ONNX: one graph for every target (deploy/export.py)."""
        return _IndexTranslator(self)

    def clean_source(self, batch: dict[str, Any]) -> torch.Tensor:
        """Every image of a multi-domain batch is cleaned (translated to ``default_target``)."""
        return batch["image"]

    def samples(self, batch: dict[str, Any]) -> dict[str, torch.Tensor]:
        x = batch["image"][:4]
        with torch.no_grad():
            return {"real": x, **{f"to_{d}": self.translate(x, target=d) for d in self.domains}}


class _IndexTranslator(nn.Module):
    def __init__(self, variant: MultiDomainVariant) -> None:
        super().__init__()
        self.variant = variant

    def forward(self, x: torch.Tensor, target_index: torch.Tensor) -> torch.Tensor:
        return self.variant.translate_index(x, target_index)
