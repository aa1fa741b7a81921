"""Device, precision, optimiser and speed settings of a training run (the trainer's set-up): the
process group and device, the param groups each phase steps, Adam, LR schedules, loss scalers.

Each speed setting is a ``train.*`` config key, measured one at a time by
``benchmarks/train_step.py --levers``: ``adam`` (PyTorch's for-loop, foreach or fused update),
``channels_last``, ``compile`` (``torch.compile`` of each generator and discriminator),
``threads`` (intra-op threads; 0 keeps PyTorch's choice) and ``amp``.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from contextlib import AbstractContextManager, nullcontext
from typing import Any

import torch
from torch import nn

from reflect.config import TrainConfig
from reflect.errors import ConfigError
from reflect.train import distributed as dist_utils

ADAM_IMPLS = ("auto", "for-loop", "foreach", "fused")


def process_group_and_device(name: str) -> tuple[dist_utils.DistInfo, torch.device]:
    """The data-parallel process group (joined under torchrun) and this rank's training device."""
    device = resolve_device(name)
    dist = dist_utils.setup(device.type)
    if device.type == "cuda" and dist.enabled:
        device = torch.device("cuda", dist.local_rank)
        torch.cuda.set_device(device)
    return dist, device


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    dev = torch.device(name)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"train.device={name} but no CUDA device is available (use cpu or auto)")
    return dev


def cpu_has_amx() -> bool:
    """Whether this CPU has AMX tiles (bf16 matrix units), as oneDNN sees them."""
    probe = getattr(torch.cpu, "_is_amx_tile_supported", None)
    return bool(probe()) if probe is not None else False


def amp_dtype(amp: str, device: torch.device) -> torch.dtype | None:
    if amp == "none":
        return None
    if amp == "auto":
        if device.type == "cuda":
            return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        # CPUs with AMX run bf16 convolutions 2-3x faster than fp32 (weights and optimiser stay fp32);
        # without AMX bf16 is emulated and slower, so those stay in fp32
        return torch.bfloat16 if device.type == "cpu" and cpu_has_amx() else None
    if amp == "fp16":
        if device.type != "cuda":
            raise ConfigError("train.amp=fp16 needs a CUDA device; use bf16 or none on the CPU")
        return torch.float16
    if amp == "bf16":
        return torch.bfloat16
    raise ConfigError(f"unknown train.amp '{amp}'; valid: none, fp16, bf16, auto")


def autocast(device: torch.device, dtype: torch.dtype | None) -> AbstractContextManager[Any]:
    return nullcontext() if dtype is None else torch.autocast(device.type, dtype=dtype)


def lr_factor(step: int, total: int, decay: int) -> float:
    """Constant, then linear decay over the last ``decay`` steps (CycleGAN's 'linear' policy)."""
    start = total - decay
    if decay <= 0 or step < start:
        return 1.0
    return max(0.0, 1.0 - (step - start + 1) / (decay + 1))


def phase_groups(groups: Collection[str], discriminator_groups: Iterable[str]) -> dict[str, list[str]]:
    """The param groups each phase steps: the discriminator groups, and all others (the generator's)."""
    d = set(discriminator_groups)
    return {"discriminator": [g for g in groups if g in d], "generator": [g for g in groups if g not in d]}


def lr_schedulers(optimizers: Mapping[str, torch.optim.Optimizer], train: TrainConfig) -> dict[str, Any]:
    """One :func:`lr_factor` schedule per optimiser (stepped once per training step)."""
    total, decay = train.steps, train.decay_steps
    return {
        name: torch.optim.lr_scheduler.LambdaLR(opt, lambda s: lr_factor(s, total, decay))
        for name, opt in optimizers.items()
    }


def grad_scalers(
    phases: Iterable[str], device: torch.device, dtype: torch.dtype | None
) -> dict[str, torch.amp.GradScaler]:
    """One loss scaler per phase, enabled only for fp16 autocast."""
    return {ph: torch.amp.GradScaler(device.type, enabled=dtype == torch.float16) for ph in phases}


