"""VAE pieces for shared-latent translation (UNIT: Liu, Breuel & Kautz, NeurIPS 2017).

UNIT's encoders map each domain into one latent space; its decoders map a latent code back to
either domain. The high-level encoder layers and the low-level decoder layers are *shared*
between domains (the weight-sharing constraint of the paper). The encoder predicts the mean of
``q(z|x) = N(mu, I)``; :func:`reparameterize` samples it during training.

Layouts follow the UNIT/MUNIT reference code (``c7s1-64, d128, d256`` with 4x4 stride-2 convs,
instance-norm residual blocks; decoder: residual blocks, 2x nearest upsampling + 5x5 conv with
layer norm, ``c7s1-3`` + tanh), giving 11.14 M parameters per domain at ``dim=64, n_res=4``.
"""

from __future__ import annotations

import torch
from torch import nn

from reflect.nn.blocks import ConvNormAct, ResBlock


def reparameterize(mu: torch.Tensor, logvar: torch.Tensor | None = None) -> torch.Tensor:
    """A sample of N(mu, exp(logvar)) (unit variance when ``logvar`` is None), differentiable in mu."""
    noise = torch.randn_like(mu)
    if logvar is None:
        return mu + noise
    return mu + noise * torch.exp(0.5 * logvar)


class UnitEncoderFront(nn.Module):
    """Domain-specific low-level encoder: (B, C, H, W) -> (B, dim * 2**n_down, H/2**n_down, W/2**n_down)."""

    def __init__(
        self, in_ch: int = 3, *, dim: int = 64, n_down: int = 2, n_res: int = 3, pad_mode: str = "reflect"
    ) -> None:
        super().__init__()
        layers: list[nn.Module] = [ConvNormAct(in_ch, dim, 7, pad_mode=pad_mode, norm="instance")]
        for _ in range(n_down):
            layers.append(ConvNormAct(dim, 2 * dim, 4, 2, padding=1, pad_mode=pad_mode, norm="instance"))
            dim *= 2
        layers += [ResBlock(dim, norm="instance", pad_mode=pad_mode) for _ in range(n_res)]
        self.model = nn.Sequential(*layers)
        self.out_channels = dim
        self.stride = 2**n_down

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


class SharedResBlocks(nn.Sequential):
    """Instance-norm residual blocks at latent resolution; used for both shared encoder and decoder parts."""

    def __init__(self, channels: int, n_blocks: int, *, pad_mode: str = "reflect") -> None:
        super().__init__(*[ResBlock(channels, norm="instance", pad_mode=pad_mode) for _ in range(n_blocks)])


class UnitDecoderBack(nn.Module):
    """Domain-specific high-level decoder: residual blocks, upsampling, image. Output in [-1, 1]."""

    def __init__(
        self, out_ch: int = 3, *, dim: int = 256, n_up: int = 2, n_res: int = 3, pad_mode: str = "reflect"
    ) -> None:
        super().__init__()
        layers: list[nn.Module] = [ResBlock(dim, norm="instance", pad_mode=pad_mode) for _ in range(n_res)]
        for _ in range(n_up):
            layers += [
                nn.Upsample(scale_factor=2, mode="nearest"),
                ConvNormAct(dim, dim // 2, 5, pad_mode=pad_mode, norm="layer", bias=True),
            ]
            dim //= 2
        layers.append(ConvNormAct(dim, out_ch, 7, pad_mode=pad_mode, norm="none", act="tanh"))
        self.model = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.model(z)
