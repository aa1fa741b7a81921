"""Discriminators: n-layer PatchGAN and its multi-scale stack."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from reflect.nn.blocks import ConvNormAct


class PatchDiscriminator(nn.Module):
    """PatchGAN (Isola et al.): with n_layers=3, each output logit sees a 70x70 input patch.

    ``C64 - C128 - C256 - C512(stride 1) - conv1``; no norm on the first layer; LeakyReLU 0.2.
    Output: (B, 1, H', W') logits (no sigmoid; the loss decides).
    """

    def __init__(
        self,
        in_ch: int = 3,
        *,
        ndf: int = 64,
        n_layers: int = 3,
        norm: str = "instance",
        spectral_norm: bool = False,
    ) -> None:
        super().__init__()
        if spectral_norm:
            norm = "none"
        kw = {"padding": 1, "act": "lrelu", "spectral_norm": spectral_norm}
        layers: list[nn.Module] = [ConvNormAct(in_ch, ndf, 4, 2, norm="none", bias=True, **kw)]  # type: ignore[arg-type]
        ch = ndf
        for i in range(1, n_layers + 1):
            nxt = ndf * min(2**i, 8)
            stride = 2 if i < n_layers else 1
            layers.append(ConvNormAct(ch, nxt, 4, stride, norm=norm, **kw))  # type: ignore[arg-type]
            ch = nxt
        layers.append(
            ConvNormAct(
                ch, 1, 4, 1, padding=1, norm="none", act="none", bias=True, spectral_norm=spectral_norm
            )
        )
        self.model = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


class MultiScaleDiscriminator(nn.Module):
    """``num_scales`` discriminators on the image downsampled by 2 each time (pix2pixHD, UNIT, MUNIT).

    Each scale is a ``scale_cls(in_ch, **scale_kwargs)``: a :class:`PatchDiscriminator` by default,
    :class:`reflect.nn.multiscale.StridedPatchDiscriminator` for UNIT. Returns a list of logit
    maps, finest first.
    """

    def __init__(
        self,
        in_ch: int = 3,
        *,
        num_scales: int = 3,
        scale_cls: type[nn.Module] = PatchDiscriminator,
        **scale_kwargs: object,
    ) -> None:
        super().__init__()
        self.scales = nn.ModuleList(scale_cls(in_ch, **scale_kwargs) for _ in range(num_scales))

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        outs = []
        for i, d in enumerate(self.scales):
            if i:
                x = F.avg_pool2d(x, 3, stride=2, padding=1, count_include_pad=False)
            outs.append(d(x))
        return outs
