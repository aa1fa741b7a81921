"""Parameter and multiply-accumulate (MAC) counts.

MACs come from :class:`torch.utils.flop_counter.FlopCounterMode`, which counts the FLOPs of
matrix multiplications and convolutions (2 per multiply-add); MACs = FLOPs / 2. Normalisation,
activations, padding and resampling are not counted, as is usual for these tables.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode


def count_params(*modules: nn.Module, trainable_only: bool = False) -> int:
    """Distinct parameters of ``modules`` (a module shared by two of them is counted once)."""
    seen: dict[int, int] = {}
    for m in modules:
        for p in m.parameters():
            if not trainable_only or p.requires_grad:
                seen[id(p)] = p.numel()
    return sum(seen.values())


def count_flops(fn: Callable[[], object], *, grad: bool = False) -> int:
    """FLOPs of matmuls and convolutions executed by ``fn()``, run under ``torch.no_grad`` unless ``grad``
    (a training step: its backward pass is counted too)."""
    counter = FlopCounterMode(display=False)
    with counter, torch.set_grad_enabled(grad):
        fn()
    return int(counter.get_total_flops())


def count_macs(module: nn.Module, *inputs: torch.Tensor) -> int:
    """Multiply-accumulates of one ``module(*inputs)`` call: FLOPs / 2."""
    return count_flops(lambda: module(*inputs)) // 2
