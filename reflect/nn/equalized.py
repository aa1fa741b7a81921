"""The layers of progressive growing (Karras et al., "Progressive Growing of GANs for Improved
Quality, Stability, and Variation", ICLR 2018), section 4:

* :class:`EqualConv2d` -- equalised learning rate: weights drawn from N(0, 1) and scaled at run time
  by He's constant ``gain / sqrt(fan_in)``, so Adam's per-parameter step sizes treat every layer
  alike. Leave these layers out of :func:`reflect.nn.init_weights` (it would rescale them).
* :class:`PixelNorm` -- each pixel's feature vector divided by its RMS (the generator's only
  normalisation: no statistics over the batch or the image, so train, eval and any H x W agree).
* :class:`MinibatchStdDev` -- the discriminator's minibatch standard deviation feature map.
* :func:`downscale`, :func:`upscale` and :func:`fade` -- the box-filter / nearest resampling and the
  linear blend used while a new resolution fades in.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

HE_GAIN = math.sqrt(2.0)


class EqualConv2d(nn.Module):
    """A ``k x k`` convolution (zero "same" padding) with the equalised learning rate.

    ``gain`` is sqrt(2) before a (leaky) ReLU and 1 for linear outputs (toRGB, the critic's score).
    A 1x1 ``EqualConv2d`` on a (B, C, 1, 1) tensor is the paper's equalised dense layer.
    """

    def __init__(self, in_ch: int, out_ch: int, kernel: int, *, gain: float = HE_GAIN) -> None:
        super().__init__()
        if kernel % 2 != 1:
            raise ValueError(f"EqualConv2d needs an odd kernel for 'same' padding, got {kernel}")
        self.weight = nn.Parameter(torch.randn(out_ch, in_ch, kernel, kernel))
        self.bias = nn.Parameter(torch.zeros(out_ch))
        self.scale = gain / math.sqrt(in_ch * kernel * kernel)
        self.padding = kernel // 2

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, self.weight * self.scale, self.bias, padding=self.padding)

    def extra_repr(self) -> str:
        o, i, k, _ = self.weight.shape
        return f"{i}, {o}, kernel={k}, scale={self.scale:.4g}"


class PixelNorm(nn.Module):
    """x / sqrt(mean_c(x^2) + eps), per pixel: (B, C, H, W) -> same shape."""

    def __init__(self, eps: float = 1e-8) -> None:
        super().__init__()
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.rsqrt(x.pow(2).mean(dim=1, keepdim=True) + self.eps)


def group_size_for(batch: int, group_size: int) -> int:
    """The largest group size <= ``group_size`` that divides ``batch``.

    The reference code uses min(group_size, batch) and fails on batches like 6 with groups of 4;
    a divisor keeps every batch size working (batch 1 gives a constant feature of sqrt(1e-8)).
    """
    g = max(1, min(group_size, batch))
    while batch % g:
        g -= 1
    return g


class MinibatchStdDev(nn.Module):
    """Appends one feature map: the standard deviation of each feature over a group of samples,
    averaged over features and pixels. (B, C, H, W) -> (B, C + 1, H, W).

    Sample ``i`` belongs to group ``i % (B // G)``, as in the reference code. The statistic is
    computed in float32 (it is a small difference of squares).
    """

    def __init__(self, group_size: int = 4) -> None:
        super().__init__()
        self.group_size = group_size

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c, h, w = x.shape
        g = group_size_for(int(n), self.group_size)
        y = x.float().reshape(g, n // g, c, h, w)
        y = y - y.mean(dim=0, keepdim=True)
        y = torch.sqrt(y.pow(2).mean(dim=0) + 1e-8)  # (M, C, H, W): stddev over each group
        y = y.mean(dim=(1, 2, 3), keepdim=True).to(x.dtype)  # (M, 1, 1, 1)
        return torch.cat([x, y.repeat(g, 1, h, w)], dim=1)

    def extra_repr(self) -> str:
        return f"group_size={self.group_size}"


def downscale(x: torch.Tensor, factor: int = 2) -> torch.Tensor:
    """Box-filter downsampling by an integer ``factor`` (the reference's ``downscale2d``)."""
    return F.avg_pool2d(x, factor) if factor > 1 else x


def upscale(x: torch.Tensor, factor: int = 2) -> torch.Tensor:
    """Nearest-neighbour upsampling by an integer ``factor`` (the reference's ``upscale2d``)."""
    return F.interpolate(x, scale_factor=float(factor), mode="nearest") if factor > 1 else x


def fade(old: torch.Tensor, new: torch.Tensor, alpha: float) -> torch.Tensor:
    """(1 - alpha) * old + alpha * new: the new resolution's path weighted by ``alpha``."""
    return new if alpha >= 1.0 else torch.lerp(old, new, alpha)


def fade_images(x: torch.Tensor, alpha: float) -> torch.Tensor:
    """Real images faded to the current resolution: while the new level fades in, they are a blend
    of themselves and their 2x box-downsampled, nearest-upsampled copy (the paper's Sec. A.1)."""
    return fade(upscale(downscale(x)), x, alpha)
