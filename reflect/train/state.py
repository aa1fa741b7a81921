"""A training run's state: how a run starts (fresh, from a generator file's weights with
``train.init_from``, or resumed from its run folder) and what its checkpoints hold (the checkpoint
file itself, written and read without pickle code, is :mod:`reflect.checkpoint`)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from reflect.checkpoint import list_checkpoints, load_checkpoint
from reflect.config import ExperimentConfig, load_config
from reflect.errors import CheckpointError
from reflect.generator_file import load_weights, read_generator_metadata
from reflect.loader import identify
from reflect.train import rng

if TYPE_CHECKING:
    from reflect.variants.base import Variant


def resume_config(run_dir: str | Path, overrides: list[str] | None = None) -> ExperimentConfig:
    """The config saved in run folder ``run_dir``, with overrides (e.g. a longer ``train.steps``)."""
    run = Path(run_dir)
    if not (run / "config.yaml").is_file():
        raise CheckpointError(f"cannot resume: {run} is not a run folder (no config.yaml)")
    cfg = load_config(run / "config.yaml", overrides or [])
    cfg.out_dir, cfg.name = str(run.parent), run.name
    return cfg


def init_generators(variant: Variant, path: str | Path) -> None:
    """Start ``variant``'s generator modules from the weights of a generator file of the same variant
    and architecture (``train.init_from``: fine-tuning, e.g. the face model from the bundled one)."""
    ref = identify(path, "train.init_from")  # garbage or a missing file: one line saying what it is
    if ref.kind != "generator":
        raise CheckpointError(
            f"train.init_from: {ref.path} is {ref.a_label}; it takes a generator file (make one "
            f"with `reflect export --checkpoint {ref.run or ref.path} --format safetensors --out "
            "init.safetensors`)"
        )
    p = ref.path
    meta = read_generator_metadata(p)
    if meta.get("variant") != variant.name:
        raise CheckpointError(
            f"train.init_from: {p} holds a '{meta.get('variant')}' generator, not '{variant.name}'"
        )
    load_weights(variant, p, meta, grow=True)


def training_state(
    *,
    variant: Variant,
    cfg: dict[str, Any],
    step: int,
    ema: Any,
    optimizers: dict[str, Any],
    schedulers: dict[str, Any],
    scalers: dict[str, Any],
) -> dict[str, Any]:
    """Everything a resumed run needs to continue exactly (see the module docstring)."""
    return {
        "variant": variant.name,
        "config": cfg,
        "step": step,
        "model": variant.state_dict(),
        "ema": ema.state_dict() if ema is not None else None,
        "optimizers": {k: o.state_dict() for k, o in optimizers.items()},
        "schedulers": {k: s.state_dict() for k, s in schedulers.items()},
        "scalers": {k: s.state_dict() for k, s in scalers.items()},
        "training_state": variant.training_state(),
        "rng": rng.capture(),
    }


def restore_training_state(
    run_dir: str | Path,
    *,
    variant: Variant,
    ema: Any,
    optimizers: dict[str, Any],
    schedulers: dict[str, Any],
    scalers: dict[str, Any],
    device: torch.device,
) -> int:
    """Load the newest checkpoint of ``run_dir`` into these objects; returns its step."""
    found = list_checkpoints(run_dir)
    if not found:
        raise CheckpointError(f"cannot resume: {run_dir}/checkpoints holds no checkpoint")
    ckpt = load_checkpoint(found[-1], map_location=device)
    if ckpt["variant"] != variant.name:
        raise CheckpointError(
            f"checkpoint {found[-1]} was saved by variant '{ckpt['variant']}' but the config names '{variant.name}'"
        )
    try:
        variant.load_state_dict(ckpt["model"])
        for k, o in optimizers.items():
            o.load_state_dict(ckpt["optimizers"][k])
        for k, s in schedulers.items():
            s.load_state_dict(ckpt["schedulers"][k])
        for k, sc in scalers.items():
            sc.load_state_dict(ckpt["scalers"][k])
        if ema is not None and ckpt.get("ema"):
            ema.load_state_dict(ckpt["ema"])
    except (KeyError, RuntimeError, ValueError) as e:
        raise CheckpointError(f"checkpoint {found[-1]} does not match this run's model: {e}") from None
    variant.load_training_state(ckpt.get("training_state") or {})
    rng.restore(ckpt["rng"])
    return int(ckpt["step"])
