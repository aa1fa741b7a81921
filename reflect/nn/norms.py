"""Layer-Instance normalisation: LIN and its adaptive form AdaLIN.

From U-GAT-IT (Kim et al., ICLR 2020), reused by NICE-GAN (Chen et al., CVPR 2020). Each channel
mixes instance-normalised and layer-normalised activations with a learned ratio ``rho`` (a softmax
over the two, per channel), then applies an affine transform. LIN learns its own ``gamma`` and
``beta``; AdaLIN takes them from a style code (per sample, per channel).

Variance is the population variance (the reference code uses the unbiased estimate; they agree to
within 1/(H*W) for real feature maps, and ours stays finite on 1x1 maps that tiny inputs produce).
"""

from __future__ import annotations

import torch
from torch import nn


def _instance_layer_mix(x: torch.Tensor, rho: torch.Tensor, eps: float) -> torch.Tensor:
    """softmax(rho)[..., 0] * IN(x) + softmax(rho)[..., 1] * LN(x); rho: (1, C, 2)."""
    in_mean = x.mean(dim=(2, 3), keepdim=True)
    in_var = x.var(dim=(2, 3), keepdim=True, correction=0)
    ln_mean = x.mean(dim=(1, 2, 3), keepdim=True)
    ln_var = x.var(dim=(1, 2, 3), keepdim=True, correction=0)
    out_in = (x - in_mean) / torch.sqrt(in_var + eps)
    out_ln = (x - ln_mean) / torch.sqrt(ln_var + eps)
    w = torch.softmax(rho, dim=2)  # (1, C, 2)
    return w[..., 0, None, None] * out_in + w[..., 1, None, None] * out_ln


class LIN(nn.Module):
    """Layer-Instance Norm with learned affine parameters; (B, C, H, W) -> same shape.

    ``rho`` starts favouring layer norm (logits 1 vs 3.2), as in the decoders of U-GAT-IT/NICE-GAN.
    """

    def __init__(self, channels: int, eps: float = 1e-5) -> None:
        super().__init__()
        self.eps = eps
        self.rho = nn.Parameter(torch.tensor([1.0, 3.2]).repeat(1, channels, 1))  # (1, C, 2)
        self.gamma = nn.Parameter(torch.ones(1, channels, 1, 1))
        self.beta = nn.Parameter(torch.zeros(1, channels, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return _instance_layer_mix(x, self.rho, self.eps) * self.gamma + self.beta


class AdaLIN(nn.Module):
    """Adaptive LIN: the affine ``gamma``, ``beta`` (B, C) come from outside (a style MLP).

    ``rho`` starts favouring instance norm (logits 3.2 vs 1), as in the reference code.
    """

    def __init__(self, channels: int, eps: float = 1e-5) -> None:
        super().__init__()
        self.eps = eps
        self.rho = nn.Parameter(torch.tensor([3.2, 1.0]).repeat(1, channels, 1))  # (1, C, 2)

    def forward(self, x: torch.Tensor, gamma: torch.Tensor, beta: torch.Tensor) -> torch.Tensor:
        out = _instance_layer_mix(x, self.rho, self.eps)
        return out * gamma[:, :, None, None] + beta[:, :, None, None]


class AdaLINResBlock(nn.Module):
    """x + conv-AdaLIN-relu-conv-AdaLIN(x), with reflection padding (U-GAT-IT's ResnetAdaILNBlock)."""

    def __init__(self, channels: int, *, bias: bool = False) -> None:
        super().__init__()
        self.conv1 = nn.Sequential(nn.ReflectionPad2d(1), nn.Conv2d(channels, channels, 3, bias=bias))
        self.norm1 = AdaLIN(channels)
        self.conv2 = nn.Sequential(nn.ReflectionPad2d(1), nn.Conv2d(channels, channels, 3, bias=bias))
        self.norm2 = AdaLIN(channels)

    def forward(self, x: torch.Tensor, gamma: torch.Tensor, beta: torch.Tensor) -> torch.Tensor:
        out = torch.relu(self.norm1(self.conv1(x), gamma, beta))
        out = self.norm2(self.conv2(out), gamma, beta)
        return x + out
