"""The one training loop for every variant.

Per iteration: the variant's generators run once (:meth:`~reflect.variants.base.Variant.generate`),
one generator update uses their outputs, then ``d_steps`` discriminator updates use them detached
(the order of CycleGAN's reference ``optimize_parameters``); a variant without ``generate`` gets
``d_steps`` discriminator updates first, each phase running its own forward. Each phase asks the
variant for named, unweighted losses, weights them with the config's ``loss_weights`` (merged over
the variant's paper defaults), and steps the optimisers of that phase's param groups only.
Mixed precision, gradient clipping, EMA, data-parallel gradient averaging, a non-finite-loss
guard, TensorBoard scalars (with ``data_wait_s``, the mean time a step waited for its batch),
sample grids and a progress bar live here; device, precision, optimiser and speed settings in
:mod:`reflect.train.setup`; checkpoint contents, ``resume_config`` and ``train.init_from`` in
:mod:`reflect.train.state`.
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
from reflect.checkpoint import checkpoint_name, first_non_finite, list_checkpoints, save_checkpoint
from reflect.config import ExperimentConfig, save_config
from reflect.data.datasets import build_dataset, build_loader
from reflect.errors import OutputError, TrainingDiverged
from reflect.schema import to_dict
from reflect.train import distributed as dist_utils
from reflect.train import rng, setup
from reflect.train.ema import EMA
from reflect.train.logger import RunLogger
from reflect.train.state import init_generators, restore_training_state, training_state
from reflect.variants.base import Variant

log = logging.getLogger(__name__)


@dataclass
class PhaseResult:
    """What one phase update returns."""

    losses: dict[str, torch.Tensor]  # named, unweighted, detached (still on the device)
    ok: bool  # False: a loss was not finite and the update was skipped
    outputs: dict[str, torch.Tensor] | None  # the generator phase's forward (None once it is released)


class Trainer:
    def __init__(self, cfg: ExperimentConfig, *, resume: bool = False) -> None:
        self.cfg = cfg
        self.dist, self.device = setup.process_group_and_device(cfg.train.device)
        self.run_dir = cfg.run_dir
        if cfg.train.deterministic:
            torch.use_deterministic_algorithms(True, warn_only=True)
        rng.seed_everything(cfg.seed + self.dist.rank)

        variant_cls = registry.get(type(cfg.model).variant_name)
        self.model: Variant = variant_cls(cfg.model).to(self.device)
        if cfg.train.init_from and not resume:  # fine-tuning: before the EMA copies the generators
            init_generators(self.model, cfg.train.init_from)
        dist_utils.broadcast_parameters(self.model, self.dist)
        self.weights = variant_cls.loss_weights(cfg.model) | cfg.loss_weights
        gen_modules = self._generator_modules()
        self.ema = EMA(gen_modules, cfg.train.ema) if cfg.train.ema > 0 and gen_modules else None
        setup.apply_speed_settings(self.model, cfg.train)

        groups = self.model.param_groups()
        setup.check_param_groups(self.model, groups)
        self.optimizers: dict[str, torch.optim.Optimizer] = {}
        for name, params in groups.items():
            settings = self.model.optimizer_settings(name)
            scaled = setup.scaled_param_groups(self.model, params, cfg.train.lr_scale, settings["lr"])
            self.optimizers[name] = setup.adam(scaled, cfg.train.adam, settings)
        self.phases = setup.phase_groups(groups, self.model.discriminator_groups)
        self.phase_params = {ph: [p for g in names for p in groups[g]] for ph, names in self.phases.items()}
        self.schedulers = setup.lr_schedulers(self.optimizers, cfg.train)
        self.amp_dtype = setup.amp_dtype(cfg.train.amp, self.device)
        self.scalers = setup.grad_scalers(self.phases, self.device, self.amp_dtype)

        self.step = 0
        self.bad_steps = 0
        self.history: list[dict[str, float]] = []
        if resume:
            self.step = restore_training_state(
                self.run_dir,
                variant=self.model,
                ema=self.ema,
                optimizers=self.optimizers,
                schedulers=self.schedulers,
                scalers=self.scalers,
                device=self.device,
            )
            log.info("resumed %s at step %d", self.run_dir, self.step)
        elif self.dist.is_main:
            self.run_dir.mkdir(parents=True, exist_ok=True)
            save_config(cfg, self.run_dir / "config.yaml")
        # metrics.jsonl and sample grids; fit() opens TensorBoard for its duration
        self.logger = RunLogger(self.run_dir, enabled=self.dist.is_main, tensorboard=False)
        if resume:
            self.logger.truncate_after(self.step)

    # ---- lifetime: ``with Trainer(cfg) as t: t.fit()`` leaves the process group at the end ------
    def __enter__(self) -> Trainer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the logs and leave the data-parallel process group (fit() can no longer run)."""
        self.logger.close()
        dist_utils.teardown(self.dist)

    # ------------------------------------------------------------------------------------------
    def _generator_modules(self) -> dict[str, nn.Module]:
        return {name: getattr(self.model, name) for name in self.model.generator_modules}

    def to_device(self, batch: dict[str, Any]) -> dict[str, Any]:
        """The batch on the training device (channels-last images with ``train.channels_last``)."""
        return setup.to_device(batch, self.device, self.cfg.train.channels_last)

    # ------------------------------------------------------------------------------------------
    def phase_step(
        self, phase: str, batch: dict[str, Any], outputs: dict[str, torch.Tensor] | None = None
    ) -> PhaseResult:
        """One update of ``phase``'s param groups (all other parameters frozen meanwhile).

        The generator phase runs the variant's :meth:`~Variant.generate` here unless ``outputs``
        are given and returns them, for the discriminator phase to reuse detached. A phase without
        param groups (a variant with no discriminator: ``adapt``'s ``method: none``) is skipped.
        """
        if not self.phases[phase]:
            return PhaseResult({}, True, outputs)
        own = self.phase_params[phase]
        own_ids = {id(p) for p in own}
        frozen = [p for p in self.model.parameters() if p.requires_grad and id(p) not in own_ids]
        for p in frozen:
            p.requires_grad_(False)
        try:
            for name in self.phases[phase]:
                self.optimizers[name].zero_grad(set_to_none=True)
            with setup.autocast(self.device, self.amp_dtype):
                if phase == "generator" and outputs is None:
                    outputs = self.model.generate(batch)
                losses = self.model.phase_losses(phase, batch, outputs)
            total = setup.weighted_sum(losses, self.weights)
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

    # ------------------------------------------------------------------------------------------
    def train_step(self, batch: dict[str, Any]) -> dict[str, float]:
        """One iteration; the loss values as floats (a host sync: :meth:`fit` reads them only at log steps)."""
        return {k: float(v) for k, v in self.iteration(batch).items()}

    def iteration(self, batch: dict[str, Any]) -> dict[str, torch.Tensor]:
        """Generator forward once, generator update, then ``d_steps`` discriminator updates on the
        detached outputs. Returns the detached loss values."""
        self.model.train()
        batch = self.to_device(batch)
        d_steps = self.cfg.train.d_steps
        g = self.phase_step("generator", batch)
        detached = {k: v.detach() for k, v in (g.outputs or {}).items()}
        g.outputs = None  # nothing of the generator's graph outlives its update
        results = [self.phase_step("discriminator", batch, detached) for _ in range(d_steps)] + [g]
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
        loader = build_loader(
            dataset, self.cfg.data, self.cfg.seed, self.step, self.dist.rank, self.dist.world
        )
        yield from loader

    def fit(self, until: int | None = None) -> list[dict[str, float]]:
        """Train to ``train.steps`` (or stop early after step ``until``, checkpointing there).

        May be called again on the same trainer (e.g. ``fit(until=n)`` then ``fit()``); losses are
        read back from the device only at log steps.
        """
        cfg = self.cfg.train
        stop = cfg.steps if until is None else min(until, cfg.steps)
        if self.step >= cfg.steps:
            log.info("run %s already finished (%d steps)", self.run_dir, self.step)
            return self.history
        self.logger.close()
        self.logger = RunLogger(self.run_dir, enabled=self.dist.is_main, tensorboard=cfg.tensorboard)
        bar = self.logger.progress(total=cfg.steps, initial=self.step, enabled=cfg.progress)
        t0, n0 = time.perf_counter(), self.step
        data = self.batches()
        waited, n_waits = 0.0, 0  # time spent in next(data) since the last log record: a stalled step
        try:
            while self.step < stop:
                t_wait = time.perf_counter()
                batch = next(data)
                waited, n_waits = waited + time.perf_counter() - t_wait, n_waits + 1
                tensors = self.iteration(batch)
                bar.update(1)
                if self.step % cfg.log_every == 0 or self.step == cfg.steps:
                    values = {k: float(v) for k, v in tensors.items()}
                    rate = (self.step - n0) / max(time.perf_counter() - t0, 1e-9)
                    record = {
                        "step": self.step,
                        "lr": self.lr,
                        "it_per_s": rate,
                        "data_wait_s": waited / n_waits,
                        **values,
                    }
                    waited, n_waits = 0.0, 0
                    self.history.append(record)
                    self.logger.scalars(record)
                    bar.set_postfix({k: f"{v:.3g}" for k, v in values.items()}, refresh=False)
                if cfg.sample_every and self.step % cfg.sample_every == 0:
                    self.save_samples(batch)
                checkpoint = self.step % cfg.checkpoint_every == 0 or self.step == stop
                if checkpoint or self.step % cfg.log_every == 0:
                    self.check_weights()  # a non-finite update leaves finite losses for a step: never save it
                if checkpoint:
                    self.save()
        finally:
            bar.close()
            self.logger.close()  # flushes TensorBoard; the next fit() opens it again
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
        try:
            with self.ema.applied(model) if self.ema is not None else nullcontext(model):
                model.eval()  # show what the deployed (EMA) generator does
                images = model.samples(self.to_device(batch))
        finally:
            model.train()
        return self.logger.sample_grid(self.step, images)

    def state(self) -> dict[str, Any]:
        return training_state(
            variant=self.model,
            cfg=to_dict(self.cfg),
            step=self.step,
            ema=self.ema,
            optimizers=self.optimizers,
            schedulers=self.schedulers,
            scalers=self.scalers,
        )

    def check_weights(self) -> None:
        """Stop with :class:`TrainingDiverged` naming the first weight that is NaN or inf (before it is saved)."""
        bad = first_non_finite(self.model.state_dict().items())
        if bad is not None:
            last = list_checkpoints(self.run_dir)
            raise TrainingDiverged(
                f"training diverged at step {self.step}: weight {bad} is no longer finite (NaN or inf); nothing of "
                f"this step was saved{f' (the last good checkpoint is {last[-1]})' if last else ''}; lower the "
                "learning rate, enable train.grad_clip, or use train.amp=none"
            )

    def save(self) -> Path | None:
        if not self.dist.is_main:
            return None
        path = self.run_dir / "checkpoints" / checkpoint_name(self.step)
        try:
            save_checkpoint(path, self.state())
        except OSError as e:  # a full disk: the write is atomic, so the checkpoints before it are intact
            last = list_checkpoints(self.run_dir)
            raise OutputError(
                f"cannot save checkpoint {path} ({e.strerror or e}); "
                + (f"the last good checkpoint {last[-1]} is intact: " if last else "")
                + f"free space, then continue with `reflect train --resume {self.run_dir}`"
            ) from None
        for old in list_checkpoints(self.run_dir)[: -self.cfg.train.keep_checkpoints]:
            old.unlink(missing_ok=True)
        return path


def train(cfg: ExperimentConfig, *, resume: bool = False) -> Trainer:
    with Trainer(cfg, resume=resume) as trainer:
        trainer.fit()
    return trainer
