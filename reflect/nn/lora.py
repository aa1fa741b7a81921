"""Low-rank adapters for convolutions (LoRA: Hu et al., ICLR 2022, applied to conv kernels).

A :class:`LoRAConv2d` is the convolution it wraps plus a low-rank path,
``y = conv_W(x) + (alpha / rank) * B(A(x))``, where ``A`` is a ``rank``-channel convolution with the
wrapped kernel's size, stride, padding and dilation, and ``B`` a 1x1 convolution back to the output
channels. ``B`` starts at zero, so a freshly wrapped network computes exactly what it did before, and
only ``A`` and ``B`` train (the wrapped weights are frozen). Because ``B`` is 1x1 the two are one
convolution: :meth:`LoRAConv2d.merged` folds them into the kernel, ``W' = W + (alpha / rank) * B A``,
so a merged network is a plain one (same ``state_dict`` keys, ONNX-exportable, no adapter code needed
to run it).

The wrapper subclasses ``nn.Conv2d`` and keeps the wrapped ``weight`` and ``bias`` under their own
names: a wrapped network's ``state_dict`` is the plain network's plus ``*.lora_a.weight`` and
``*.lora_b.weight`` (:func:`adapter_state` picks those, the small adapter file).
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

ADAPTER_KEYS = ("lora_a.", "lora_b.")


def _geometry(conv: nn.Conv2d) -> dict[str, Any]:
    """The keyword arguments that give another convolution ``conv``'s kernel, stride, padding and dilation."""
    return {
        "kernel_size": conv.kernel_size,
        "stride": conv.stride,
        "padding": conv.padding,
        "dilation": conv.dilation,
        "padding_mode": conv.padding_mode,
    }


class LoRAConv2d(nn.Conv2d):
    """``conv(x) + scale * lora_b(lora_a(x))`` (see the module docstring)."""

    def __init__(self, conv: nn.Conv2d, rank: int, alpha: float) -> None:
        if rank < 1:
            raise ValueError(f"LoRA rank must be >= 1, got {rank}")
        if conv.groups != 1:
            raise ValueError("LoRA wraps plain convolutions (groups=1) only")
        geometry = _geometry(conv)
        super().__init__(conv.in_channels, conv.out_channels, bias=conv.bias is not None, **geometry)
        self.weight = conv.weight  # the wrapped tensors themselves (frozen by the caller)
        self.bias = conv.bias
        self.rank, self.scale = rank, alpha / rank
        self.lora_a = nn.Conv2d(conv.in_channels, rank, bias=False, **geometry)
        self.lora_b = nn.Conv2d(rank, conv.out_channels, 1, bias=False)
        nn.init.kaiming_uniform_(self.lora_a.weight, a=math.sqrt(5))
        nn.init.zeros_(self.lora_b.weight)  # the adapter starts as the identity

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._conv_forward(x, self.weight, self.bias) + self.scale * self.lora_b(self.lora_a(x))

    def delta(self) -> torch.Tensor:
        """The kernel the low-rank path adds, ``scale * B A`` (out, in, kh, kw)."""
        a = self.lora_a.weight.flatten(1)  # (rank, in * kh * kw)
        b = self.lora_b.weight.flatten(1)  # (out, rank)
        return (self.scale * b @ a).view_as(self.weight)

    @torch.no_grad()
    def merged(self) -> nn.Conv2d:
        """A plain convolution computing the same function (the low-rank path folded in)."""
        conv = nn.Conv2d(self.in_channels, self.out_channels, bias=self.bias is not None, **_geometry(self))
        conv = conv.to(self.weight.device)
        conv.weight.copy_(self.weight + self.delta())
        if self.bias is not None:
            assert conv.bias is not None
            conv.bias.copy_(self.bias)
        return conv


def _targets(module: nn.Module, prefixes: tuple[str, ...]) -> list[str]:
    return [
        name
        for name, m in module.named_modules()
        if isinstance(m, nn.Conv2d)
        and not isinstance(m, LoRAConv2d)
        and name.startswith(prefixes)
        and not any(k in name for k in ("lora_a", "lora_b"))
    ]


def _replace(root: nn.Module, name: str, new: nn.Module) -> None:
    parent_name, _, child = name.rpartition(".")
    parent = root.get_submodule(parent_name) if parent_name else root
    setattr(parent, child, new)


def add_lora(
    module: nn.Module, prefixes: tuple[str, ...], rank: int, alpha: float | None = None
) -> list[str]:
    """Wrap every ``nn.Conv2d`` of ``module`` whose qualified name starts with one of ``prefixes``
    (in place); returns the wrapped names. ``alpha`` defaults to ``rank`` (scale 1)."""
    names = _targets(module, prefixes)
    if not names:
        raise ValueError(f"no convolution of {type(module).__name__} is named {', '.join(prefixes)}*")
    for name in names:
        _replace(module, name, LoRAConv2d(module.get_submodule(name), rank, float(alpha or rank)))  # type: ignore[arg-type]
    return names


def merge_lora(module: nn.Module) -> nn.Module:
    """Fold every adapter of ``module`` into its kernel, in place: a plain network again."""
    for name, m in list(module.named_modules()):
        if isinstance(m, LoRAConv2d):
            _replace(module, name, m.merged())
    return module


def adapter_state(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The adapter tensors of a wrapped network's ``state_dict`` (the small adapter file)."""
    return {k: v for k, v in state.items() if is_adapter_key(k)}


def is_adapter_key(key: str) -> bool:
    """Whether a ``state_dict`` key belongs to an adapter (``....lora_a.weight``, ``....lora_b.weight``)."""
    return any(f".{k}" in f".{key}" for k in ADAPTER_KEYS)
