"""Growing networks for progressive growing applied to translation (Karras et al., ICLR 2018).

Both networks are built for all levels at once; ``forward(x, level, alpha)`` runs levels
``0..level`` (level 0 is the lowest resolution). While ``level`` fades in (``alpha < 1``) its new
layers are blended with the previous level's, exactly as the paper's Fig. 2: at ``alpha = 0`` the
network is the previous level's network on a 2x downscaled input (its output upscaled), so growing
never makes the outputs jump.

:class:`ProgressiveEncoderDecoder` is a U-shaped translator. Going in, each level has a fromRGB
(1x1) layer and a down block (two 3x3 convs, 2x box downscale); going out, an up block (2x nearest
upscale, two 3x3 convs) and a toRGB (1x1) layer; the encoder's features at each level are added to
the decoder's (skip connections), so the deep, low-resolution path only has to learn corrections.
The fade is symmetric: one ``alpha`` blends the input side (fromRGB of the downscaled image vs the
new down block) and the output side (upscaled old toRGB vs the new toRGB).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from reflect.nn.equalized import EqualConv2d, MinibatchStdDev, PixelNorm, downscale, fade, upscale


def level_channels(resolutions: list[int], fmap_base: int, fmap_max: int) -> list[int]:
    """The paper's feature-map counts nf = min(fmap_base / 2^(log2(res) - 1), fmap_max) per level."""
    return [max(1, min(2 * fmap_base // r, fmap_max)) for r in resolutions]


def _conv_act(in_ch: int, out_ch: int, kernel: int, *, pixel_norm: bool) -> nn.Sequential:
    layers: list[nn.Module] = [EqualConv2d(in_ch, out_ch, kernel), nn.LeakyReLU(0.2)]
    if pixel_norm:
        layers.append(PixelNorm())
    return nn.Sequential(*layers)


class _Down(nn.Sequential):
    """conv3x3 (c_in) -> conv3x3 (c_out) -> 2x box downscale."""

    def __init__(self, in_ch: int, out_ch: int, *, pixel_norm: bool) -> None:
        super().__init__(
            _conv_act(in_ch, in_ch, 3, pixel_norm=pixel_norm),
            _conv_act(in_ch, out_ch, 3, pixel_norm=pixel_norm),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return downscale(super().forward(x))


class _Up(nn.Sequential):
    """2x nearest upscale -> conv3x3 (c_out) -> conv3x3 (c_out), pixel norm after each."""

    def __init__(self, in_ch: int, out_ch: int) -> None:
        super().__init__(
            _conv_act(in_ch, out_ch, 3, pixel_norm=True), _conv_act(out_ch, out_ch, 3, pixel_norm=True)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(upscale(x))


class ProgressiveEncoderDecoder(nn.Module):
    """(B, in_ch, H, W) -> (B, out_ch, H, W) in [-1, 1] at ``level``; H, W multiples of 2^level.

    ``channels[k]`` is the width at level ``k`` (level 0 = the bottleneck, at 1/2^(L-1) of the
    top resolution, where two 3x3 convs do the coarsest translation).
    """

    def __init__(self, in_ch: int, out_ch: int, channels: list[int]) -> None:
        super().__init__()
        n = len(channels)
        self.from_rgb = nn.ModuleList(_conv_act(in_ch, c, 1, pixel_norm=True) for c in channels)
        self.down = nn.ModuleList(_Down(channels[k], channels[k - 1], pixel_norm=True) for k in range(1, n))
        self.base = nn.Sequential(
            _conv_act(channels[0], channels[0], 3, pixel_norm=True),
            _conv_act(channels[0], channels[0], 3, pixel_norm=True),
        )
        self.up = nn.ModuleList(_Up(channels[k - 1], channels[k]) for k in range(1, n))
        self.to_rgb = nn.ModuleList(EqualConv2d(c, out_ch, 1, gain=1.0) for c in channels)
        self.stride = 2 ** (n - 1)  # at the top level

    def forward(self, x: torch.Tensor, level: int, alpha: float = 1.0) -> torch.Tensor:
        fading = level > 0 and alpha < 1.0
        skips = [self.from_rgb[level](x)]  # encoder features e_k, from the top level down
        for k in range(level, 0, -1):
            h = self.down[k - 1](skips[-1])
            if k == level and fading:  # input side of the fade: fromRGB of the downscaled image
                h = fade(self.from_rgb[k - 1](downscale(x)), h, alpha)
            skips.append(h)
        d = self.base(skips.pop())
        old: torch.Tensor | None = None
        for k in range(1, level + 1):
            if k == level and fading:  # output side: the previous level's image, upscaled
                old = upscale(self.to_rgb[k - 1](d))
            d = (self.up[k - 1](d) + skips.pop()) * math.sqrt(0.5)  # decoder + encoder skip
        out = self.to_rgb[level](d)
        if old is not None:
            out = fade(old, out, alpha)
        return torch.tanh(out)


class ProgressiveDiscriminator(nn.Module):
    """The paper's critic, growing the same way: (B, in_ch, H, W) -> (B,) scores (raw, unbounded).

    Per level: fromRGB (1x1) and a block of two 3x3 convs + 2x box downscale. At level 0:
    minibatch stddev, a 3x3 conv, then -- instead of the reference's 4x4 conv + dense, which fix
    the input size -- global average pooling, a dense layer and the linear score. So it takes any
    H and W and any start resolution.
    """

    def __init__(self, in_ch: int, channels: list[int], *, mbstd_group: int = 4) -> None:
        super().__init__()
        n = len(channels)
        self.from_rgb = nn.ModuleList(_conv_act(in_ch, c, 1, pixel_norm=False) for c in channels)
        self.blocks = nn.ModuleList(
            _Down(channels[k], channels[k - 1], pixel_norm=False) for k in range(1, n)
        )
        c0 = channels[0]
        self.mbstd = MinibatchStdDev(mbstd_group) if mbstd_group > 0 else None
        self.conv = _conv_act(c0 + (1 if self.mbstd is not None else 0), c0, 3, pixel_norm=False)
        self.dense = _conv_act(c0, c0, 1, pixel_norm=False)
        self.score = EqualConv2d(c0, 1, 1, gain=1.0)

    def forward(self, x: torch.Tensor, level: int, alpha: float = 1.0) -> torch.Tensor:
        h = self.from_rgb[level](x)
        for k in range(level, 0, -1):
            h = self.blocks[k - 1](h)
            if k == level and level > 0 and alpha < 1.0:
                h = fade(self.from_rgb[k - 1](downscale(x)), h, alpha)
        if self.mbstd is not None:
            h = self.mbstd(h)
        h = self.conv(h).mean(dim=(2, 3), keepdim=True)  # (B, C, 1, 1)
        return self.score(self.dense(h)).flatten()
