"""One inference interface for every backend: ``Translator.translate(frames) -> frames``.

``frames`` is either a uint8 array of shape (N, H, W, 3) (RGB, what decoders give) or a float
tensor (N, 3, H, W) in [-1, 1]; the result has the same type, shape and layout. Implementations:
:class:`TorchTranslator` here, ONNX Runtime and TensorRT in their own modules, which import this
one; :func:`deploy.loader.load_translator` opens a model file with any of them. Pipelines only ever
see this interface and that function.
"""

from __future__ import annotations

import abc
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from reflect.utils.images import to_image, to_tensor

if TYPE_CHECKING:
    from reflect.variants.base import Variant

BACKENDS = ("torch", "onnxruntime", "tensorrt")


class Translator(abc.ABC):
    """Subclasses implement :meth:`run`: float (N, 3, H, W) in [-1, 1] -> same."""

    backend: str = "?"
    #: domain names of the model (two-domain: ("A", "B")) and the one it translates to
    domains: tuple[str, ...] = ("A", "B")
    target: str | None = None
    #: True when outputs are bit-identical for identical inputs (batch jobs rely on it)
    deterministic: bool = True

    @abc.abstractmethod
    def run(self, x: torch.Tensor) -> torch.Tensor: ...

    def translate(self, frames: np.ndarray | torch.Tensor) -> np.ndarray | torch.Tensor:
        if isinstance(frames, np.ndarray):
            if frames.dtype != np.uint8 or frames.ndim != 4 or frames.shape[-1] != 3:
                raise ValueError(
                    f"expected uint8 frames of shape (N, H, W, 3), got {frames.dtype} {frames.shape}"
                )
            return to_image(self.run(to_tensor(frames)))
        if not torch.is_tensor(frames) or frames.dim() != 4 or frames.shape[1] != 3:
            raise ValueError(
                f"expected a float tensor (N, 3, H, W), got {getattr(frames, 'shape', type(frames))}"
            )
        return self.run(frames)

    def describe(self) -> dict[str, Any]:
        return {"backend": self.backend, "domains": list(self.domains), "target": self.target}

    def model_input_size(self, height: int, width: int) -> tuple[int, int]:
        """The size the model itself runs at for a frame of ``height`` x ``width`` (memory budgets count
        it): the frame's own, unless a wrapper scales it (:class:`WorkSizeTranslator`)."""
        return height, width


class TorchTranslator(Translator):
    """Eager torch (optionally channels_last and/or ``torch.compile``)."""

    backend = "torch"

    def __init__(
        self,
        variant: Variant,
        *,
        target: str | None = None,
        device: str | torch.device = "cpu",
        channels_last: bool = False,
        compile: bool = False,
    ) -> None:
        self.device = torch.device(device)
        self.variant = variant.to(self.device).eval()
        self.domains = tuple(variant.domains)
        self.target = target
        self.channels_last = channels_last
        if channels_last:
            self.variant = self.variant.to(memory_format=torch.channels_last)
        module = self.variant.export_module(target)
        self._fn = torch.compile(module) if compile else module

    @torch.inference_mode()
    def run(self, x: torch.Tensor) -> torch.Tensor:
        src_device = x.device
        x = x.to(self.device)
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        return self._fn(x).to(src_device)


class WorkSizeTranslator(Translator):
    """Runs ``base`` at a working size (:mod:`reflect.work_size`): a frame larger than ``work_size`` on
    its longer side is scaled down (area average) to it, translated, and what the model changed there
    (its output less its input) is scaled back up (bilinear) and added to the full-size frame. Frames no
    larger go through ``base`` as they are. The same arithmetic as :func:`reflect.inference.at_work_size`
    (one image, banded for memory), here on a batch of float tensors, on any device."""

    def __init__(self, base: Translator, work_size: int) -> None:
        self.base, self.work_size = base, int(work_size)
        self.variant = getattr(base, "variant", None)  # a torch model: its memory per pixel is measured
        self.backend = base.backend
        self.domains, self.target, self.deterministic = base.domains, base.target, base.deterministic

    def run(self, x: torch.Tensor) -> torch.Tensor:
        import torch.nn.functional as F

        h, w = x.shape[-2:]
        hs, ws = self.model_input_size(h, w)
        if (hs, ws) == (h, w):
            return self.base.run(x)
        full = x.float()
        small = F.interpolate(full, size=(hs, ws), mode="area")
        delta = self.base.run(small).float().to(full.device) - small
        full = full + F.interpolate(delta, size=(h, w), mode="bilinear", align_corners=False)
        return full.clamp_(-1, 1)

    def model_input_size(self, height: int, width: int) -> tuple[int, int]:
        from reflect.work_size import work_shape

        return work_shape(*self.base.model_input_size(height, width), self.work_size)

    def describe(self) -> dict[str, Any]:
        return {**self.base.describe(), "work_size": self.work_size}


def with_work_size(base: Translator, work_size: int) -> Translator:
    """``base`` run at ``work_size`` px (:class:`WorkSizeTranslator`); 0: ``base`` itself."""
    return WorkSizeTranslator(base, work_size) if work_size > 0 else base
