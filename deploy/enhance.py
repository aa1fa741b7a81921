"""``--enhance-faces``: any :class:`~deploy.translator.Translator` followed by face enhancement
(:mod:`reflect.face_enhance`): the global model cleans the frame, then every face found in its
output is cleaned again by the face model from the original pixels and blended back."""

from __future__ import annotations

from typing import Any

import torch

from deploy.translator import Translator
from reflect.face_enhance import EnhanceStats, FaceEnhancer


class EnhancingTranslator(Translator):
    """Wraps ``base``; :attr:`stats` counts faces found, enhanced and too small over every call."""

    def __init__(self, base: Translator, enhancer: FaceEnhancer) -> None:
        self.base, self.enhancer = base, enhancer
        self.backend = f"{base.backend}+faces"
        self.domains, self.target, self.deterministic = base.domains, base.target, base.deterministic
        self.stats = EnhanceStats()

    def run(self, x: torch.Tensor) -> torch.Tensor:
        y = self.base.run(x).float().clamp(-1, 1)
        out, stats = self.enhancer.enhance(x.float().to(y.device), y)
        self.stats.add(stats)
        return out

    def describe(self) -> dict[str, Any]:
        return {**self.base.describe(), "backend": self.backend, "face_model": self.enhancer.source}

    def model_input_size(self, height: int, width: int) -> tuple[int, int]:
        return self.base.model_input_size(height, width)


def with_face_enhancement(
    base: Translator,
    face_model: str | None = None,
    detector: str = "mtcnn",
    device: str = "cpu",
    **kwargs: Any,
) -> EnhancingTranslator:
    """``base`` followed by the face model (default: the bundled one) with ``detector``."""
    return EnhancingTranslator(
        base, FaceEnhancer.load(face_model, detector=detector, device=device, **kwargs)
    )
