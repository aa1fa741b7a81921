"""Exponential moving average of the generator modules' weights (Karras et al.; Yazici et al.)."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from contextlib import contextmanager

import torch
from torch import nn


class EMA:
    """Keeps a frozen copy of each named generator module; ``update`` blends in the live weights."""

    def __init__(self, modules: dict[str, nn.Module], decay: float) -> None:
        self.decay = decay
        self.shadow = {name: copy.deepcopy(m).eval().requires_grad_(False) for name, m in modules.items()}

    @torch.no_grad()
    def update(self, modules: dict[str, nn.Module]) -> None:
        for name, live in modules.items():
            shadow = self.shadow[name]
            s_params: list[torch.Tensor] = list(shadow.parameters())
            l_params = [p.detach() for p in live.parameters()]
            if len(s_params) != len(l_params):
                raise ValueError(
                    f"EMA of '{name}': {len(s_params)} shadow parameters, {len(l_params)} live ones"
                )
            if s_params:
                torch._foreach_lerp_(s_params, l_params, 1.0 - self.decay)
            for sb, b in zip(shadow.buffers(), live.buffers(), strict=True):
                sb.copy_(b)

    @contextmanager
    def applied(self, model: nn.Module) -> Iterator[nn.Module]:
        """Within the block, ``model``'s generator modules are the EMA ones (e.g. for sample grids)."""
        live = {name: getattr(model, name) for name in self.shadow}
        try:
            for name, shadow in self.shadow.items():
                setattr(model, name, shadow)
            yield model
        finally:
            for name, module in live.items():
                setattr(model, name, module)

    def state_dict(self) -> dict[str, dict[str, torch.Tensor]]:
        return {name: m.state_dict() for name, m in self.shadow.items()}

    def load_state_dict(self, state: dict[str, dict[str, torch.Tensor]]) -> None:
        for name, s in state.items():
            self.shadow[name].load_state_dict(s)
