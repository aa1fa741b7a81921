"""What a model file says about itself, and generator files made from training checkpoints.

A model reference that torch can run is a reflect checkpoint (``.pt``), a run folder (its newest
checkpoint) or a generator file (``.safetensors``, :mod:`reflect.generator_file`); :mod:`reflect.loader`
tells them apart. :func:`describe_source`
reads where its weights came from (file, step, EMA or not) for the metadata of the artefacts made
from it; :func:`export_generator_file` writes the generator file that ``reflect export --format
safetensors`` makes.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

from reflect.errors import ConfigError

log = logging.getLogger(__name__)

#: metadata keys of a generator file that :func:`reflect.generator_file.save_generator` writes itself
RESERVED_KEYS = frozenset({"format", "version", "variant", "config"})


@dataclass(frozen=True)
class ModelSource:
    """Where a model's generator weights come from."""

    path: Path  # the file (a run folder's newest checkpoint)
    kind: str  # "checkpoint" | "generator"
    ema: bool  # the generator weights are the EMA ones
    checkpoint: str  # the training checkpoint's file name
    step: str  # its training step ("" when unknown)
    extra: dict[str, str] = field(default_factory=dict)  # generator files: their other metadata


def describe_source(model: str | Path, *, use_ema: bool = True) -> ModelSource:
    """Read (without building the model) what :func:`reflect.loader.load_variant` will load."""
    from reflect.generator_file import read_generator_metadata
    from reflect.loader import identify, require_torch

    ref = identify(model)
    require_torch(ref, "an export")
    if ref.kind == "generator":
        meta = read_generator_metadata(ref.path)
        extra = {k: v for k, v in meta.items() if k not in RESERVED_KEYS}
        ema = extra.get("ema") == "true"
        if ema and not use_ema:
            log.warning(
                "%s holds EMA weights only (a generator file keeps one set); --no-ema has no effect", model
            )
        path = ref.path
        return ModelSource(
            path, "generator", ema, extra.get("checkpoint", path.name), extra.get("step", ""), extra
        )
    from reflect.checkpoint import load_checkpoint

    ckpt = load_checkpoint(ref.path)
    path = Path(ckpt["path"])
    return ModelSource(
        path, "checkpoint", bool(use_ema and ckpt.get("ema")), path.name, str(ckpt.get("step", ""))
    )


def parse_meta(items: list[str] | None) -> dict[str, str]:
    """``["key=value", ...]`` (``--meta``) -> dict; reserved or malformed keys are a ConfigError."""
    out: dict[str, str] = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ConfigError(f"--meta '{item}' must be KEY=VALUE (e.g. --meta dataset=synth-v3)")
        if key in RESERVED_KEYS:
            raise ConfigError(
                f"--meta key '{key}' is reserved (reserved: {', '.join(sorted(RESERVED_KEYS))})"
            )
        out[key] = value
    return out


def export_generator_file(
    model: str | Path, out: str | Path, *, use_ema: bool = True, meta: dict[str, str] | None = None
) -> tuple[Path, dict[str, str]]:
    """Write ``model``'s generator (EMA weights when the checkpoint has them) as a generator file.

    Returns the path and the metadata written besides the config (``variant``, ``ema``,
    ``checkpoint``, ``step`` and ``meta``).
    """
    from reflect.generator_file import is_generator_file, save_generator
    from reflect.loader import load_variant

    out = Path(out)
    if not is_generator_file(out):
        raise ConfigError(f"--out {out} must end in .safetensors: a generator file is a safetensors file")
    bad = RESERVED_KEYS.intersection(meta or {})
    if bad:
        raise ConfigError(
            f"metadata key(s) {', '.join(sorted(bad))} are reserved for the generator file itself"
        )
    src = describe_source(model, use_ema=use_ema)
    variant, cfg = load_variant(model, use_ema=use_ema)
    info = {
        **src.extra,
        "ema": "true" if src.ema else "false",
        "checkpoint": src.checkpoint,
        "step": src.step,
        **(meta or {}),
    }
    path = save_generator(variant, cfg, out, **info)
    return path, {"variant": variant.name, **info}
