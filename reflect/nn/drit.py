"""DRIT++ networks with multi-domain conditioning (Lee et al., "DRIT++: Diverse Image-to-Image
Translation via Disentangled Representations", IJCV 2020; the MDMM extension of its reference code).

An image splits into a **content** code (spatial, shared by all domains: the face and cabin layout)
and an **attribute** code (a vector of ``nz`` numbers: the look of the glass). The decoder renders
content with an attribute code in a target domain given as a one-hot vector. Layouts follow the
reference code (HsinYingLee/MDMM, ``concat=1``), with these fixes:

* the content discriminator and the image discriminator's domain head pool globally before their
  last layer, so they work at any input size (the reference sizes kernels to one crop: 216 px);
* the content discriminator pads its 7x7 convs (the reference's unpadded ones fail below ~200 px)
  and has the instance norm the reference meant to use (its ``'norm' == 'Instance'`` test
  compares two string literals, so it never added one);
* the Gaussian noise on the content code is added by the variant's training losses, not by a
  layer, so translation is deterministic in either mode.
"""

from __future__ import annotations

import torch
from torch import nn

from reflect.nn.blocks import ConvNormAct, ResBlock, make_norm
from reflect.nn.conditional import tile


class ContentEncoder(nn.Module):
    """``c7s1-64 (LeakyReLU), d128, d256 (3x3 stride 2, IN, ReLU), R256 x n_res``, reflection
    padding: (B, C, H, W) -> (B, 4 * dim, H / 4, W / 4). The last residual block is the one DRIT++
    shares between its per-domain content encoders; with one encoder for every domain (MDMM) it is
    simply part of it. H and W must be multiples of ``stride``."""

    stride = 4

    def __init__(self, in_ch: int = 3, *, dim: int = 64, n_res: int = 4) -> None:
        super().__init__()
        layers: list[nn.Module] = [nn.ReflectionPad2d(3), nn.Conv2d(in_ch, dim, 7), nn.LeakyReLU(0.01)]
        for _ in range(2):
            layers.append(ConvNormAct(dim, dim * 2, 3, 2, pad_mode="reflect", norm="instance"))
            dim *= 2
        layers += [ResBlock(dim, norm="instance", pad_mode="reflect") for _ in range(n_res)]
        self.model = nn.Sequential(*layers)
        self.out_channels = dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


