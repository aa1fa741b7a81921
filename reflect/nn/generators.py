"""Image-to-image generators built from :mod:`reflect.nn.blocks`."""

from __future__ import annotations

import torch
from torch import nn

from reflect.nn.blocks import ConvNormAct, ResBlock, Upsample


class ResnetGenerator(nn.Module):
    """Johnson et al.'s ResNet generator as used by CycleGAN.

    ``c7s1-ngf, d(2ngf), d(4ngf), R(4ngf) x n_blocks, u(2ngf), u(ngf), c7s1-3`` then tanh.
    With ngf=64, 9 blocks and transposed upsampling it has 11,378,179 parameters, as the reference.
    Input and output: (B, C, H, W) in [-1, 1], H and W multiples of ``stride`` (= 2**n_down).

    ``residual=True`` predicts a correction instead of the image: ``clamp(x + g * net(x), -1, 1)``
    with a learned scalar gain ``g`` that starts at 0.1 (after ReZero, Bachlechner et al. 2020; at
    exactly 0 the correction net gets no gradient and training stalls). The generator starts near the
    identity, so a briefly trained model leaves faces intact and learns to subtract the reflection
    layer (the residual formulation common in reflection-removal networks). Needs in_ch == out_ch.
    """

    def __init__(
        self,
        in_ch: int = 3,
        out_ch: int = 3,
        *,
        ngf: int = 64,
        n_blocks: int = 9,
        n_down: int = 2,
        norm: str = "instance",
        upsample: str = "transposed",
        pad_mode: str = "reflect",
        dropout: float = 0.0,
        residual: bool = False,
    ) -> None:
        super().__init__()
        if residual and in_ch != out_ch:
            raise ValueError(f"a residual generator needs in_ch == out_ch, got {in_ch} and {out_ch}")
        self.residual = residual
        # learned gain of the correction; starts small so the generator starts near the identity
        self.res_gain = nn.Parameter(torch.full((1,), 0.1)) if residual else None
        self.stride = 2**n_down
        layers: list[nn.Module] = [ConvNormAct(in_ch, ngf, 7, pad_mode=pad_mode, norm=norm)]
        ch = ngf
        for _ in range(n_down):
            layers.append(ConvNormAct(ch, ch * 2, 3, 2, padding=1, norm=norm))
            ch *= 2
        layers += [ResBlock(ch, norm=norm, pad_mode=pad_mode, dropout=dropout) for _ in range(n_blocks)]
        for _ in range(n_down):
            layers.append(Upsample(ch, ch // 2, mode=upsample, norm=norm, pad_mode=pad_mode))
            ch //= 2
        layers += [ConvNormAct(ch, out_ch, 7, pad_mode=pad_mode, norm="none", act="tanh")]
        self.model = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.residual:
            return (x + self.res_gain * self.model(x)).clamp(-1.0, 1.0)
        return self.model(x)
