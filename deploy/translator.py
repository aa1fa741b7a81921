"""One inference interface for every backend: ``Translator.translate(frames) -> frames``.

``frames`` is either a uint8 array of shape (N, H, W, 3) (RGB, what decoders give) or a float
tensor (N, 3, H, W) in [-1, 1]; the result has the same type, shape and layout. Implementations:
:class:`TorchTranslator` here, ONNX Runtime and TensorRT in their own modules. Pipelines only ever
see this interface (and :func:`load_translator`).
"""

from __future__ import annotations

import abc
from pathlib import Path
from typing import Any

import numpy as np
import torch

from reflect.errors import ConfigError

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
            x = (
                torch.from_numpy(np.ascontiguousarray(frames))
                .permute(0, 3, 1, 2)
                .float()
                .div_(127.5)
                .sub_(1.0)
            )
            y = self.run(x)
            y = y.detach().float().clamp_(-1, 1).add_(1).mul_(127.5).round_()
            return y.to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()
        if not torch.is_tensor(frames) or frames.dim() != 4 or frames.shape[1] != 3:
            raise ValueError(
                f"expected a float tensor (N, 3, H, W), got {getattr(frames, 'shape', type(frames))}"
            )
        return self.run(frames)

    def describe(self) -> dict[str, Any]:
        return {"backend": self.backend, "domains": list(self.domains), "target": self.target}


class TorchTranslator(Translator):
    """Eager torch (optionally channels_last and/or ``torch.compile``)."""

    backend = "torch"

    def __init__(
        self,
        variant: torch.nn.Module,
        *,
        target: str | None = None,
        device: str | torch.device = "cpu",
        channels_last: bool = False,
        compile: bool = False,
    ) -> None:
        self.device = torch.device(device)
        self.variant = variant.to(self.device).eval()
        self.domains = tuple(getattr(variant, "domains", ("A", "B")))
        self.target = target
        self.channels_last = channels_last
        if channels_last:
            self.variant = self.variant.to(memory_format=torch.channels_last)
        module = self.variant.export_module(target)  # type: ignore[operator]
        self._fn = torch.compile(module) if compile else module

    @torch.inference_mode()
    def run(self, x: torch.Tensor) -> torch.Tensor:
        src_device = x.device
        x = x.to(self.device)
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        return self._fn(x).to(src_device)


def load_translator(
    model: str | Path | None = None,
    *,
    backend: str = "auto",
    target: str | None = None,
    device: str = "cpu",
    **kwargs: Any,
) -> Translator:
    """Open a model file with a backend (no model: the bundled generator file).

    ``auto`` picks by file type: a reflect checkpoint (``.pt`` or a run folder) or generator file
    (``.safetensors``) -> torch, ``.onnx`` -> onnxruntime, ``.engine``/``.plan`` -> tensorrt.
    """
    from reflect.bundled import model_or_bundled

    path = Path(model_or_bundled(model))
    if backend == "auto":
        suffix = path.suffix.lower()
        backend = {".onnx": "onnxruntime", ".engine": "tensorrt", ".plan": "tensorrt"}.get(suffix, "torch")
    if backend not in BACKENDS:
        raise ConfigError(f"unknown backend '{backend}'; valid: auto, {', '.join(BACKENDS)}")
    if backend == "torch":
        if path.suffix.lower() in (".onnx", ".engine", ".plan"):
            raise ConfigError(
                f"backend torch needs a reflect checkpoint, run folder or generator file (.safetensors), not {path}"
            )
        from reflect.checkpoint import load_variant

        variant, _ = load_variant(path, device=device)
        return TorchTranslator(variant, target=target, device=device, **kwargs)
    suffix = path.suffix.lower()
    wants = (".onnx",) if backend == "onnxruntime" else (".onnx", ".engine", ".plan")
    if suffix not in wants:
        raise ConfigError(
            f"backend {backend} needs a {' or '.join(wants)} file, not {path}; make one with "
            f"`reflect export --checkpoint {path} --format {'onnx' if backend == 'onnxruntime' else 'tensorrt'} "
            f"--out model{'.onnx' if backend == 'onnxruntime' else '.engine'}`"
        )
    if backend == "onnxruntime":
        from deploy.ort import OrtTranslator

        return OrtTranslator(path, target=target, device=device, **kwargs)
    from deploy.tensorrt import TrtTranslator  # type: ignore[import-not-found]

    return TrtTranslator(path, target=target, device=device, **kwargs)
