"""Exponential moving average of the generator modules' weights (Karras et al.; Yazici et al.)."""

from __future__ import annotations

import copy

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
            for s, p in zip(shadow.parameters(), live.parameters(), strict=True):
                s.lerp_(p.detach(), 1.0 - self.decay)
            for sb, b in zip(shadow.buffers(), live.buffers(), strict=True):
                sb.copy_(b)

    def state_dict(self) -> dict[str, dict[str, torch.Tensor]]:
        return {name: m.state_dict() for name, m in self.shadow.items()}

    def load_state_dict(self, state: dict[str, dict[str, torch.Tensor]]) -> None:
        for name, s in state.items():
            self.shadow[name].load_state_dict(s)
