"""One tiny spec per registered variant, shared by every test that builds them all: the contract
suite (tests/contract/), the golden outputs and the deployment tests (tests/deploy/).

Registering a variant adds it to those suites; give it a line in ``SPECS`` (model overrides that
make it small and fast on a CPU, and what its batches need). Data are procedural 64x64 window images
(``data.kind=toy``), so no files are needed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from reflect import registry
from reflect.config import ExperimentConfig, apply_overrides, build_config
from reflect.data.datasets import build_dataset
from reflect.variants.base import Variant

SIZE = 64  # DiscoGAN's discriminator and NICE-GAN's global head need 64 px
Batch = dict[str, Any]


def site_crops(batch: Batch) -> Batch:
    """``adapt`` trains on site crops (no target) beside anchor pairs (reflect.data.site): the first
    sample of the batch becomes a site crop, the others stay anchor pairs."""
    site = torch.arange(len(batch["A"])) == 0
    return batch | {"site": site, "has_target": batch["has_target"] & ~site}


@dataclass(frozen=True)
class Spec:
    """How to build a variant tiny, and the batches it trains on."""

    model: dict[str, Any]  # model overrides: small widths and depths (ngf 8, few blocks)
    data: dict[str, Any] = field(default_factory=dict)  # data overrides (e.g. a batch of two)
    prepare: Callable[[Batch], Batch] | None = None  # what the variant's own data adds to a toy batch

    def batch(self, batch: Batch) -> Batch:
        return batch if self.prepare is None else self.prepare(batch)


SPECS: dict[str, Spec] = {
    "cyclegan": Spec({"ngf": 8, "ndf": 8, "n_blocks": 2}),
    "nicegan": Spec({"ngf": 8, "ndf": 8, "n_blocks": 2, "n_layers_d": 6}),
    "unit": Spec({"dim": 8, "ndf": 8, "n_res": 2, "num_scales": 2, "n_layers_d": 3}),
    "discogan": Spec({"ngf": 8, "ndf": 8}),
    # the shipped form
    "remover": Spec({"ngf": 8, "ndf": 8, "n_bottleneck": 1, "output": "layers", "lambda_no_reflection": 1.0}),
    "pggan": Spec(
        {
            "resolution": SIZE,
            "start_resolution": 32,
            "fmap_base": 256,
            "fmap_max": 16,
            "stabilise_steps": 2,
            "fade_steps": 2,
        }
    ),
    "stargan": Spec({"ngf": 8, "ndf": 8, "n_blocks": 1, "n_layers_d": 4}),
    # lr 1e-3: at ngf 8 the reference's N(0, 0.02) init and lr 1e-4 need ~40 steps to show the drop
    "drit": Spec({"ngf": 8, "ndf": 8, "n_res": 1, "n_res_dec": 1, "n_layers_d": 4, "lr": 1e-3}),
    "dunit": Spec(
        {"dim": 8, "ndf": 8, "n_res": 2, "num_scales": 2, "n_layers_d": 3, "n_inst_res": 1, "roi_size": 4}
    ),
    # LoRA adapters on a tiny remover, with CycleGAN's adversarial pair (the contract needs a discriminator);
    # the identity term needs dlib's weights and has its own tests (tests/adapt/)
    "adapt": Spec(
        {
            "ngf": 8,
            "n_bottleneck": 1,
            "method": "cyclegan",
            "ndf": 8,
            "ngf_back": 8,
            "n_blocks_back": 1,
            "lambda_identity": 0.0,
        },
        data={"batch_size": 2},
        prepare=site_crops,
    ),
}


def spec(name: str) -> Spec:
    if name not in SPECS:
        raise KeyError(
            f"variant '{name}' has no tiny spec: add a line for it to SPECS in {Path(__file__).name}"
        )
    return SPECS[name]


def tiny_config(
    name: str, out_dir: Path | str = "runs", overrides: list[str] | None = None, steps: int = 20
) -> ExperimentConfig:
    """The experiment config of ``name``'s tiny spec: toy data at 64 px, ``steps`` CPU steps."""
    s = spec(name)
    data: dict[str, Any] = {
        "name": f"tiny_{name}",
        "seed": 0,
        "out_dir": str(out_dir),
        "model": {"variant": name, **s.model},
        "data": {
            "kind": "toy",
            "load_size": SIZE,
            "crop_size": SIZE,
            "num_workers": 0,
            "max_images": 16,
            **s.data,
        },
        "train": {
            "steps": steps,
            "decay_steps": 0,
            "log_every": 1,
            "sample_every": 0,
            "checkpoint_every": 10_000,
            "progress": False,
            "tensorboard": False,
            "device": "cpu",
        },
    }
    return build_config(apply_overrides(data, overrides or []))


def tiny_variant(name: str, seed: int = 0, overrides: list[str] | None = None) -> Variant:
    """``name`` built from its tiny spec with weights from ``seed`` (train mode, as built)."""
    cfg = tiny_config(name, overrides=overrides)
    torch.manual_seed(seed)
    return registry.get(name)(cfg.model)


def first_batch(cfg: ExperimentConfig) -> Batch:
    """The first ``data.batch_size`` samples of the config's toy data, as the variant trains on them."""
    dataset = build_dataset(cfg.data, cfg.seed)
    samples = [dataset[i] for i in range(cfg.data.batch_size)]
    batch = {
        k: torch.stack([s[k] for s in samples]) if torch.is_tensor(v) else [s[k] for s in samples]
        for k, v in samples[0].items()
    }
    return spec(type(cfg.model).variant_name).batch(batch)
