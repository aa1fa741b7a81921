"""The bundled reflection remover and the generator-only file format it ships in.

A *generator file* is a safetensors file holding only the weights ``translate`` needs (the
variant's ``generator_modules``, EMA weights where the run kept them), with the resolved
experiment config and the variant name as JSON metadata. It loads without pickle, is a few MB, and
opens anywhere a checkpoint does (``reflect translate --checkpoint``, ``reflect clean --model``,
``reflect export``...). ``reflect export --format safetensors`` (or :func:`save_generator`) makes one
from a run.

The product ships one: :func:`bundled_model_path`, with ``MODEL_CARD.md`` beside it. Every job uses
it when no model is given.
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
BUNDLED_DIR = Path(__file__).resolve().parent
BUNDLED_NAME = "reflect-remover.safetensors"


def bundled_model_path() -> Path:
    """The generator file shipped inside the package (raises a clear error if it is missing)."""
    path = BUNDLED_DIR / BUNDLED_NAME
    if not path.is_file():
        raise CheckpointError(
            f"the bundled model {path} is missing from this installation; reinstall reflect, or give a "
            "model explicitly (--model / --checkpoint)"
        )
    return path


def model_or_bundled(model: str | Path | None, option: str = "--model") -> str:
    """``model`` unchanged (as a string) when given; otherwise the bundled generator file's path.

    Every command that opens a model, and the library entry points behind them
    (:func:`reflect.loader.identify`, which ``deploy.loader.load_translator`` uses), call this first, so they
    agree on the file and say once, in the log, which model they use. The bundled file's metadata is
    read (and checked) here: a missing or damaged bundled model is one clear
    :class:`~reflect.errors.CheckpointError` before any other work starts.
    """
    if model is not None and str(model) != "":
        return str(model)
    path = bundled_model_path()
    meta = read_generator_metadata(path)
    log.info("no %s given: using the bundled model %s (variant %s)", option, path, meta.get("variant", "?"))
    return str(path)


def is_generator_file(path: str | Path) -> bool:
    return Path(path).suffix.lower() == ".safetensors"


def save_generator(variant: Variant, cfg: ExperimentConfig, path: str | Path, **meta: str) -> Path:
    """Write ``variant``'s generator modules (as they are now) and ``cfg`` to a safetensors file, atomically."""
    from safetensors.torch import save as st_save

    from reflect.config import to_dict
    from reflect.utils.atomic import atomic_write_bytes

    tensors: dict[str, torch.Tensor] = {}
    for name in variant.generator_modules:
        for k, v in getattr(variant, name).state_dict().items():
            tensors[f"{name}.{k}"] = v.detach().cpu().contiguous()
    metadata = {"format": FORMAT, "version": str(VERSION), "variant": variant.name,
                "config": json.dumps(to_dict(cfg), sort_keys=True), **meta}
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
        raise CheckpointError(f"generator file {p} has an unreadable format version {meta.get('version')!r}") from None
    if version > VERSION:
        raise CheckpointError(f"generator file {p} has format version {meta['version']}; this reflect reads <= {VERSION}")
    return meta


def load_generator(path: str | Path, *, device: str | torch.device = "cpu") -> tuple[Variant, ExperimentConfig]:
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
    _load_weights(variant, p, meta)
    return variant.to(device).eval(), cfg


def init_generators(variant: Variant, path: str | Path) -> None:
    """Start ``variant``'s generator modules from the weights of a generator file of the same variant
    and architecture (``train.init_from``: fine-tuning, e.g. the face model from the bundled one)."""
    from reflect.loader import identify

    ref = identify(path, "train.init_from")  # garbage or a missing file: one line saying what it is
    if ref.kind != "generator":
        raise CheckpointError(f"train.init_from: {ref.path} is {ref.a_label}; it takes a generator file (make one "
                              f"with `reflect export --checkpoint {ref.run or ref.path} --format safetensors --out "
                              "init.safetensors`)")
    p = ref.path
    meta = read_generator_metadata(p)
    if meta.get("variant") != variant.name:
        raise CheckpointError(f"train.init_from: {p} holds a '{meta.get('variant')}' generator, not '{variant.name}'")
    _load_weights(variant, p, meta, grow=True)


def _load_weights(variant: Variant, p: Path, meta: dict[str, Any], grow: bool = False) -> None:
    """Load every generator module from the file. With ``grow`` (fine-tuning), weights of modules
    that start as the identity (a module's ``growable`` prefixes, e.g. ``RemovalUNet``'s refinement
    blocks) may be absent from the file: they keep their identity start, one log line says so."""
    from safetensors.torch import load_file

    from reflect.checkpoint import first_non_finite, state_dict_mismatch

    tensors = load_file(str(p))
    bad = first_non_finite((k, v) for k, v in tensors.items() if k.split(".", 1)[0] in variant.generator_modules)
    if bad is not None:
        raise CheckpointError(f"generator file {p}: tensor {bad} holds non-finite values (NaN or inf): the training "
                              "that made it diverged, or the file is damaged; use an earlier checkpoint")
    for name in variant.generator_modules:
        prefix = f"{name}."
        state = {k[len(prefix):]: v for k, v in tensors.items() if k.startswith(prefix)}
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
            log.info("train.init_from: %s has no weights for %d new tensors of %s (%s...): they start as the identity",
                     p, len(new), name, new[0])
