"""Open any model on any backend: the one factory of :class:`~deploy.translator.Translator` objects.

``clean``, ``stream``, ``bench`` and the benchmarks call :func:`load_translator`. The model is
identified by :func:`reflect.loader.identify` (a training checkpoint, run folder, generator file,
ONNX model or TensorRT engine, told apart by their bytes; anything else is one clear error), and
``backend="auto"`` runs it where it belongs: torch for the first three, onnxruntime for ONNX,
TensorRT for engines. With a ``workdir`` a torch model asked for on a runtime is exported there
first (with the usual parity check), and (``variant_names``) the name of a registered variant
stands for its paper-default config with random weights (``reflect bench``: enough to measure speed).

This module imports the backends; they import only the interface in :mod:`deploy.translator`, so
there is no import circle between the interface and its implementations.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from deploy.translator import BACKENDS, TorchTranslator, Translator
from reflect.errors import ConfigError
from reflect.loader import ModelRef, identify, load_variant
from reflect.variants.base import Variant

log = logging.getLogger("reflect")
NATIVE_BACKEND = {"checkpoint": "torch", "generator": "torch", "onnx": "onnxruntime", "engine": "tensorrt"}


def random_variant(name: str, **overrides: Any) -> Variant:
    """A registered variant with its paper defaults (plus ``overrides``) and random weights."""
    from reflect import registry

    cls = registry.get(name)
    return cls(cls.Config(**overrides)).eval()


def _variant_by_name(model: str | Path | None) -> Variant | None:
    """The random-weight variant ``model`` names, when it names one and no file or folder of that name exists."""
    from reflect import registry

    if model is None or Path(str(model)).exists():
        return None
    if str(model) not in registry.names():
        raise ConfigError(
            f"model {model} is neither a file or run folder nor a variant name "
            f"(variants: {', '.join(registry.names())})"
        )
    log.info("model: variant %s with its paper-default config and random weights", model)
    return random_variant(str(model))


def load_translator(
    model: str | Path | Variant | ModelRef | None = None,
    backend: str = "auto",
    *,
    target: str | None = None,
    device: str = "cpu",
    workdir: str | Path | None = None,
    use_ema: bool = True,
    variant_names: bool = False,
    threads: int = 0,
    channels_last: bool = False,
    compile: bool = False,
    **kwargs: Any,
) -> Translator:
    """A :class:`Translator` for ``model`` (None: the bundled generator file; a :class:`ModelRef`: a model
    its caller identified already) on ``backend``.

    ``channels_last``/``compile`` apply to torch, ``threads`` to onnxruntime (the other backends
    ignore them); other ``kwargs`` go to the backend's constructor. Without ``workdir``, a torch model
    asked for on a runtime is refused with the ``reflect export`` command that makes the file; with
    it, the model is exported there. With ``variant_names``, a registered variant's name (when no
    such file exists) is that variant with random weights.
    """
    variant: Variant | None
    ref: ModelRef | None
    if isinstance(
        model, ModelRef
    ):  # identified once, by the caller (reflect clean, before it writes anything)
        variant, ref = None, model
    else:
        variant = model if isinstance(model, Variant) else _variant_by_name(model) if variant_names else None
        ref = None if variant is not None else identify(str(model) if model is not None else None)
    native = "torch" if ref is None else NATIVE_BACKEND[ref.kind]
    backend = native if backend == "auto" else backend
    if backend not in BACKENDS:
        raise ConfigError(f"unknown backend '{backend}'; valid: auto, {', '.join(BACKENDS)}")
    if backend == "torch":
        if ref is not None and not ref.runs_on_torch:
            raise ConfigError(
                f"the torch backend needs a training checkpoint, run folder or generator file; {ref.path} "
                f"is {ref.a_label} (use --backend {native})"
            )
        if variant is None:
            variant, _ = load_variant(ref, use_ema=use_ema, device=device)
        return TorchTranslator(
            variant, target=target, device=device, channels_last=channels_last, compile=compile, **kwargs
        )
    if ref is not None and ref.kind == "engine" and backend == "onnxruntime":
        raise ConfigError(f"{ref.path} is a TensorRT engine; onnxruntime needs an ONNX model (.onnx)")
    exported = ref is not None and not ref.runs_on_torch
    onnx_path = (
        ref.path
        if exported and ref is not None
        else _export_for(backend, variant, ref, target, workdir, use_ema)
    )
    translator: Translator
    if backend == "onnxruntime":
        from deploy.ort import OrtTranslator

        translator = OrtTranslator(onnx_path, target=target, device=device, threads=threads, **kwargs)
    else:
        from deploy.tensorrt import TrtTranslator

        translator = TrtTranslator(
            onnx_path, target=target, device=device if device != "cpu" else "cuda", **kwargs
        )
    if exported and ref is not None:  # a torch model said its line when it was loaded for the export
        meta = getattr(translator, "metadata", None) or {}
        log.info(
            "model: %s", ref.describe(", ".join(f"{k} {meta[k]}" for k in ("variant", "step") if meta.get(k)))
        )
    return translator


def _export_for(
    backend: str,
    variant: Variant | None,
    ref: ModelRef | None,
    target: str | None,
    workdir: str | Path | None,
    use_ema: bool,
) -> Path:
    """The ONNX file a runtime needs, exported from a torch model into ``workdir`` (refused without one)."""
    from deploy.export import export_checkpoint, export_onnx

    if workdir is None:
        src = ref.run or ref.path if ref is not None else "MODEL"
        fmt, suffix = ("onnx", ".onnx") if backend == "onnxruntime" else ("tensorrt", ".engine")
        raise ConfigError(
            f"backend {backend} needs an exported model, not the {ref.label if ref else 'torch model'} "
            f"{src}; make one with `reflect export --checkpoint {src} --format {fmt} --out model{suffix}`"
        )
    onnx_path = Path(workdir) / "model.onnx"
    if variant is not None:
        export_onnx(variant, onnx_path, target=target)
    else:
        assert ref is not None
        export_checkpoint(ref.run or ref.path, onnx_path, target=target, use_ema=use_ema)
    return onnx_path
