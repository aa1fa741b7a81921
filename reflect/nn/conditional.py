"""Domain-conditioned networks for multi-domain translation (StarGAN: Choi et al., CVPR 2018).

The target domain enters as a one-hot vector (B, D) tiled over the image and concatenated to it.
Normalisation is instance norm with affine parameters and **no running statistics**: the
reference code tracks running statistics, which makes eval-mode (and exported) outputs differ from
training-mode ones; here both are the same. The discriminator's classification head pools globally
before its linear layer, so it works at any input size (the reference's head is a convolution whose
kernel equals the final feature map of one crop size, and fails at any other).
"""

from __future__ import annotations

import torch
from torch import nn

from reflect.nn.blocks import ConvNormAct, ResBlock, make_norm


def tile(code: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """(B, K) -> (B, K, H, W) with ``like``'s H and W (symbolic under ONNX export)."""
    return code[:, :, None, None].expand(-1, -1, like.shape[2], like.shape[3])


class ConditionalResnetGenerator(nn.Module):
    """StarGAN's generator: ``x ++ c -> c7s1-64, d128, d256, R256 x n_blocks, u128, u64, c7s1-3, tanh``.

    Downsampling: 4x4 stride-2 convs; upsampling: 4x4 stride-2 transposed convs; convs without bias
    (every one is followed by an affine instance norm). Input (B, C, H, W) in [-1, 1] with H, W
    multiples of ``stride`` = 4, and a (B, n_domains) code; output (B, out_ch, H, W) in [-1, 1].
    With ngf 64, 6 blocks and 6 domains it has 8.43 M parameters (the reference, 5 domains: 8.43 M).
    """

    stride = 4

    def __init__(self, in_ch: int, out_ch: int, n_domains: int, *, ngf: int = 64, n_blocks: int = 6) -> None:
        super().__init__()
        norm = "instance_affine"
        layers: list[nn.Module] = [ConvNormAct(in_ch + n_domains, ngf, 7, norm=norm, bias=False)]
        ch = ngf
        for _ in range(2):
            layers.append(ConvNormAct(ch, ch * 2, 4, 2, padding=1, norm=norm, bias=False))
            ch *= 2
        layers += [ResBlock(ch, norm=norm, pad_mode="zeros") for _ in range(n_blocks)]
        for _ in range(2):
            layers += [
                nn.ConvTranspose2d(ch, ch // 2, 4, 2, 1, bias=False),
                make_norm(norm, ch // 2),
                nn.ReLU(True),
            ]
            ch //= 2
        layers.append(ConvNormAct(ch, out_ch, 7, norm="none", act="tanh", bias=False))
        self.model = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor, code: torch.Tensor) -> torch.Tensor:
        return self.model(torch.cat([x, tile(code, x)], dim=1))


class SourceClassDiscriminator(nn.Module):
    """StarGAN's discriminator: ``n_layers`` 4x4 stride-2 convs (LeakyReLU 0.01; channels doubling
    from ``ndf``), then two heads on the last feature map: a 3x3 conv to real/fake scores (a patch
    map, D_src) and global average pooling + a linear layer to domain logits (D_cls).

    (B, C, H, W) -> ((B, 1, H / 2**n_layers, W / 2**n_layers), (B, n_domains)) for any H, W >= 2**n_layers.
    """

    def __init__(self, in_ch: int, n_domains: int, *, ndf: int = 64, n_layers: int = 6) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        ch_in, ch = in_ch, ndf
        for _ in range(n_layers):
            layers += [nn.Conv2d(ch_in, ch, 4, 2, 1), nn.LeakyReLU(0.01)]
            ch_in, ch = ch, ch * 2
        self.main = nn.Sequential(*layers)
        self.src = nn.Conv2d(ch_in, 1, 3, 1, 1, bias=False)
        self.cls = nn.Linear(ch_in, n_domains, bias=False)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.main(x)
        return self.src(h), self.cls(h.mean(dim=(2, 3)))
