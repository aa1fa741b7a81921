"""The supervised ceiling of site adaptation (``benchmarks/adapt.py --methods supervised``).

A simulated site is rendered, so the benchmark knows what no site knows: the clean target of every one
of its unlabeled crops. Fine-tuning the base model on those crops *with* their targets, on the same
budget as the label-free methods, bounds what any of them can reach on that budget: a method that
learns the site's glass perfectly from unlabeled crops can do no better than being shown it. Every
weight trains (``reflect adapt --full`` is the label-free analogue), with the L1 loss on the cleaned
crop, random training-size windows of the site crops and horizontal flips, Adam at the base recipe's
fine-tuning rate. Not a ``reflect adapt`` method: a measurement of the benchmark's headroom.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

LR = 1e-4  # the fine-tuning rate of the bundled stages (model card)
BETAS = (0.5, 0.999)


def supervised_ceiling(
    pairs: list[Any],
    model: str,
    steps: int,
    minutes: float,
    size: int,
    batch_size: int,
    seed: int,
) -> tuple[Any, float, int]:
    """The base generator (``model``: a file, or '' for the bundled one) fine-tuned on ``pairs`` (the
    site's crops with their clean targets) for ``steps`` steps, or ``minutes`` when ``steps`` is 0.
    Returns a :class:`benchmarks.quality_lib.models.Model`, the wall time and the steps taken."""
    import torch

    from benchmarks.quality_lib.models import Model
    from deploy.translator import TorchTranslator
    from reflect.data.io import to_tensor
    from reflect.loader import identify, load_variant
    from reflect.variants.remover import Remover

    variant, cfg = load_variant(identify(model or None))
    if not isinstance(variant, Remover):
        raise SystemExit(
            f"adapt benchmark: the supervised ceiling fine-tunes a remover, not {type(variant).__name__}"
        )
    inputs = torch.stack([to_tensor(p.input) for p in pairs])
    targets = torch.stack([to_tensor(p.target) for p in pairs])
    n, _, h, w = inputs.shape
    crop = min(size, h, w)
    opt = torch.optim.Adam(variant.g.parameters(), lr=LR, betas=BETAS)  # the generator only
    rng = np.random.default_rng([seed, 24])
    variant.train()
    t0, step = time.perf_counter(), 0
    while (step < steps) if steps else (time.perf_counter() - t0 < minutes * 60.0):
        idx = torch.from_numpy(rng.integers(0, n, batch_size))
        y0, x0 = (int(v) for v in rng.integers(0, [h - crop + 1, w - crop + 1]))
        x = inputs[idx, :, y0 : y0 + crop, x0 : x0 + crop]
        y = targets[idx, :, y0 : y0 + crop, x0 : x0 + crop]
        if rng.random() < 0.5:
            x, y = x.flip(-1), y.flip(-1)
        loss = (variant.layers(x)[0] - y).abs().mean()  # unclamped, as training's supervised term
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        step += 1
    variant.eval()
    wall = time.perf_counter() - t0
    name = f"supervised ceiling ({step} steps)"
    return Model(name, TorchTranslator(variant).translate, (variant, cfg)), wall, step
