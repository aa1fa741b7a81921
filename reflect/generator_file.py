"""The generator-file format: the weights inference needs, with the config that builds them.

A *generator file* is a safetensors file holding only the weights ``translate`` needs (the
variant's ``generator_modules``, EMA weights where the run kept them), with the resolved
experiment config and the variant name as JSON metadata (``format: reflect-generator``,
``version``, ``variant``, ``config``, and what the writer adds: ``step``, ``ema``...). It loads
without pickle, is a few MB, and opens anywhere a checkpoint does (``reflect translate
--checkpoint``, ``reflect clean --model``, ``reflect export``...), through :mod:`reflect.loader`.
``reflect export --format safetensors`` (or :func:`save_generator`) makes one from a run; the
bundled models (:mod:`reflect.bundled`) are such files.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from reflect.errors import CheckpointError

if TYPE_CHECKING:
    from reflect.config import ExperimentConfig
    from reflect.variants.base import Variant

log = logging.getLogger("reflect")

FORMAT = "reflect-generator"
VERSION = 1


def is_generator_file(path: str | Path) -> bool:
    return Path(path).suffix.lower() == ".safetensors"


def save_generator(variant: Variant, cfg: ExperimentConfig, path: str | Path, **meta: str) -> Path:
    """Write ``variant``'s generator modules (as they are now) and ``cfg`` to a safetensors file, atomically."""
    from safetensors.torch import save as st_save

    from reflect.schema import to_dict
    from reflect.utils.atomic import atomic_write_bytes

    tensors: dict[str, torch.Tensor] = {}
    for name in variant.generator_modules:
        for k, v in getattr(variant, name).state_dict().items():
            tensors[f"{name}.{k}"] = v.detach().cpu().contiguous()
    metadata = {
        "format": FORMAT,
        "version": str(VERSION),
        "variant": variant.name,
        "config": json.dumps(to_dict(cfg), sort_keys=True),
        **meta,
    }
    atomic_write_bytes(path, st_save(tensors, metadata=metadata))
    return Path(path)


def read_generator_metadata(path: str | Path) -> dict[str, Any]:
    from safetensors import safe_open

    p = Path(path)
    if not p.is_file():
        raise CheckpointError(f"model file {p} does not exist")
    if p.stat().st_size == 0:
        raise CheckpointError(f"model file {p} is empty")
    try:
        with safe_open(str(p), framework="pt") as f:
            meta = dict(f.metadata() or {})
    except Exception as e:  # safetensors raises its own error types for a bad header
        raise CheckpointError(f"model file {p} is not a readable safetensors file ({str(e)[:200]})") from None
    if meta.get("format") != FORMAT:
        raise CheckpointError(f"{p} is a safetensors file but not a reflect generator (no '{FORMAT}' marker)")
    try:
        version = int(meta.get("version", "0"))
    except ValueError:
        raise CheckpointError(
            f"generator file {p} has an unreadable format version {meta.get('version')!r}"
        ) from None
    if version > VERSION:
        raise CheckpointError(
            f"generator file {p} has format version {meta['version']}; this reflect reads <= {VERSION}"
        )
    return meta


def load_generator(
    path: str | Path, *, device: str | torch.device = "cpu"
) -> tuple[Variant, ExperimentConfig]:
    """Build the variant named in a generator file and load its generator weights (eval mode)."""
    from reflect import registry
    from reflect.config import build_config
    from reflect.errors import ReflectError

    p = Path(path)
    meta = read_generator_metadata(p)
    try:
        cfg = build_config(json.loads(meta["config"]))
    except (KeyError, ValueError, ReflectError) as e:
        raise CheckpointError(f"generator file {p} holds a config this reflect cannot read: {e}") from None
    variant = registry.get(meta["variant"])(cfg.model)
    load_weights(variant, p, meta)
    return variant.to(device).eval(), cfg


def load_weights(variant: Variant, p: Path, meta: dict[str, Any], grow: bool = False) -> None:
    """Load every generator module from the file. With ``grow`` (fine-tuning), weights of modules
    that start as the identity (a module's ``growable`` prefixes, e.g. ``RemovalUNet``'s refinement
    blocks) may be absent from the file: they keep their identity start, one log line says so."""
    from safetensors.torch import load_file

    from reflect.checkpoint import first_non_finite, state_dict_mismatch

    tensors = load_file(str(p))
    bad = first_non_finite(
        (k, v) for k, v in tensors.items() if k.split(".", 1)[0] in variant.generator_modules
    )
    if bad is not None:
        raise CheckpointError(
            f"generator file {p}: tensor {bad} holds non-finite values (NaN or inf): the training "
            "that made it diverged, or the file is damaged; use an earlier checkpoint"
        )
    for name in variant.generator_modules:
        prefix = f"{name}."
        state = {k[len(prefix) :]: v for k, v in tensors.items() if k.startswith(prefix)}
        module = getattr(variant, name)
        growable: tuple[str, ...] = tuple(getattr(module, "growable", None) or ()) if grow else ()
        new: list[str] = []
        if growable:
            own = module.state_dict()  # absent growable tensors keep their identity start
            new = [k for k in own if k not in state and k.startswith(growable)]
            state |= {k: own[k] for k in new}
        try:
            module.load_state_dict(state)
        except RuntimeError as e:
            raise CheckpointError(
                f"generator file {p} does not match variant '{meta['variant']}' ({name}): {state_dict_mismatch(e)}"
            ) from None
        if new:
            log.info(
                "train.init_from: %s has no weights for %d new tensors of %s (%s...): they start as the identity",
                p,
                len(new),
                name,
                new[0],
            )
