"""The trainer of an adaptation run: the one trainer on the site's data, plus what the run leaves.

:class:`AdaptTrainer` is :class:`reflect.train.Trainer` whose batches come from the site
(:class:`~reflect.data.site.SiteDataset`, built from the run's ``site_index.json``); with
``method: none`` there is no discriminator, and the trainer skips the discriminator phase. Checkpoints,
exact resume, the progress bar and its ETA, the non-finite guard: all the trainer's.

:meth:`AdaptTrainer.write_outputs` writes ``adapted.safetensors`` (the adapters merged into the
weights: a plain ``remover`` generator file, with the base model's config, that every job opens
like the bundled one) and, with adapters, ``adapter.safetensors`` (the adapter tensors alone).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from torch import nn

from reflect.config import ExperimentConfig, save_config
from reflect.data.datasets import build_loader
from reflect.data.site import SiteDataset, load_index
from reflect.errors import CheckpointError
from reflect.train.trainer import Trainer
from reflect.variants.adapt import Adapt
from reflect.variants.remover import Remover

log = logging.getLogger(__name__)

BASE_CONFIG = "base_config.yaml"
ADAPTED = "adapted.safetensors"
ADAPTER = "adapter.safetensors"


class AdaptTrainer(Trainer):
    """The trainer on a site's data (see the module docstring)."""

    @property
    def adapt(self) -> Adapt:
        """The model, typed as the ``adapt`` variant it is."""
        assert isinstance(self.model, Adapt)
        return self.model

    def batches(self) -> Iterator[dict[str, Any]]:
        d = self.cfg.data
        yield from build_loader(
            self.site_data(), d, self.cfg.seed, self.step, self.dist.rank, self.dist.world
        )

    def site_data(self) -> SiteDataset:
        """The site's dataset, built once per trainer (the anchor's face bank loads in seconds, not per fit)."""
        cached = self.__dict__.get("_site_data")
        if cached is not None:
            return cached
        m, d = self.cfg.model, self.cfg.data
        anchor = None
        if d.kind == "synthetic" and m.anchor_fraction > 0:
            from reflect.data.synthetic import SyntheticDataset

            anchor = SyntheticDataset(d, self.cfg.seed)
        dataset = SiteDataset(
            load_index(self.run_dir),
            d.crop_size,
            self.cfg.seed,
            clean=m.clean,
            anchor=anchor,
            anchor_fraction=m.anchor_fraction,
            site_layer_fraction=m.site_layer_fraction,
            flip=d.flip,
            need_b=m.method != "none",
            colour_stats=m.lambda_colour > 0,
            clean_pair_fraction=m.clean_pair_fraction,
            calibrate_pairs=m.clean_pair_calibrate,
            pair_glass=m.clean_pair_glass,
        )
        self.__dict__["_site_data"] = dataset
        return dataset

    def load_base(self, base: nn.Module) -> None:
        """Start ``g`` from the base remover's generator weights (its adapters stay at zero)."""
        from reflect.nn.lora import is_adapter_key

        g = getattr(base, "g", None)
        if not isinstance(g, nn.Module):
            raise CheckpointError(f"the base model {self.cfg.model.base} is not a remover (no generator 'g')")
        missing, unexpected = self.adapt.g.load_state_dict(g.state_dict(), strict=False)
        wrong = [k for k in missing if not is_adapter_key(k)] + list(unexpected)
        if wrong:
            raise CheckpointError(
                f"the base model {self.cfg.model.base} does not match the adapted generator ({wrong[0]})"
            )
        if self.ema is not None:
            self.ema.shadow["g"].load_state_dict(self.adapt.g.state_dict())

    def fit_minutes(self, minutes: float, probe: int = 3, settle_s: float = 45.0) -> None:
        """Set ``train.steps`` from a timing so that training from here takes about ``minutes``; the step
        count is saved in the run's config, so a resume ends at the same step.

        Timed in two stages after the first step (data loader start-up): ``probe`` steps give a rough
        rate, then about ``settle_s`` seconds of steps (at most a tenth of the budget) the rate used.
        Each :meth:`fit` call starts the data loader again, so a short probe alone under-counts the
        rate (3 steps measured 0.65 steps/s where the run went at 1.1: a 15-minute budget took 9)."""
        t0 = time.perf_counter()
        self.cfg.train.steps = max(self.cfg.train.steps, self.step + 1 + probe)  # room for the timing itself
        self.fit(until=self.step + 1)  # data loader start-up and the first step
        t1, s1 = time.perf_counter(), self.step
        self.fit(until=self.step + probe)
        rate = (self.step - s1) / max(time.perf_counter() - t1, 1e-6)
        settle = min(settle_s, 0.1 * minutes * 60.0)
        more = int(settle * rate)
        if more > probe:
            self.cfg.train.steps = max(self.cfg.train.steps, self.step + more)
            t2, s2 = time.perf_counter(), self.step
            self.fit(until=self.step + more)
            rate = (self.step - s2) / max(time.perf_counter() - t2, 1e-6)
        left = minutes * 60.0 - (time.perf_counter() - t0)
        self.cfg.train.steps = max(self.step, self.step + int(left * rate * 0.97))
        save_config(self.cfg, self.run_dir / "config.yaml")
        log.info("--minutes %g: %.2f steps/s, training to step %d", minutes, rate, self.cfg.train.steps)

    def write_outputs(self) -> tuple[Path, Path | None]:
        """``adapted.safetensors`` (merged, a plain remover file) and ``adapter.safetensors`` (see module)."""
        from safetensors.torch import save as st_save

        from reflect.config import load_config
        from reflect.generator_file import save_generator
        from reflect.nn.lora import adapter_state
        from reflect.utils.atomic import atomic_write_bytes

        base_cfg = load_config(self.run_dir / BASE_CONFIG)
        base_cfg.name, base_cfg.out_dir = self.cfg.name, self.cfg.out_dir
        remover = Remover(base_cfg.model)
        remover.g.load_state_dict(self.adapt.merged_generator_state())
        m = self.cfg.model
        meta = {
            "step": str(self.step),
            "ema": "no",
            "adapted_from": m.base,
            "site": m.site,
            "method": m.method,
            "adapter": m.adapter,
        }
        adapted = save_generator(remover.eval(), base_cfg, self.run_dir / ADAPTED, **meta)
        for pad in range(1, 8):  # see _looks_like_pickle
            if not _looks_like_pickle(adapted):
                break
            adapted = save_generator(remover.eval(), base_cfg, adapted, **meta, pad=" " * pad)
        if m.adapter != "lora":
            return adapted, None
        tensors = {
            f"g.{k}": v.detach().cpu().contiguous()
            for k, v in adapter_state(self.adapt.g.state_dict()).items()
        }
        meta |= {
            "format": "reflect-adapter",
            "rank": str(m.adapter_rank),
            "targets": ",".join(m.adapter_targets),
        }
        path = self.run_dir / ADAPTER
        atomic_write_bytes(path, st_save(tensors, metadata=meta))
        return adapted, path


def _looks_like_pickle(path: Path) -> bool:
    """Whether a safetensors file's first byte (the low byte of its header length, a multiple of 8) is
    0x80, the pickle marker that :func:`reflect.utils.filetype.model_kind` reads as a legacy torch
    checkpoint: one header length in 32 does. A padded metadata entry moves it off."""
    with open(path, "rb") as f:
        return f.read(1) == b"\x80"


def save_base_config(cfg: ExperimentConfig, run_dir: Path) -> None:
    save_config(cfg, run_dir / BASE_CONFIG)
