"""Typed experiment configuration.

Dataclasses are the schema. An experiment is a YAML file plus ``key=value`` overrides from the
command line (``model.ngf=32 train.steps=1000``). Every key is checked against the schema: an
unknown key or a value of the wrong type is a :class:`~reflect.errors.ConfigError` that names it.

The ``model`` section is validated against the ``Config`` dataclass of the variant named by
``model.variant`` (see :mod:`reflect.registry`), so each variant keeps its paper defaults in its
own file.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import re
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TypeVar

import yaml

from reflect.errors import ConfigError, did_you_mean

T = TypeVar("T")


@dataclass
class DataConfig:
    """Where training images come from and how they are augmented."""

    # unpaired: ROOT/trainA, trainB (CycleGAN layout); multidomain: ROOT/train/<domain>/;
    # toy: procedurally generated window-like images (tests, smoke runs; no files needed);
    # synthetic: windshield pairs rendered on the fly from the faces in ``faces`` (reflect.data.synthetic),
    # with real ROOT/trainB (clean) and ROOT/trainA (reflections) mixed in when ``root`` is given.
    kind: Literal["unpaired", "toy", "synthetic", "multidomain"] = "unpaired"
    root: str = ""
    load_size: int = 286  # resize the shorter side to this, then random-crop crop_size
    crop_size: int = 256
    flip: bool = True
    batch_size: int = 1
    num_workers: int = 2
    max_images: int = 0  # 0 = all; otherwise the first N files of each domain (sorted)
    # Optional synthetic pairs (ROOT/train/input, ROOT/train/target) mixed into domain A samples:
    # such samples carry a target and feed the supervised L1 term.
    paired_root: str = ""
    paired_fraction: float = 0.0
    # multidomain (and toy with a multi-domain variant): the domain set, in the model's order (default:
    # the model's domains); extra_roots: more datasets, each labelled with a subset (its domains.yaml)
    domains: list[str] = field(default_factory=list)
    extra_roots: list[str] = field(default_factory=list)
    # synthetic: folders of face photos for the cabin, which identities (train | test | all of the
    # fixed split in reflect.data.synth.split), the glass recipe (a SynthConfig mapping, see
    # configs/synth.yaml), the share of near-infrared samples and of real trainA crops.
    faces: list[str] = field(default_factory=list)
    faces_split: Literal["train", "test", "all"] = "train"
    synth: dict[str, Any] = field(default_factory=dict)
    nir_fraction: float = 0.0
    real_fraction: float = 0.0
    # synthetic: > 0 trains on the driver's face only, aligned to dlib's template in a chip of this
    # many pixels (the face-enhancement model, reflect.faces.enhance); crop_size is then unused.
    face_chip: int = 0
    # synthetic: also give each face's 5 landmarks (dlib's predictor on the clean render in the known box,
    # ``faces_lm``) so that the identity loss cuts the chips a recogniser sees: aligned to dlib's template
    face_landmarks: bool = False


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


# --------------------------------------------------------------------------------------------
# dict <-> dataclass


def _suggest(key: str, valid: list[str]) -> str:
    return f"{did_you_mean(key, valid, cutoff=0.6)}; valid keys: {', '.join(sorted(valid))}"


#: a decimal number as people write it (1e-4, .5, -3.0E+2); YAML 1.1 takes some of these for strings
_DECIMAL = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?")


def _coerce(value: Any, tp: Any, where: str) -> Any:
    """Check ``value`` against the annotation ``tp``; convert where lossless (int -> float)."""
    origin = typing.get_origin(tp)
    if tp is Any:
        return value
    if origin is typing.Literal:
        choices = typing.get_args(tp)
        if value not in choices or isinstance(value, bool) != any(isinstance(c, bool) for c in choices):
            raise ConfigError(f"{where}: {value!r} is not one of {', '.join(map(str, choices))}"
                              f"{did_you_mean(str(value), [str(c) for c in choices])}")
        return value
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(tp)
        if value is None and type(None) in args:
            return None
        errors = []
        for a in args:
            if a is type(None):
                continue
            try:
                return _coerce(value, a, where)
            except ConfigError as e:
                errors.append(str(e))
        raise ConfigError(errors[0] if errors else f"{where}: bad value {value!r}")
    if dataclasses.is_dataclass(tp) and isinstance(tp, type):
        if isinstance(value, tp):
            return value
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: expected a mapping, got {value!r}")
        return from_dict(tp, value, prefix=where)
    if origin is list or origin is tuple:
        if not isinstance(value, list | tuple):
            raise ConfigError(f"{where}: expected a list, got {value!r}")
        (item_tp, *_) = typing.get_args(tp) or (Any,)
        items = [_coerce(v, item_tp, f"{where}[{i}]") for i, v in enumerate(value)]
        return tuple(items) if origin is tuple else items
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: expected a mapping, got {value!r}")
        _, val_tp = typing.get_args(tp) or (Any, Any)
        return {str(k): _coerce(v, val_tp, f"{where}.{k}") for k, v in value.items()}
    if tp is float:
        if isinstance(value, str) and _DECIMAL.fullmatch(value.strip()):  # YAML 1.1 reads 1e-4 as a string
            value = float(value)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(f"{where}: expected a number, got {value!r}")
        if not math.isfinite(value):  # YAML's .inf and .nan
            raise ConfigError(f"{where}: {value!r} is not a finite number")
        return float(value)
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{where}: expected an integer, got {value!r}")
        return value
    if tp is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{where}: expected true or false, got {value!r}")
        return value
    if tp is str:
        if not isinstance(value, str):
            raise ConfigError(f"{where}: expected a string, got {value!r}")
        return value
    return value


def from_dict(cls: type[T], data: dict[str, Any], prefix: str = "") -> T:
    """Build dataclass ``cls`` from ``data``; unknown keys and wrong types raise ConfigError."""
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]  # type: ignore[arg-type]
    kwargs: dict[str, Any] = {}
    for key, value in data.items():
        where = f"{prefix}.{key}" if prefix else str(key)
        if key not in names:
            raise ConfigError(f"unknown config key '{where}'{_suggest(str(key), names)}")
        kwargs[key] = _coerce(value, hints[key], where)
    return cls(**kwargs)


def to_dict(obj: Any) -> Any:
    """Dataclass -> plain dict of YAML-safe values."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        out = {f.name: to_dict(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
        variant = getattr(type(obj), "variant_name", None)
        if variant is not None:
            out = {"variant": variant, **out}
        return out
    if isinstance(obj, dict):
        return {k: to_dict(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [to_dict(v) for v in obj]
    return obj


# --------------------------------------------------------------------------------------------
# overrides and loading


def parse_override(text: str) -> tuple[list[str], Any]:
    """``'model.ngf=32'`` -> (['model', 'ngf'], 32). Values are parsed as YAML scalars/lists."""
    if "=" not in text:
        raise ConfigError(f"override '{text}' must look like key=value (e.g. model.ngf=32)")
    key, raw = text.split("=", 1)
    key = key.strip()
    if not key or any(not part for part in key.split(".")):
        raise ConfigError(f"override '{text}' has an empty key")
    try:
        value = yaml.safe_load(raw) if raw.strip() else ""
    except yaml.YAMLError as e:
        raise ConfigError(f"override '{text}': cannot parse value: {e}") from None
    return key.split("."), value


def apply_overrides(data: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    for text in overrides:
        path, value = parse_override(text)
        node = data
        for part in path[:-1]:
            nxt = node.get(part)
            if nxt is None:
                nxt = node[part] = {}
            if not isinstance(nxt, dict):
                raise ConfigError(f"override '{text}': '{part}' is not a section")
            node = nxt
        node[path[-1]] = value
    return data


def build_config(data: dict[str, Any]) -> ExperimentConfig:
    """Validate a raw dict (from YAML + overrides) into an ExperimentConfig."""
    from reflect import registry  # local: registry imports variants, which import this module

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
    from reflect.config_checks import check_values  # local: it reads the dataclasses defined here

    check_values(cfg)
    _check_data(cfg.data)
    _check_domains(cfg, variant_cls.name)
    valid = sorted(variant_cls.loss_weights(cfg.model))
    for k in cfg.loss_weights:
        if k not in valid:
            raise ConfigError(f"unknown config key 'loss_weights.{k}'{_suggest(k, valid)}")
    return cfg


def _check_data(d: DataConfig) -> None:
    """The synthetic recipe of the data section, checked before anything is written."""
    if d.face_chip and not 32 <= d.face_chip <= 512:
        raise ConfigError(f"data.face_chip: {d.face_chip} must be 0 (off) or in [32, 512] pixels")
    if d.face_chip and (d.kind != "synthetic" or d.root):
        raise ConfigError("data.face_chip needs data.kind: synthetic without data.root (chips are cut from renders)")
    if d.face_landmarks and (d.kind != "synthetic" or d.face_chip):
        raise ConfigError("data.face_landmarks needs data.kind: synthetic without data.face_chip (chips are aligned already)")
    if d.kind == "synthetic":
        from reflect.data.synth.config import synth_config_from_dict  # local: it imports this module

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
        raise ConfigError(f"model.default_target '{target}' is not one of model.domains: {', '.join(model_domains)}")
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


def load_yaml(path: str | Path) -> dict[str, Any]:
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"config file {p} does not exist")
    try:
        data = yaml.safe_load(p.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as e:
        raise ConfigError(f"config file {p} is not valid YAML: {e}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"config file {p} is not a text file (YAML): give a .yaml config such as "
                          "configs/cyclegan.yaml") from None
    except OSError as e:
        raise ConfigError(f"cannot read config file {p} ({e.strerror or e})") from None
    if not isinstance(data, dict):
        raise ConfigError(f"config file {p} must hold a mapping at the top level")
    return data


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
