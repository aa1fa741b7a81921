"""The experiment config of an adaptation run, built from the base model's own config.

The ``model`` section is the ``adapt`` variant's (:class:`~reflect.variants.adapt.AdaptConfig`): the
base remover's architecture, the site's folders, the method and the adapter. The ``data`` section is
the base model's recipe when it was trained on synthetic pairs whose faces folder is here (the
``anchor`` pairs, its train split); else ``toy`` (unused: no anchor, one logged line says why).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from reflect.config import ExperimentConfig, build_config
from reflect.schema import apply_overrides

log = logging.getLogger(__name__)

REPO = Path(__file__).resolve().parents[2]


def _faces_here(folders: list[str]) -> list[str] | None:
    """The base recipe's face folders as absolute paths (as given, or relative to the checkout), or None."""
    out = []
    for f in folders:
        for cand in (Path(f).expanduser(), REPO / f):
            if cand.is_dir():
                out.append(str(cand.resolve()))
                break
        else:
            return None
    return out or None


def anchor_data(base: ExperimentConfig, size: int) -> tuple[dict[str, Any], str]:
    """The ``data`` section of the anchor pairs (or a ``toy`` placeholder) and why, in words."""
    d = base.data
    if d.kind != "synthetic":
        return {"kind": "toy"}, f"the base model was not trained on synthetic pairs (data.kind {d.kind})"
    faces = _faces_here(list(d.faces))
    if faces is None:
        return {"kind": "toy"}, f"the base recipe's faces ({', '.join(d.faces)}) are not on this machine"
    if size > int(d.synth.get("size", 256)):
        return {
            "kind": "toy"
        }, f"the site size {size} is larger than the base recipe's renders ({d.synth.get('size')})"
    return {
        "kind": "synthetic",
        "faces": faces,
        "faces_split": "train",
        "synth": dict(d.synth),
        "nir_fraction": d.nir_fraction,
    }, f"synthetic pairs of the base recipe (train split of {', '.join(faces)})"


def adapt_config(
    base: ExperimentConfig,
    base_path: str,
    run: Path,
    *,
    site: str,
    clean: str = "",
    method: str = "none",
    full: bool = False,
    steps: int = 1000,
    size: int = 160,
    batch_size: int = 4,
    num_workers: int = 2,
    anchor_fraction: float = 0.25,
    match_colour: bool = False,
    clean_pairs: float = 0.0,
    pair_glass: str = "resynthesis",
    seed: int = 0,
    overrides: list[str] | None = None,
) -> ExperimentConfig:
    """The resolved config of a new adaptation run in ``run`` (see the module docstring)."""
    from reflect.errors import ConfigError

    m = base.model
    data, why = anchor_data(base, size)
    if method != "none" and not clean and data["kind"] != "synthetic":
        raise ConfigError(
            f"--method {method} needs clean images for its adversarial term: give --clean DIR (clean "
            f"crops or face photos), or use --method none ({why}, so there are no synthetic clean renders)"
        )
    if data["kind"] != "synthetic":
        if anchor_fraction > 0:
            log.info("anchor off: %s", why)
        anchor_fraction = 0.0
    else:
        log.info("anchor: %.0f %% of the samples are %s", 100 * anchor_fraction, why)
    raw: dict[str, Any] = {
        "name": run.name,
        "seed": seed,
        "out_dir": str(run.parent),
        "model": {
            "variant": "adapt",
            "ngf": m.ngf,
            "n_bottleneck": m.n_bottleneck,
            "n_refine": m.n_refine,
            "n_context": m.n_context,
            "output": m.output,
            "base": base_path,
            "site": str(Path(site).resolve()),
            "clean": str(Path(clean).resolve()) if clean else "",
            "method": method,
            "adapter": "full" if full else "lora",
            "lr": 5e-5 if full else 5e-4,
            "anchor_fraction": anchor_fraction,
            "lambda_colour": 1.0 if match_colour else 0.0,
            "clean_pair_fraction": clean_pairs,
            "clean_pair_glass": pair_glass,
        },
        "data": data
        | {"load_size": size, "crop_size": size, "batch_size": batch_size, "num_workers": num_workers},
        "train": {
            "steps": steps,
            "decay_steps": 0,
            "ema": 0.0,
            "log_every": 10,
            "sample_every": 0,
            "checkpoint_every": 50,
            "keep_checkpoints": 2,
            "tensorboard": False,
        },
    }
    return build_config(apply_overrides(raw, list(overrides or [])))
