"""Value checks of an experiment config, run at load time before anything is written.

Types (and ``Literal`` choices, with a did-you-mean) are checked by :func:`reflect.schema.from_dict`;
this module checks what a type cannot say: numeric ranges, the device string, and the enumerated
model settings that are plain strings in shared dataclasses (``init``, the face models). Model
fields are checked by name, so a new variant's ``ngf`` or ``lambda_*`` is covered without a line here.
"""

from __future__ import annotations

import dataclasses
import math
import re
from typing import TYPE_CHECKING, Any

from reflect.errors import ConfigError, did_you_mean

if TYPE_CHECKING:
    from reflect.config import ExperimentConfig

INF = math.inf
Range = tuple[float, float, bool]  # low, high, high included

#: train and data settings: (lowest, highest, highest allowed); lowest is always allowed
SECTION_RANGES: dict[str, Range] = {
    "train.steps": (1, INF, True),
    "train.decay_steps": (0, INF, True),
    "train.d_steps": (1, INF, True),
    "train.grad_clip": (0, INF, True),
    "train.ema": (0, 1, False),
    "train.log_every": (1, INF, True),
    "train.sample_every": (0, INF, True),
    "train.checkpoint_every": (1, INF, True),
    "train.keep_checkpoints": (1, INF, True),
    "train.max_bad_steps": (1, INF, True),
    "data.load_size": (1, INF, True),
    "data.crop_size": (1, INF, True),
    "data.batch_size": (1, INF, True),
    "data.num_workers": (0, INF, True),
    "data.max_images": (0, INF, True),
    "data.paired_fraction": (0, 1, True),
    "data.nir_fraction": (0, 1, True),
    "data.real_fraction": (0, 1, True),
}
#: model settings by field name (any variant)
MODEL_RANGES: dict[str, Range] = {
    "lr": (0, INF, True),
    "beta1": (0, 1, False),
    "beta2": (0, 1, False),
    "weight_decay": (0, INF, True),
    "init_gain": (0, INF, True),
    "dropout": (0, 1, False),
    "face_probability": (0, 1, True),
    "face_min_size": (0, INF, True),
}
#: model integers that count channels, layers or pixels: at least 1 (every other model integer: at least 0)
POSITIVE_INTS = {
    "ngf",
    "ndf",
    "dim",
    "in_channels",
    "out_channels",
    "n_layers_d",
    "num_scales",
    "n_down",
    "n_shared",
    "img_size",
    "face_max_faces",
}
DEVICE = re.compile(r"^(auto|cpu|mps|cuda(:\d+)?)$")


def _enums() -> dict[str, tuple[str, ...]]:
    """String model fields whose values are names (shared dataclass fields, face models)."""
    from reflect.faces.detectors import DETECTORS
    from reflect.faces.embedders import EMBEDDERS
    from reflect.nn.init import INIT_KINDS

    return {"init": tuple(INIT_KINDS), "face_detector": tuple(DETECTORS), "face_embedder": tuple(EMBEDDERS)}


def _out_of_range(where: str, value: float, rng: Range) -> None:
    low, high, high_in = rng
    if low <= value < high or (high_in and value == high):
        return
    bound = f"at least {low:g}" if high == INF else f"in [{low:g}, {high:g}{']' if high_in else ')'}"
    raise ConfigError(f"{where}: {value!r} must be {bound}")


def check_values(cfg: ExperimentConfig) -> None:
    """Raise :class:`ConfigError` naming the first value out of its range or not among its choices."""
    for key, rng in SECTION_RANGES.items():
        section, name = key.split(".")
        _out_of_range(key, getattr(getattr(cfg, section), name), rng)
    if not cfg.name or cfg.name in (".", "..") or any(c in cfg.name for c in "/\\\0"):
        raise ConfigError(
            f"name: {cfg.name!r} must be a run name, not a path (the run folder is out_dir/name; "
            "put the folder in out_dir)"
        )
    if not DEVICE.match(cfg.train.device):
        hint = did_you_mean(cfg.train.device, ["auto", "cpu", "cuda", "cuda:0", "mps"])
        raise ConfigError(
            f"train.device: {cfg.train.device!r} is not one of auto, cpu, cuda, cuda:N, mps{hint}"
        )
    enums = _enums()
    for f in dataclasses.fields(cfg.model):
        value: Any = getattr(cfg.model, f.name)
        where = f"model.{f.name}"
        if isinstance(value, bool):
            continue
        # a variant may widen a shared field's choices (dunit: face_detector 'none' = global path only)
        choices = getattr(type(cfg.model), f"{f.name}_choices", None) or enums.get(f.name)
        if choices and isinstance(value, str) and value not in choices:
            raise ConfigError(
                f"{where}: {value!r} is not one of {', '.join(choices)}{did_you_mean(value, choices)}"
            )
        if isinstance(value, int):
            _out_of_range(where, value, (1 if f.name in POSITIVE_INTS else 0, INF, True))
        elif isinstance(value, float):
            found: Range | None = MODEL_RANGES.get(f.name) or (
                (0, INF, True) if f.name.startswith("lambda") else None
            )
            if found is not None:
                _out_of_range(where, value, found)
