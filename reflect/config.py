"""Typed experiment configuration.

Dataclasses are the schema (read by :mod:`reflect.schema`). An experiment is a YAML file plus
``key=value`` overrides from the command line (``model.ngf=32 train.steps=1000``). Every key is
checked against the schema: an unknown key or a value of the wrong type is a
:class:`~reflect.errors.ConfigError` that names it; :mod:`reflect.config_checks` then checks ranges.

The ``model`` section is validated against the ``Config`` dataclass of the variant named by
``model.variant`` (found through :mod:`reflect.registry`), so each variant keeps its paper defaults
in its own file; the ``data`` section is :class:`reflect.data.config.DataConfig`.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from reflect import registry
from reflect.config_checks import check_values
from reflect.data.config import DataConfig
from reflect.data.synth.config import synth_config_from_dict
from reflect.errors import ConfigError
from reflect.schema import apply_overrides, from_dict, load_yaml, to_dict, unknown_key


@dataclass
class TrainConfig:
    """The trainer's settings; shared by every variant."""

    steps: int = 200_000
    decay_steps: int = 100_000  # lr constant, then linear decay to 0 over the last decay_steps
    d_steps: int = 1  # discriminator updates per generator update
    amp: Literal["none", "fp16", "bf16", "auto"] = "none"  # fp16: CUDA, with GradScaler
    grad_clip: float = 0.0  # max global grad norm per phase; 0 disables
    ema: float = 0.0  # EMA decay of the generator weights (e.g. 0.999); 0 disables
    device: str = "auto"  # auto | cpu | cuda | cuda:N
    log_every: int = 50
    sample_every: int = 1000
    checkpoint_every: int = 5000
    keep_checkpoints: int = 3
    max_bad_steps: int = 10  # stop after this many consecutive non-finite steps
    progress: bool = True
    tensorboard: bool = True
    deterministic: bool = False  # torch.use_deterministic_algorithms
    init_from: str = ""  # a generator file (reflect export --format safetensors) to start the generators from
    # learning-rate multipliers by parameter-name prefix, e.g. {"g.ctx": 10.0}: blocks just grown onto an
    # init_from file learn fast while the trained weights move slowly (reflect.train.setup.scaled_param_groups)
    lr_scale: dict[str, float] = field(default_factory=dict)
    # speed settings (benchmarks/train_step.py --levers measures each one)
    adam: str = "auto"  # auto | for-loop | foreach | fused (the optimiser's update implementation)
    channels_last: bool = False  # NHWC tensors and weights (slower on this project's CPU nets)
    compile: bool = False  # torch.compile each generator and discriminator
    threads: int = 0  # intra-op CPU threads; 0 keeps PyTorch's choice


@dataclass
class ExperimentConfig:
    name: str = "experiment"
    seed: int = 0
    out_dir: str = "runs"
    model: Any = None  # the variant's Config dataclass, chosen by model.variant
    data: DataConfig = field(default_factory=DataConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    loss_weights: dict[str, float] = field(default_factory=dict)  # overrides of the variant's

    @property
    def run_dir(self) -> Path:
        return Path(self.out_dir) / self.name


def build_config(data: dict[str, Any]) -> ExperimentConfig:
    """Validate a raw dict (from YAML + overrides) into an ExperimentConfig."""
    data = dict(data)
    model = data.pop("model", None)
    if not isinstance(model, dict) or "variant" not in model:
        raise ConfigError(
            f"config needs a 'model' section with 'variant' (one of: {', '.join(registry.names())})"
        )
    model = dict(model)
    variant_cls = registry.get(str(model.pop("variant")))
    cfg = from_dict(ExperimentConfig, data)
    cfg.model = from_dict(variant_cls.Config, model, prefix="model")
    check_values(cfg)
    _check_data(cfg.data)
    _check_domains(cfg, variant_cls.name)
    valid = sorted(variant_cls.loss_weights(cfg.model))
    for k in cfg.loss_weights:
        if k not in valid:
            raise unknown_key(f"loss_weights.{k}", k, valid)
    return cfg


def _check_data(d: DataConfig) -> None:
    """The synthetic recipe of the data section, checked before anything is written."""
    if d.face_chip and not 32 <= d.face_chip <= 512:
        raise ConfigError(f"data.face_chip: {d.face_chip} must be 0 (off) or in [32, 512] pixels")
    if d.face_chip and (d.kind != "synthetic" or d.root):
        raise ConfigError(
            "data.face_chip needs data.kind: synthetic without data.root (chips are cut from renders)"
        )
    if d.face_landmarks and (d.kind != "synthetic" or d.face_chip):
        raise ConfigError(
            "data.face_landmarks needs data.kind: synthetic without data.face_chip (chips are aligned already)"
        )
    if d.kind == "synthetic":
        try:
            synth_config_from_dict(dict(d.synth))
        except ConfigError as e:
            raise ConfigError(f"data.synth.{e}") from None


def _check_domains(cfg: ExperimentConfig, variant: str) -> None:
    """Multi-domain variants (a ``domains`` field) train on multi-domain data whose domain set is
    theirs, in their order (the data's labels are indices into it); two-domain ones do not."""
    model_domains = getattr(cfg.model, "domains", None)
    d = cfg.data
    if model_domains is None:
        if d.kind == "multidomain" or d.domains:
            raise ConfigError(
                f"variant '{variant}' translates between two domains; data.kind=multidomain and data.domains "
                "need a multi-domain variant (stargan, drit)"
            )
        return
    if len(model_domains) < 2 or len(set(model_domains)) != len(model_domains):
        raise ConfigError(f"model.domains must name at least two distinct domains, got {model_domains}")
    target = getattr(cfg.model, "default_target", None)
    if target is not None and target not in model_domains:
        raise ConfigError(
            f"model.default_target '{target}' is not one of model.domains: {', '.join(model_domains)}"
        )
    if d.kind not in ("multidomain", "toy"):
        raise ConfigError(
            f"variant '{variant}' is multi-domain: use data.kind=multidomain (ROOT/<split>/<domain>/ + "
            f"domains.yaml) or toy, not '{d.kind}'"
        )
    if not d.domains:
        d.domains = list(model_domains)
    elif list(d.domains) != list(model_domains):
        raise ConfigError(
            f"data.domains {d.domains} must equal model.domains {list(model_domains)} (same order: "
            "labels are indices into it); each dataset's domains.yaml may name a subset"
        )


def load_config(path: str | Path | None = None, overrides: list[str] | None = None) -> ExperimentConfig:
    data = load_yaml(path) if path is not None else {}
    return build_config(apply_overrides(data, list(overrides or [])))


def save_config(cfg: ExperimentConfig, path: str | Path) -> None:
    from reflect.utils.atomic import atomic_write_text

    atomic_write_text(path, yaml.safe_dump(to_dict(cfg), sort_keys=False))


def config_hash(cfg: ExperimentConfig) -> str:
    """A short, stable hash of the resolved config (for export metadata and caches)."""
    blob = json.dumps(to_dict(cfg), sort_keys=True).encode()
    return hashlib.sha256(blob).hexdigest()[:16]
