"""DiscoGAN's networks (Kim et al., ICML 2017): a BN conv encoder-decoder and a DCGAN discriminator.

Generator: ``n_down`` 4x4 stride-2 convs (64, 128, 256, 512; LeakyReLU 0.2; batch norm from the
second), then as many 4x4 stride-2 transposed convs back (ReLU, batch norm), tanh output. No
residual path: the whole image goes through a 1/16 bottleneck, which is what the paper uses for
its 64x64 experiments. Discriminator: the same encoder and a 4x4 valid conv to logits.
"""

from __future__ import annotations

import torch
from torch import nn

from reflect.nn.blocks import ConvNormAct, make_norm


def strided_encoder(in_ch: int, width: int, n: int, norm: str) -> tuple[list[nn.Module], int]:
    """``n`` 4x4 stride-2 convs, LeakyReLU 0.2, ``norm`` from the second, channels ``width`` doubling up to
    8x ``width``: the layers and the channels they end on (the generator's encoder and the discriminator)."""
    layers: list[nn.Module] = []
    ch_in, ch = in_ch, width
    for i in range(n):
        norm_i = "none" if i == 0 else norm
        layers.append(ConvNormAct(ch_in, ch, 4, 2, padding=1, norm=norm_i, act="lrelu", bias=False))
        ch_in, ch = ch, min(ch * 2, width * 8)
    return layers, ch_in


class EncoderDecoderGenerator(nn.Module):
    """(B, C, H, W) in [-1, 1] -> (B, C, H, W) in [-1, 1]; H and W multiples of ``stride`` = 2**n_down."""

    def __init__(
        self, in_ch: int = 3, out_ch: int = 3, *, ngf: int = 64, n_down: int = 4, norm: str = "batch"
    ) -> None:
        super().__init__()
        self.stride = 2**n_down
        layers, ch_in = strided_encoder(in_ch, ngf, n_down, norm)
        for i in range(n_down):
            last = i == n_down - 1
            ch = out_ch if last else ch_in // 2
            layers.append(nn.ConvTranspose2d(ch_in, ch, 4, 2, 1, bias=False))
            layers += [nn.Tanh()] if last else [make_norm(norm, ch), nn.ReLU(inplace=True)]
            ch_in = ch
        self.model = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


class DCGANDiscriminator(nn.Sequential):
    """(B, C, H, W) -> (B, 1, H/16 - 3, W/16 - 3) logits (a single logit at 64x64; 13x13 at 256x256).

    Needs H, W >= 16 * 4 at the default ``n_layers=4``.
    """

    def __init__(self, in_ch: int = 3, *, ndf: int = 64, n_layers: int = 4, norm: str = "batch") -> None:
        layers, ch_in = strided_encoder(in_ch, ndf, n_layers, norm)
        layers.append(nn.Conv2d(ch_in, 1, 4, 1, 0, bias=False))
        super().__init__(*layers)
