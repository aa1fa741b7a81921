"""Weight initialisation (CycleGAN: normal with std 0.02)."""

from __future__ import annotations

from torch import nn

INIT_KINDS = ("normal", "xavier", "kaiming", "orthogonal", "none")


def init_weights(module: nn.Module, kind: str = "normal", gain: float = 0.02) -> nn.Module:
    if kind not in INIT_KINDS:
        raise ValueError(f"unknown init '{kind}'; valid: {', '.join(INIT_KINDS)}")
    if kind == "none":
        return module

    def _init(m: nn.Module) -> None:
        weight = getattr(m, "weight", None)
        if isinstance(m, nn.Conv2d | nn.ConvTranspose2d | nn.Linear) and weight is not None:
            if kind == "normal":
                nn.init.normal_(weight, 0.0, gain)
            elif kind == "xavier":
                nn.init.xavier_normal_(weight, gain=gain)
            elif kind == "kaiming":
                nn.init.kaiming_normal_(weight, a=0, mode="fan_in")
            elif kind == "orthogonal":
                nn.init.orthogonal_(weight, gain=gain)
            bias = getattr(m, "bias", None)
            if bias is not None:
                nn.init.zeros_(bias)
        elif isinstance(m, nn.BatchNorm2d) and m.affine:
            nn.init.normal_(m.weight, 1.0, gain)
            nn.init.zeros_(m.bias)

    module.apply(_init)
    return module