def scaled_param_groups(
    model: nn.Module, params: list[nn.Parameter], lr_scale: Mapping[str, float], lr: float
) -> list[dict[str, Any]]:
    """``params`` split into torch param groups by ``train.lr_scale``: each parameter whose name (in
    ``model.named_parameters()``) is a prefix or lies under it (``g.ctx`` takes ``g.ctx.0.c1.weight``)
    gets ``lr * scale``; the longest matching prefix wins; the rest keep ``lr`` (the first group,
    whose rate the trainer logs). A run without ``lr_scale`` has exactly one group, as before. A prefix that names
    no parameter of the model is a :class:`ConfigError` (a typo would otherwise train at the base
    rate without a word)."""
    names = {id(p): n for n, p in model.named_parameters()}
    for prefix, scale in lr_scale.items():
        where = f"train.lr_scale.{prefix}"
        if not isinstance(scale, int | float) or isinstance(scale, bool) or not scale > 0:
            raise ConfigError(f"{where}: {scale!r} must be a number above 0")
        if not any(_under(n, prefix) for n in names.values()):
            tops = sorted({n.split(".")[0] for n in names.values()})
            raise ConfigError(
                f"{where}: no parameter of the model is named '{prefix}' or lies under it "
                f"(top-level modules: {', '.join(tops)})"
            )
    by_scale: dict[float, list[nn.Parameter]] = {}
    for p in params:
        name = names.get(id(p), "")
        hits = [k for k in lr_scale if _under(name, k)]
        scale = float(lr_scale[max(hits, key=len)]) if hits else 1.0
        by_scale.setdefault(scale, []).append(p)
    order = sorted(by_scale, key=lambda s: (s != 1.0, s))  # the base rate first: the logged lr
    return [{"params": by_scale[s], "lr": lr * s} for s in order]


def _under(name: str, prefix: str) -> bool:
    prefix = prefix.rstrip(".")
    return name == prefix or name.startswith(prefix + ".")


def adam(params: list[Any], impl: str, settings: dict[str, Any]) -> torch.optim.Adam:
    """Adam with the update implementation ``impl`` (``auto``: fused, which wins on CPU and GPU)."""
    if impl not in ADAM_IMPLS:
        raise ConfigError(f"unknown train.adam '{impl}'; valid: {', '.join(ADAM_IMPLS)}")
    kind: dict[str, Any] = {
        "auto": {"fused": True},
        "for-loop": {"foreach": False},
        "foreach": {"foreach": True},
        "fused": {"fused": True},
    }[impl]
    return torch.optim.Adam(params, **settings, **kind)


def check_param_groups(model: nn.Module, groups: dict[str, list[nn.Parameter]]) -> None:
    """Every trainable parameter in exactly one param group."""
    seen: dict[int, str] = {}
    for name, params in groups.items():
        for p in params:
            if id(p) in seen:
                raise ValueError(f"parameter in both param groups '{seen[id(p)]}' and '{name}'")
            seen[id(p)] = name
    missing = [n for n, p in model.named_parameters() if p.requires_grad and id(p) not in seen]
    if missing:
        raise ValueError(f"{type(model).__name__}: parameters in no param group: {missing[:5]}")


def weighted_sum(losses: dict[str, torch.Tensor], weights: dict[str, float]) -> torch.Tensor:
    """Sum of ``weight * loss`` in fp32; a loss without a weight is an error, weight 0 skips it."""
    total: torch.Tensor | None = None
    for k, v in losses.items():
        if k not in weights:
            raise ValueError(
                f"variant returned loss '{k}' with no weight; known: {', '.join(sorted(weights))}"
            )
        w = weights[k]
        if w == 0:
            continue
        term = w * v.float()
        total = term if total is None else total + term
    if total is None:
        raise ValueError("every loss of this phase has weight 0: nothing to optimise")
    return total


def apply_speed_settings(model: nn.Module, train: TrainConfig) -> None:
    """Threads, memory format and compilation, in place (state-dict keys are unchanged)."""
    if train.threads < 0:
        raise ConfigError(f"train.threads must be >= 0 (0 keeps PyTorch's choice), not {train.threads}")
    if train.threads > 0:
        torch.set_num_threads(train.threads)
    if train.channels_last:
        model.to(memory_format=torch.channels_last)
    if train.compile:
        for child in model.children():  # each generator and discriminator
            child.compile()


def to_device(batch: dict[str, Any], device: torch.device, channels_last: bool = False) -> dict[str, Any]:
    nb = device.type == "cuda"
    fmt = torch.channels_last if channels_last else torch.preserve_format
    return {
        k: v.to(device, non_blocking=nb, memory_format=fmt if v.dim() == 4 else torch.preserve_format)
        if torch.is_tensor(v)
        else v
        for k, v in batch.items()
    }