class _MeanPoolResBlock(nn.Module):
    """DRIT's BasicBlock: lrelu-conv3x3-lrelu-conv3x3-avgpool2 plus an avgpool2-conv1x1 shortcut."""

    def __init__(self, in_ch: int, out_ch: int) -> None:
        super().__init__()
        self.conv = nn.Sequential(
            nn.LeakyReLU(0.2),
            nn.ReflectionPad2d(1),
            nn.Conv2d(in_ch, in_ch, 3),
            nn.LeakyReLU(0.2),
            nn.ReflectionPad2d(1),
            nn.Conv2d(in_ch, out_ch, 3),
            nn.AvgPool2d(2),
        )
        self.shortcut = nn.Sequential(nn.AvgPool2d(2), nn.Conv2d(in_ch, out_ch, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x) + self.shortcut(x)


class AttributeEncoder(nn.Module):
    """(B, C, H, W) image and (B, D) one-hot of its domain -> posterior (mu, logvar), each (B, nz).

    ``x ++ c``: a 4x4 stride-2 conv (64), three mean-pool residual blocks (128, 192, 256), global
    average pooling, two linear heads. Any H, W >= 16."""

    def __init__(self, in_ch: int, n_domains: int, *, dim: int = 64, nz: int = 8) -> None:
        super().__init__()
        layers: list[nn.Module] = [nn.ReflectionPad2d(1), nn.Conv2d(in_ch + n_domains, dim, 4, 2)]
        for n in range(1, 4):
            layers.append(_MeanPoolResBlock(dim * min(4, n), dim * min(4, n + 1)))
        layers += [nn.LeakyReLU(0.2), nn.AdaptiveAvgPool2d(1), nn.Flatten()]
        self.conv = nn.Sequential(*layers)
        self.fc_mu = nn.Linear(dim * 4, nz)
        self.fc_logvar = nn.Linear(dim * 4, nz)

    def forward(self, x: torch.Tensor, c: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.conv(torch.cat([x, tile(c, x)], dim=1))
        return self.fc_mu(h), self.fc_logvar(h)


class AttributeDecoder(nn.Module):
    """(content (B, K, h, w), attribute z (B, nz), target one-hot c (B, D)) -> (B, C, 4h, 4w) in [-1, 1].

    A residual block on the content, then ``++ c ++ z`` and 3 residual blocks; z is concatenated again
    before each of two 3x3 stride-2 transposed convs (layer norm, ReLU) and the 1x1 output conv."""

    def __init__(
        self, out_ch: int, n_domains: int, *, content_ch: int = 256, nz: int = 8, n_res: int = 3
    ) -> None:
        super().__init__()
        self.shared = ResBlock(content_ch, norm="instance", pad_mode="reflect")
        ch = content_ch + n_domains + nz
        self.res = nn.Sequential(*[ResBlock(ch, norm="instance", pad_mode="reflect") for _ in range(n_res)])
        self.ups = nn.ModuleList()
        for _ in range(2):
            ch += nz
            self.ups.append(
                nn.Sequential(
                    nn.ConvTranspose2d(ch, ch // 2, 3, 2, 1, output_padding=1),
                    make_norm("layer", ch // 2),
                    nn.ReLU(True),
                )
            )
            ch //= 2
        self.out = nn.Sequential(nn.ConvTranspose2d(ch + nz, out_ch, 1), nn.Tanh())

    def forward(self, content: torch.Tensor, z: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        h = self.shared(content)
        h = self.res(torch.cat([h, tile(c, h), tile(z, h)], dim=1))
        for up in self.ups:
            h = up(torch.cat([h, tile(z, h)], dim=1))
        return self.out(torch.cat([h, tile(z, h)], dim=1))


class ImageDomainDiscriminator(nn.Module):
    """``n_layers`` 3x3 stride-2 convs (LeakyReLU 0.01; channels doubling from ``ndf``, the last one
    keeping its width), then real/fake scores per patch (1x1 conv) and domain logits (global average
    pooling + linear). (B, C, H, W) -> ((B, 1, h, w), (B, n_domains)) for any H, W >= 2**(n_layers-1) + 1."""

    def __init__(self, in_ch: int, n_domains: int, *, ndf: int = 64, n_layers: int = 6) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        ch_in, ch = in_ch, ndf
        for i in range(n_layers):
            layers += [nn.ReflectionPad2d(1), nn.Conv2d(ch_in, ch, 3, 2), nn.LeakyReLU(0.01)]
            ch_in, ch = ch, ch if i >= n_layers - 2 else ch * 2
        self.main = nn.Sequential(*layers)
        self.src = nn.Conv2d(ch_in, 1, 1, bias=False)
        self.cls = nn.Linear(ch_in, n_domains, bias=False)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.main(x)
        return self.src(h), self.cls(h.mean(dim=(2, 3)))


class ContentDiscriminator(nn.Module):
    """Which domain did a content code come from? (B, K, h, w) -> (B, n_domains) logits.

    Three 7x7 stride-2 convs (zero padding 3, IN, LeakyReLU 0.01), a 4x4 conv, global average
    pooling and a linear layer; any h, w >= 8."""

    def __init__(self, n_domains: int, *, ch: int = 256) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        for _ in range(3):
            layers += [nn.Conv2d(ch, ch, 7, 2, 3), make_norm("instance", ch), nn.LeakyReLU(0.01)]
        layers += [nn.Conv2d(ch, ch, 4, 1, 2), nn.LeakyReLU(0.01)]
        self.main = nn.Sequential(*layers)
        self.cls = nn.Linear(ch, n_domains)

    def forward(self, content: torch.Tensor) -> torch.Tensor:
        return self.cls(self.main(content).mean(dim=(2, 3)))
