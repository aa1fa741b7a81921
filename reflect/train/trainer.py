"""The one training loop for every variant.

Per step: ``d_steps`` discriminator updates, then one generator update. Each phase asks the
variant for named, unweighted losses, weights them with the config's ``loss_weights`` (merged over
the variant's paper defaults), and steps the optimisers of that phase's param groups only.
Mixed precision, gradient clipping, EMA, data-parallel gradient averaging, a non-finite-loss
guard, TensorBoard scalars, sample grids, a progress bar and atomic checkpoints live here and
nowhere else.
"""

from __future__ import annotations

import logging
import math
import time
import warnings
from collections.abc import Iterator
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from reflect import registry
from reflect.checkpoint import checkpoint_name, list_checkpoints, load_checkpoint, save_checkpoint
from reflect.config import ExperimentConfig, load_config, save_config, to_dict
from reflect.data.datasets import build_dataset, build_loader
from reflect.errors import CheckpointError, ConfigError, TrainingDiverged
from reflect.train import distributed as dist_utils
from reflect.train import rng
from reflect.train.ema import EMA
from reflect.train.logger import RunLogger
from reflect.variants.base import Variant

log = logging.getLogger(__name__)


@dataclass
class PhaseResult:
    """What one phase update returns."""

    losses: dict[str, torch.Tensor]  # named, unweighted, detached (still on the device)
    ok: bool  # False: a loss was not finite and the update was skipped
    outputs: dict[str, torch.Tensor] | None  # the generator phase's forward (None for older variants)


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    dev = torch.device(name)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"train.device={name} but no CUDA device is available (use cpu or auto)")
    return dev


def _amp_dtype(amp: str, device: torch.device) -> torch.dtype | None:
    if amp == "none":
        return None
    if amp == "auto":
        if device.type == "cuda":
            return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        return None
    if amp == "fp16":
        if device.type != "cuda":
            raise ConfigError("train.amp=fp16 needs a CUDA device; use bf16 or none on the CPU")
        return torch.float16
    if amp == "bf16":
        return torch.bfloat16
    raise ConfigError(f"unknown train.amp '{amp}'; valid: none, fp16, bf16, auto")


def lr_factor(step: int, total: int, decay: int) -> float:
    """Constant, then linear decay over the last ``decay`` steps (CycleGAN's 'linear' policy)."""
    start = total - decay
    if decay <= 0 or step < start:
        return 1.0
    return max(0.0, 1.0 - (step - start + 1) / (decay + 1))


