"""Checkpoint files: one file per save, written atomically, loaded without unpickling code.

A checkpoint is a ``torch.save``d dict of tensors and plain Python values only:
``format``, ``version``, ``variant``, ``config`` (the resolved experiment config as a dict),
``step``, ``model`` (state dict), ``ema`` (generator modules' EMA state or None),
``optimizers``, ``schedulers``, ``scalers``, ``training_state`` (image pools), ``rng``.

Loading uses ``torch.load(weights_only=True)``: a file that needs pickle code execution is
refused with a :class:`~reflect.errors.CheckpointError`.
"""

from __future__ import annotations

import io
import pickle
import re
import zipfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from reflect.errors import CheckpointError, ReflectError
from reflect.utils.atomic import atomic_write_bytes

if TYPE_CHECKING:
    from reflect.config import ExperimentConfig
    from reflect.variants.base import Variant

FORMAT = "reflect-checkpoint"
VERSION = 1
_STEP_RE = re.compile(r"step_(\d+)\.pt$")


def checkpoint_name(step: int) -> str:
    return f"step_{step:09d}.pt"


def save_checkpoint(path: str | Path, payload: dict[str, Any]) -> None:
    buf = io.BytesIO()
    torch.save({"format": FORMAT, "version": VERSION, **payload}, buf)
    atomic_write_bytes(path, buf.getvalue())


def list_checkpoints(run_dir: str | Path) -> list[Path]:
    """Checkpoints of a run, oldest first."""
    folder = Path(run_dir) / "checkpoints"
    if not folder.is_dir():
        return []
    found = [(int(m.group(1)), p) for p in folder.iterdir() if (m := _STEP_RE.search(p.name))]
    return [p for _, p in sorted(found)]


def resolve_checkpoint(path: str | Path) -> Path:
    """A checkpoint file, or a run folder (its newest checkpoint)."""
    p = Path(path)
    if p.is_dir():
        found = list_checkpoints(p)
        if not found:
            raise CheckpointError(f"run folder {p} holds no checkpoints (expected {p}/checkpoints/step_*.pt)")
        return found[-1]
    if not p.is_file():
        raise CheckpointError(f"checkpoint {p} does not exist")
    return p


_UNSAFE = re.compile(r"Unsupported global: GLOBAL (\S+)")


def _not_a_checkpoint(p: Path) -> str | None:
    """Why ``p`` is no torch checkpoint at all (read from its first bytes), or None when it may be one."""
    from reflect.utils.filetype import looks_like, model_kind

    kind = model_kind(p)
    if kind == "checkpoint":
        return None
    if kind == "onnx":
        return "it is an ONNX model (reflect export's output), which torch cannot resume or fine-tune"
    if kind == "generator":
        return "it is a generator file (.safetensors, generator weights only), not a training checkpoint"
    return f"it looks like {looks_like(p)}"


def load_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    p = resolve_checkpoint(path)
    if p.stat().st_size == 0:
        raise CheckpointError(f"checkpoint {p} is empty")
    if (why := _not_a_checkpoint(p)) is not None:
        raise CheckpointError(f"{p} is not a checkpoint: {why}")
    try:
        ckpt = torch.load(p, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as e:
        found = _UNSAFE.search(str(e))
        what = f"the Python object {found.group(1)}" if found else "Python objects beyond tensors"
        raise CheckpointError(
            f"checkpoint {p} was refused: it needs pickle code execution to load (it holds {what}), which "
            "could run arbitrary code; reflect never does it"
        ) from None
    except (RuntimeError, EOFError, zipfile.BadZipFile, OSError, ValueError) as e:
        raise CheckpointError(
            f"checkpoint {p} is corrupt or truncated ({str(e).splitlines()[0][:200]})"
        ) from None
    if not isinstance(ckpt, dict) or ckpt.get("format") != FORMAT:
        raise CheckpointError(f"{p} is not a reflect checkpoint (no '{FORMAT}' marker)")
    if ckpt.get("version", 0) > VERSION:
        raise CheckpointError(
            f"checkpoint {p} has format version {ckpt['version']}; this reflect reads <= {VERSION}"
        )
    ckpt["path"] = str(p)
    return ckpt


def first_non_finite(tensors: Iterable[tuple[str, torch.Tensor]]) -> str | None:
    """The name of the first floating-point tensor holding NaN or inf, or None when all are finite."""
    for name, t in tensors:
        if t.is_floating_point() and not bool(torch.isfinite(t).all()):
            return name
    return None


def generator_tensors(variant: Variant) -> Iterator[tuple[str, torch.Tensor]]:
    """``(module.tensor name, tensor)`` of every generator module's weights and buffers (what inference uses)."""
    for module in variant.generator_modules:
        for k, t in getattr(variant, module).state_dict().items():
            yield f"{module}.{k}", t


def refuse_non_finite(variant: Variant, what: str) -> None:
    """One :class:`CheckpointError` naming the first generator tensor that is not finite (a diverged run
    or a damaged file would write black images without a word)."""
    bad = first_non_finite(generator_tensors(variant))
    if bad is not None:
        raise CheckpointError(
            f"{what}: tensor {bad} holds non-finite values (NaN or inf): the training that made it "
            "diverged, or the file is damaged; use an earlier checkpoint"
        )


def state_dict_mismatch(e: BaseException) -> str:
    """The first layer named in a ``load_state_dict`` error (size mismatch, missing or unexpected key)."""
    lines = [ln.strip() for ln in str(e).splitlines() if ln.strip()]
    for ln in lines:
        if ln.startswith(("size mismatch for", "Missing key(s)", "Unexpected key(s)")):
            return ln[:300]
    return (lines[0] if lines else type(e).__name__)[:300]


def config_from_checkpoint(ckpt: dict[str, Any]) -> ExperimentConfig:
    from reflect.config import build_config

    try:
        return build_config(ckpt["config"])
    except ReflectError as e:
        raise CheckpointError(
            f"checkpoint {ckpt.get('path')} holds a config this reflect cannot read: {e}"
        ) from None


def load_checkpoint_variant(
    path: str | Path, *, use_ema: bool = True, device: str | torch.device = "cpu"
) -> tuple[Variant, ExperimentConfig, dict[str, Any]]:
    """Build the variant a training checkpoint was saved from, load its weights, put it in eval mode.

    With ``use_ema`` the EMA generator weights are used when the checkpoint has them. Returns the
    checkpoint dict too. Commands open models through :func:`reflect.loader.load_variant`, which
    also takes run folders and generator files.
    """
    from reflect import registry

    ckpt = load_checkpoint(path)
    cfg = config_from_checkpoint(ckpt)
    named = getattr(type(cfg.model), "variant_name", None)
    if named != ckpt.get("variant"):
        raise CheckpointError(
            f"checkpoint {ckpt['path']} was saved by variant '{ckpt.get('variant')}' but its config "
            f"names '{named}'; the file was altered or mixed up with another run's"
        )
    variant = registry.get(ckpt["variant"])(cfg.model)
    try:
        variant.load_state_dict(ckpt["model"])
        if use_ema and ckpt.get("ema"):
            for name, state in ckpt["ema"].items():
                getattr(variant, name).load_state_dict(state)
    except (RuntimeError, KeyError, AttributeError) as e:
        raise CheckpointError(
            f"checkpoint {ckpt['path']} does not match variant '{ckpt['variant']}' as its config builds it: "
            f"{state_dict_mismatch(e)}"
        ) from None
    refuse_non_finite(variant, f"checkpoint {ckpt['path']}")
    return variant.to(device).eval(), cfg, ckpt
