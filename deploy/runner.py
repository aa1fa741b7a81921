"""Open any model reference on any backend (used by ``reflect bench`` and benchmarks).

A model reference is a reflect checkpoint or run folder, a generator file (``.safetensors``), an
``.onnx`` file, a TensorRT engine, or the name of a registered variant (its paper-default config with
random weights: enough to measure speed); ``None`` is the bundled generator file. A checkpoint,
generator file or variant asked for on onnxruntime/tensorrt is exported first, into ``workdir``, with
the usual parity check.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from torch import nn

from deploy.translator import BACKENDS, TorchTranslator, Translator
from reflect.errors import ConfigError
from reflect.variants.base import Variant

ONNX_SUFFIXES = (".onnx",)
ENGINE_SUFFIXES = (".engine", ".plan")


def random_variant(name: str, **overrides: Any) -> Variant:
    """A registered variant with its paper defaults (plus ``overrides``) and random weights."""
    from reflect import registry

    cls = registry.get(name)
    return cls(cls.Config(**overrides)).eval()


def _default_backend(path: Path) -> str:
    suffix = path.suffix.lower()
    return "onnxruntime" if suffix in ONNX_SUFFIXES else "tensorrt" if suffix in ENGINE_SUFFIXES else "torch"


def open_model(
    model: str | Path | nn.Module | None = None,
    backend: str = "auto",
    *,
    target: str | None = None,
    device: str = "cpu",
    workdir: str | Path = ".",
    threads: int = 0,
    channels_last: bool = False,
    compile: bool = False,
) -> Translator:
    """A :class:`Translator` for ``model`` on ``backend`` (``auto``: by file type)."""
    from reflect import registry
    from reflect.bundled import model_or_bundled

    if not isinstance(model, nn.Module):
        model = model_or_bundled(model)
    variant: nn.Module | None = model if isinstance(model, nn.Module) else None
    path = Path(str(model)) if variant is None else None
    if path is not None and not path.exists():
        if str(model) not in registry.names():
            raise ConfigError(
                f"model {model} is neither a file or run folder nor a variant name "
                f"(variants: {', '.join(registry.names())})"
            )
        variant = random_variant(str(model))
        path = None
    if backend == "auto":
        backend = "torch" if path is None else _default_backend(path)
    if backend not in BACKENDS:
        raise ConfigError(f"unknown backend '{backend}'; valid: auto, {', '.join(BACKENDS)}")
    kind = "variant" if path is None else _default_backend(path)
    if backend == "torch":
        if kind in ("onnxruntime", "tensorrt"):
            raise ConfigError(
                f"the torch backend needs a checkpoint, generator file (.safetensors) or variant name, not {path}"
            )
        if variant is None:
            from reflect.checkpoint import load_variant

            variant, _ = load_variant(path, device=device)  # type: ignore[arg-type]
        return TorchTranslator(
            variant, target=target, device=device, channels_last=channels_last, compile=compile
        )
    if kind == "tensorrt" and backend == "onnxruntime":
        raise ConfigError(f"{path} is a TensorRT engine; onnxruntime needs an .onnx file")
    onnx_path = path
    if kind in ("variant", "torch"):
        from deploy.export import export_checkpoint, export_onnx

        onnx_path = Path(workdir) / "model.onnx"
        if variant is not None:
            export_onnx(variant, onnx_path, target=target)
        else:
            export_checkpoint(path, onnx_path, target=target)  # type: ignore[arg-type]
    if backend == "onnxruntime":
        from deploy.ort import OrtTranslator

        return OrtTranslator(onnx_path, target=target, device=device, threads=threads)  # type: ignore[arg-type]
    from deploy.tensorrt import TrtTranslator

    return TrtTranslator(onnx_path, target=target, device=device if device != "cpu" else "cuda")  # type: ignore[arg-type]
