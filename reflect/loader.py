"""One loader for every model a command is given (``--model`` / ``--checkpoint``).

A model reference is one of

* a **training checkpoint** (``.pt``, what ``reflect train`` saves; loaded with ``weights_only=True``,
  :mod:`reflect.checkpoint`),
* a **run folder** (its newest checkpoint),
* a **generator file** (safetensors with the config as metadata, :mod:`reflect.generator_file`; the
  bundled models' format),
* an **ONNX model** (``reflect export --format onnx``) or a **TensorRT engine** (``.engine``/``.plan``),
  which only the runtimes open (:func:`deploy.loader.load_translator`).

:func:`identify` tells them apart by their first bytes, not their names, and refuses anything else
(an empty file, an image, a web page saved by a failed download, random bytes, a folder without
checkpoints) with one :class:`~reflect.errors.CheckpointError` line naming the path and what it looks
like. :func:`load_variant` builds the torch model of the first three kinds; whatever opens a model
logs one line saying which kind it got (:meth:`ModelRef.describe`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from reflect.errors import CheckpointError

if TYPE_CHECKING:
    import torch

    from reflect.config import ExperimentConfig
    from reflect.variants.base import Variant

log = logging.getLogger("reflect")

Kind = Literal["checkpoint", "generator", "onnx", "engine"]
TORCH_KINDS = ("checkpoint", "generator")
ENGINE_SUFFIXES = (".engine", ".plan")
EXPECTED = (
    "expected a training checkpoint (.pt), a run folder, a generator file (.safetensors) or an ONNX "
    "model (.onnx)"
)
_LABELS = {
    "checkpoint": "training checkpoint",
    "generator": "generator file",
    "onnx": "ONNX model",
    "engine": "TensorRT engine",
}


@dataclass(frozen=True)
class ModelRef:
    """A model reference, identified: the file to open and its kind."""

    path: Path  # the file (a run folder: its newest checkpoint)
    kind: Kind
    run: Path | None = None  # the run folder, when one was given
    bundled: bool = False  # the generator file shipped with reflect (no model was given)

    @property
    def label(self) -> str:
        """What it is, in words: "training checkpoint", "ONNX model"..."""
        return _LABELS[self.kind]

    @property
    def a_label(self) -> str:
        """The label with its article: "a training checkpoint", "an ONNX model"."""
        return ("an " if self.label[0] in "AEIOU" else "a ") + self.label

    @property
    def runs_on_torch(self) -> bool:
        return self.kind in TORCH_KINDS

    def describe(self, details: str = "") -> str:
        """One line: ``training checkpoint runs/x/checkpoints/step_000000020.pt (newest in run folder runs/x; ...)``."""
        notes = [f"newest in run folder {self.run}"] if self.run is not None else []
        notes += ["the bundled model"] if self.bundled else []
        notes += [details] if details else []
        return f"{self.label} {self.path}" + (f" ({'; '.join(notes)})" if notes else "")


def identify(model: str | Path | None, option: str = "--model") -> ModelRef:
    """What ``model`` is (None: the bundled generator file); anything that is no model is a CheckpointError."""
    from reflect.bundled import bundled_model_path, model_or_bundled
    from reflect.checkpoint import list_checkpoints
    from reflect.utils.filetype import looks_like, model_kind

    p = Path(model_or_bundled(model, option))
    bundled = model is None or str(model) == ""
    run = None
    if p.is_dir():
        found = list_checkpoints(p)
        if not found:
            raise CheckpointError(
                f"{p} is a folder without checkpoints, not a run folder (no {p.name}/checkpoints/"
                f"step_*.pt); {EXPECTED}"
            )
        run, p = p, found[-1]
    elif not p.exists():
        raise CheckpointError(f"model {p} does not exist; {EXPECTED}")
    elif not p.is_file():
        raise CheckpointError(f"model {p} is not a regular file; {EXPECTED}")
    try:
        if p.stat().st_size == 0:
            raise CheckpointError(f"model file {p} is empty (0 bytes); {EXPECTED}")
        kind = model_kind(p)
        if kind is None and p.suffix.lower() in ENGINE_SUFFIXES:
            kind = "engine"  # serialised engines have no stable header across TensorRT versions
        if kind is None:
            raise CheckpointError(f"{p} is not a model file: it looks like {looks_like(p)}; {EXPECTED}")
    except OSError as e:
        raise CheckpointError(f"cannot read model file {p} ({e.strerror or e})") from None
    return ModelRef(p, kind, run, bundled and p == bundled_model_path())  # type: ignore[arg-type]


def require_torch(ref: ModelRef, what: str = "this command") -> None:
    """Refuse an ONNX model or TensorRT engine where a torch model is needed, saying what to give instead."""
    if not ref.runs_on_torch:
        raise CheckpointError(
            f"{ref.path} is {ref.a_label}; {what} needs a torch model: the training checkpoint, run folder or "
            "generator file it was exported from (ONNX models and engines run in reflect clean, stream and bench)"
        )


def load_variant(
    model: str | Path | ModelRef | None,
    *,
    use_ema: bool = True,
    device: str | torch.device = "cpu",
    option: str = "--model",
) -> tuple[Variant, ExperimentConfig]:
    """The torch model of a checkpoint, run folder or generator file (None: the bundled one), in eval mode.

    With ``use_ema`` a checkpoint's EMA generator weights are used when it has them (a generator file
    holds one set). Logs one line naming what was loaded.
    """
    from reflect.checkpoint import load_checkpoint_variant
    from reflect.generator_file import load_generator, read_generator_metadata

    ref = model if isinstance(model, ModelRef) else identify(model, option)
    require_torch(ref)
    if ref.kind == "generator":
        variant, cfg = load_generator(ref.path, device=device)
        meta = read_generator_metadata(ref.path)
        step = meta.get("step", "")
        details = (
            f"variant {variant.name}{f', step {step}' if step else ''}, EMA weights {meta.get('ema', '?')}"
        )
    else:
        variant, cfg, ckpt = load_checkpoint_variant(ref.path, use_ema=use_ema, device=device)
        ema = bool(use_ema and ckpt.get("ema"))
        details = f"variant {variant.name}, step {ckpt.get('step', '?')}, {'EMA' if ema else 'raw'} generator weights"
    log.info("model: %s", ref.describe(details))
    return variant, cfg