class Trainer:
    def __init__(self, cfg: ExperimentConfig, *, resume: bool = False) -> None:
        self.cfg = cfg
        self.dist = dist_utils.setup(resolve_device(cfg.train.device).type)
        self.device = resolve_device(cfg.train.device)
        if self.device.type == "cuda" and self.dist.enabled:
            self.device = torch.device("cuda", self.dist.local_rank)
            torch.cuda.set_device(self.device)
        self.run_dir = cfg.run_dir
        if cfg.train.deterministic:
            torch.use_deterministic_algorithms(True, warn_only=True)
        rng.seed_everything(cfg.seed + self.dist.rank)

        variant_cls = registry.get(type(cfg.model).variant_name)  # type: ignore[attr-defined]
        self.model: Variant = variant_cls(cfg.model).to(self.device)
        dist_utils.broadcast_parameters(self.model, self.dist)
        self.weights = variant_cls.loss_weights(cfg.model) | cfg.loss_weights

        groups = self.model.param_groups()
        self._check_groups(groups)
        self.optimizers = {
            name: torch.optim.Adam(params, **self.model.optimizer_settings(name)) for name, params in groups.items()
        }
        self.phases = {
            "discriminator": [g for g in groups if g in self.model.discriminator_groups],
            "generator": [g for g in groups if g not in self.model.discriminator_groups],
        }
        self.phase_params = {ph: [p for g in names for p in groups[g]] for ph, names in self.phases.items()}
        total, decay = cfg.train.steps, cfg.train.decay_steps
        self.schedulers = {
            name: torch.optim.lr_scheduler.LambdaLR(opt, lambda s: lr_factor(s, total, decay))
            for name, opt in self.optimizers.items()
        }
        self.amp_dtype = _amp_dtype(cfg.train.amp, self.device)
        use_scaler = self.amp_dtype == torch.float16
        self.scalers = {ph: torch.amp.GradScaler(self.device.type, enabled=use_scaler) for ph in self.phases}
        gen_modules = self._generator_modules()
        self.ema = EMA(gen_modules, cfg.train.ema) if cfg.train.ema > 0 and gen_modules else None

        self.step = 0
        self.bad_steps = 0
        self.history: list[dict[str, float]] = []
        if resume:
            self._resume()
        elif self.dist.is_main:
            self.run_dir.mkdir(parents=True, exist_ok=True)
            save_config(cfg, self.run_dir / "config.yaml")
        self.logger = RunLogger(self.run_dir, enabled=self.dist.is_main, tensorboard=cfg.train.tensorboard)
        if resume:
            self.logger.truncate_after(self.step)

    # ------------------------------------------------------------------------------------------
    def _check_groups(self, groups: dict[str, list[nn.Parameter]]) -> None:
        seen: dict[int, str] = {}
        for name, params in groups.items():
            for p in params:
                if id(p) in seen:
                    raise ValueError(f"parameter in both param groups '{seen[id(p)]}' and '{name}'")
                seen[id(p)] = name
        missing = [n for n, p in self.model.named_parameters() if p.requires_grad and id(p) not in seen]
        if missing:
            raise ValueError(f"{type(self.model).__name__}: parameters in no param group: {missing[:5]}")

    def _generator_modules(self) -> dict[str, nn.Module]:
        return {name: getattr(self.model, name) for name in self.model.generator_modules}

    def _autocast(self) -> Any:
        if self.amp_dtype is None:
            return nullcontext()
        return torch.autocast(self.device.type, dtype=self.amp_dtype)

    def _to_device(self, batch: dict[str, Any]) -> dict[str, Any]:
        nb = self.device.type == "cuda"
        return {k: v.to(self.device, non_blocking=nb) if torch.is_tensor(v) else v for k, v in batch.items()}

    # ------------------------------------------------------------------------------------------
    def phase_step(
        self, phase: str, batch: dict[str, Any], outputs: dict[str, torch.Tensor] | None = None
    ) -> PhaseResult:
        """One update of ``phase``'s param groups (all other parameters frozen meanwhile).

        The generator phase runs the variant's :meth:`~Variant.generate` here unless ``outputs``
        are given and returns them, for the discriminator phase to reuse detached.
        """
        own = self.phase_params[phase]
        own_ids = {id(p) for p in own}
        frozen = [p for p in self.model.parameters() if p.requires_grad and id(p) not in own_ids]
        for p in frozen:
            p.requires_grad_(False)
        try:
            for name in self.phases[phase]:
                self.optimizers[name].zero_grad(set_to_none=True)
            with self._autocast():
                if phase == "generator" and outputs is None:
                    outputs = self.model.generate(batch)
                losses = self.model.phase_losses(phase, batch, outputs)
            total = self._weighted_sum(losses)
            values = {k: v.detach() for k, v in losses.items()}
            if not bool(torch.isfinite(total)):  # the one host sync of a phase
                bad = {k: float(v) for k, v in values.items() if not math.isfinite(float(v))}
                log.warning("step %d: non-finite %s loss %s; step skipped", self.step + 1, phase, bad)
                for name in self.phases[phase]:
                    self.optimizers[name].zero_grad(set_to_none=True)
                return PhaseResult(values, False, outputs)
            scaler = self.scalers[phase]
            scaler.scale(total).backward()
            dist_utils.average_gradients(own, self.dist)
            opts = [self.optimizers[n] for n in self.phases[phase]]
            if self.cfg.train.grad_clip > 0:
                for opt in opts:
                    scaler.unscale_(opt)
                torch.nn.utils.clip_grad_norm_(own, self.cfg.train.grad_clip)
            for opt in opts:
                scaler.step(opt)
            scaler.update()
            return PhaseResult(values, True, outputs)
        finally:
            for p in frozen:
                p.requires_grad_(True)

    def _weighted_sum(self, losses: dict[str, torch.Tensor]) -> torch.Tensor:
        total: torch.Tensor | None = None
        for k, v in losses.items():
            if k not in self.weights:
                raise ValueError(
                    f"variant returned loss '{k}' with no weight; known: {', '.join(sorted(self.weights))}"
                )
            w = self.weights[k]
            if w == 0:
                continue
            term = w * v.float()
            total = term if total is None else total + term
        if total is None:
            raise ValueError("every loss of this phase has weight 0: nothing to optimise")
        return total

    # ------------------------------------------------------------------------------------------
    def train_step(self, batch: dict[str, Any]) -> dict[str, float]:
        """One iteration; the loss values as floats (a host sync: :meth:`fit` reads them only at log steps)."""
        return {k: float(v) for k, v in self._iteration(batch).items()}

    def _iteration(self, batch: dict[str, Any]) -> dict[str, torch.Tensor]:
        """Generator forward once, generator update, then ``d_steps`` discriminator updates on the
        detached outputs (variants without ``generate``: discriminator updates first, each phase
        running its own forward). Returns the detached loss values."""
        self.model.train()
        batch = self._to_device(batch)
        d_steps = self.cfg.train.d_steps
        results: list[PhaseResult] = []
        if self.model.one_forward:
            g = self.phase_step("generator", batch)
            detached = {k: v.detach() for k, v in (g.outputs or {}).items()}
            g.outputs = None  # nothing of the generator's graph outlives its update
            results = [self.phase_step("discriminator", batch, detached) for _ in range(d_steps)] + [g]
        else:
            results = [self.phase_step("discriminator", batch) for _ in range(d_steps)]
            results.append(self.phase_step("generator", batch))
        values = {k: v for r in results for k, v in r.losses.items()}
        ok = all(r.ok for r in results)
        self.bad_steps = 0 if ok else self.bad_steps + 1
        if self.bad_steps >= self.cfg.train.max_bad_steps:
            bad = {k: float(x) for k, x in values.items() if not math.isfinite(float(x))}
            raise TrainingDiverged(
                f"training diverged: {self.bad_steps} consecutive steps with non-finite losses "
                f"(last: {bad}); lower the learning rate, enable train.grad_clip, or use train.amp=none"
            )
        with warnings.catch_warnings():  # a skipped (non-finite) first step is expected here
            warnings.filterwarnings("ignore", message="Detected call of")
            for s in self.schedulers.values():
                s.step()
        if self.ema is not None:
            self.ema.update(self._generator_modules())
        self.step += 1
        return values

    def batches(self) -> Iterator[dict[str, Any]]:
        dataset = build_dataset(self.cfg.data, self.cfg.seed)
        loader = build_loader(dataset, self.cfg.data, self.cfg.seed, self.step, self.dist.rank, self.dist.world)
        yield from loader

    def fit(self, until: int | None = None) -> list[dict[str, float]]:
        """Train to ``train.steps`` (or stop early after step ``until``, checkpointing there)."""
        cfg = self.cfg.train
        stop = cfg.steps if until is None else min(until, cfg.steps)
        if self.step >= cfg.steps:
            log.info("run %s already finished (%d steps)", self.run_dir, self.step)
            return self.history
        bar = self.logger.progress(total=cfg.steps, initial=self.step, enabled=cfg.progress)
        t0, n0 = time.perf_counter(), self.step
        data = self.batches()
        try:
            while self.step < stop:
                batch = next(data)
                tensors = self._iteration(batch)
                bar.update(1)
                if self.step % cfg.log_every == 0 or self.step == cfg.steps:
                    values = {k: float(v) for k, v in tensors.items()}
                    rate = (self.step - n0) / max(time.perf_counter() - t0, 1e-9)
                    record = {"step": self.step, "lr": self.lr, "it_per_s": rate, **values}
                    self.history.append(record)
                    self.logger.scalars(record)
                    bar.set_postfix({k: f"{v:.3g}" for k, v in values.items()}, refresh=False)
                if cfg.sample_every and self.step % cfg.sample_every == 0:
                    self.save_samples(batch)
                if self.step % cfg.checkpoint_every == 0 or self.step == stop:
                    self.save()
        finally:
            bar.close()
            self.logger.close()
            dist_utils.teardown(self.dist)
        return self.history

    @property
    def lr(self) -> float:
        opt = next(iter(self.optimizers.values()))
        return float(opt.param_groups[0]["lr"])

    # ------------------------------------------------------------------------------------------
    def save_samples(self, batch: dict[str, Any]) -> Path | None:
        if not self.dist.is_main:
            return None
        model = self.model
        if self.ema is not None:  # show what the deployed (EMA) generator does
            model = _with_modules(self.model, self.ema.shadow)
        model.eval()
        try:
            images = model.samples(self._to_device(batch))
        finally:
            self.model.train()
        return self.logger.sample_grid(self.step, images)

    def state(self) -> dict[str, Any]:
        return {
            "variant": self.model.name,
            "config": to_dict(self.cfg),
            "step": self.step,
            "model": self.model.state_dict(),
            "ema": self.ema.state_dict() if self.ema is not None else None,
            "optimizers": {k: o.state_dict() for k, o in self.optimizers.items()},
            "schedulers": {k: s.state_dict() for k, s in self.schedulers.items()},
            "scalers": {k: s.state_dict() for k, s in self.scalers.items()},
            "training_state": self.model.training_state(),
            "rng": rng.capture(),
        }

    def save(self) -> Path | None:
        if not self.dist.is_main:
            return None
        path = self.run_dir / "checkpoints" / checkpoint_name(self.step)
        save_checkpoint(path, self.state())
        for old in list_checkpoints(self.run_dir)[: -self.cfg.train.keep_checkpoints]:
            old.unlink(missing_ok=True)
        return path

    def _resume(self) -> None:
        found = list_checkpoints(self.run_dir)
        if not found:
            raise CheckpointError(f"cannot resume: {self.run_dir}/checkpoints holds no checkpoint")
        ckpt = load_checkpoint(found[-1], map_location=self.device)
        if ckpt["variant"] != self.model.name:
            raise CheckpointError(
                f"checkpoint {found[-1]} was saved by variant '{ckpt['variant']}' but the config names '{self.model.name}'"
            )
        try:
            self.model.load_state_dict(ckpt["model"])
            for k, o in self.optimizers.items():
                o.load_state_dict(ckpt["optimizers"][k])
            for k, s in self.schedulers.items():
                s.load_state_dict(ckpt["schedulers"][k])
            for k, sc in self.scalers.items():
                sc.load_state_dict(ckpt["scalers"][k])
            if self.ema is not None and ckpt.get("ema"):
                self.ema.load_state_dict(ckpt["ema"])
        except (KeyError, RuntimeError, ValueError) as e:
            raise CheckpointError(f"checkpoint {found[-1]} does not match this run's model: {e}") from None
        self.model.load_training_state(ckpt.get("training_state") or {})
        self.step = int(ckpt["step"])
        rng.restore(ckpt["rng"])
        log.info("resumed %s at step %d", self.run_dir, self.step)


def _with_modules(model: Variant, modules: dict[str, nn.Module]) -> Variant:
    """A shallow view of ``model`` whose generator modules are replaced (for EMA samples)."""
    import copy

    view = copy.copy(model)
    view._modules = dict(model._modules)  # type: ignore[misc]
    view._modules.update(modules)
    return view


def train(cfg: ExperimentConfig, *, resume: bool = False) -> Trainer:
    trainer = Trainer(cfg, resume=resume)
    trainer.fit()
    return trainer


def resume_config(run_dir: str | Path, overrides: list[str] | None = None) -> ExperimentConfig:
    """The config saved in ``run_dir``, with overrides (e.g. a longer ``train.steps``)."""
    run = Path(run_dir)
    if not (run / "config.yaml").is_file():
        raise CheckpointError(f"cannot resume: {run} is not a run folder (no config.yaml)")
    cfg = load_config(run / "config.yaml", overrides or [])
    cfg.out_dir, cfg.name = str(run.parent), run.name
    return cfg
