"""NICE-GAN's networks (Chen et al., "Reusing Discriminators for Encoding", CVPR 2020).

The discriminator of each domain is split in two here:

* :class:`NiceEncoder`: its first layers (two stride-2 convs and CAM attention). Their output
  ``z`` (B, 2*ndf, H/4, W/4) is the latent code the generator decodes; it is trained by the
  discriminator loss only.
* :class:`NiceHeads`: the rest of the discriminator: a local head (70x70 receptive field at the
  paper's ``n_layers=7``) and a global head (286x286), both LSGAN logit maps.

:class:`NiceGenerator` is a decoder only: LIN conv, ``n_blocks`` AdaLIN residual blocks whose
gamma/beta come from an MLP on ``z``, two sub-pixel upsamplers, and a 7x7 conv + tanh.
All convs of the discriminator side are spectrally normalised; padding is reflective.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils import spectral_norm as _sn

from reflect.nn.attention import CAMAttention
from reflect.nn.norms import LIN, AdaLINResBlock


def _down(in_ch: int, out_ch: int, stride: int) -> list[nn.Module]:
    """ReflectionPad(1) -> SN conv 4x4 -> LeakyReLU(0.2)."""
    return [nn.ReflectionPad2d(1), _sn(nn.Conv2d(in_ch, out_ch, 4, stride, bias=True)), nn.LeakyReLU(0.2)]


class NiceEncoder(nn.Module):
    """The shared first layers of a NICE-GAN discriminator: (B, C, H, W) -> (z, cam_logit).

    ``z``: (B, 2*ndf, H/4, W/4); ``cam_logit``: (B, 1). H and W must be multiples of 4.
    """

    stride = 4

    def __init__(self, in_ch: int = 3, *, ndf: int = 64) -> None:
        super().__init__()
        self.out_channels = 2 * ndf
        self.stem = nn.Sequential(*_down(in_ch, ndf, 2), *_down(ndf, 2 * ndf, 2))
        self.cam = CAMAttention(2 * ndf, spectral_norm=True)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        z, cam_logit, _ = self.cam(self.stem(x))
        return z, cam_logit


class NiceHeads(nn.Module):
    """Local and global discriminator heads on the encoder's ``z``: -> [local, global] logit maps.

    With ``n_layers=7`` (the paper) the local head sees 70x70 input patches and the global head
    286x286. ``n_layers=6`` is the smallest valid depth (for small test images).
    """

    def __init__(self, *, ndf: int = 64, n_layers: int = 7) -> None:
        super().__init__()
        if n_layers < 6:
            raise ValueError(f"NICE-GAN discriminator needs n_layers >= 6, got {n_layers}")
        ch = 2 * ndf
        trunk: list[nn.Module] = []
        for _ in range(n_layers - 6):  # shared stride-2 layers of both heads
            trunk += _down(ch, 2 * ch, 2)
            ch *= 2
        self.trunk = nn.Sequential(*trunk)
        self.local_head = nn.Sequential(
            *_down(ch, 2 * ch, 1), nn.ReflectionPad2d(1), _sn(nn.Conv2d(2 * ch, 1, 4, bias=False))
        )
        g = [*_down(ch, 2 * ch, 2), *_down(2 * ch, 4 * ch, 2)]
        g += [*_down(4 * ch, 8 * ch, 1), nn.ReflectionPad2d(1), _sn(nn.Conv2d(8 * ch, 1, 4, bias=False))]
        self.global_head = nn.Sequential(*g)

    def forward(self, z: torch.Tensor) -> list[torch.Tensor]:
        h = self.trunk(z)
        return [self.local_head(h), self.global_head(h)]


class NiceGenerator(nn.Module):
    """Decode an encoder code ``z`` (B, in_ch, H/4, W/4) into an image (B, out_ch, H, W) in [-1, 1].

    ``light=True`` computes the AdaLIN style from globally pooled features (any image size);
    ``light=False`` (the paper's full model) flattens the whole feature map into the first MLP
    layer, which ties the generator to ``img_size`` (and holds (img_size/4)^2 * 4*ngf^2 weights).
    """

    stride = 4

    def __init__(
        self,
        in_ch: int = 128,
        out_ch: int = 3,
        *,
        ngf: int = 64,
        n_blocks: int = 6,
        light: bool = True,
        img_size: int = 256,
    ) -> None:
        super().__init__()
        ch = 4 * ngf
        self.light, self.img_size = light, img_size
        self.entry = nn.Sequential(
            nn.ReflectionPad2d(1), nn.Conv2d(in_ch, ch, 3, bias=True), LIN(ch), nn.ReLU()
        )
        fc_in = ch if light else (img_size // 4) ** 2 * ch
        self.mlp = nn.Sequential(
            nn.Linear(fc_in, ch, bias=False), nn.ReLU(), nn.Linear(ch, ch, bias=False), nn.ReLU()
        )
        self.gamma = nn.Linear(ch, ch, bias=False)
        self.beta = nn.Linear(ch, ch, bias=False)
        self.blocks = nn.ModuleList(AdaLINResBlock(ch) for _ in range(n_blocks))
        up: list[nn.Module] = []
        for _ in range(2):  # sub-pixel upsampling, as the reference code
            up += [nn.ReflectionPad2d(1), nn.Conv2d(ch, ch // 2, 3, bias=False), LIN(ch // 2), nn.ReLU()]
            up += [nn.Conv2d(ch // 2, ch * 2, 1, bias=True), nn.PixelShuffle(2), LIN(ch // 2), nn.ReLU()]
            ch //= 2
        up += [nn.ReflectionPad2d(3), nn.Conv2d(ch, out_ch, 7, bias=False), nn.Tanh()]
        self.up = nn.Sequential(*up)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        x = self.entry(z)
        if self.light:
            style = self.mlp(x.mean(dim=(2, 3)))
        else:
            size = self.img_size // 4
            if x.shape[-2] != size or x.shape[-1] != size:
                raise ValueError(
                    f"NICE-GAN full generator (light=false) was built for {self.img_size}x{self.img_size} "
                    f"images; got a {tuple(x.shape[-2:])} code (use light=true for other sizes)"
                )
            style = self.mlp(x.flatten(1))
        gamma, beta = self.gamma(style), self.beta(style)
        for block in self.blocks:
            x = block(x, gamma, beta)
        return self.up(x)
