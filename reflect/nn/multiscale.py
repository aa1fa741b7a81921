"""The multi-scale image discriminator of UNIT and MUNIT (Liu et al. 2017; Huang et al. 2018).

Each scale is ``n_layers`` 4x4 stride-2 convs (LeakyReLU 0.2, reflection padding, no norm by
default) and a 1x1 conv to logits; the image is average-pooled by 2 between scales. Unlike
:class:`reflect.nn.PatchDiscriminator` every layer halves the resolution, so the coarsest scale
judges almost the whole image.
"""

from __future__ import annotations

from torch import nn

from reflect.nn.blocks import ConvNormAct
from reflect.nn.discriminators import MultiScaleDiscriminator


class StridedPatchDiscriminator(nn.Sequential):
    """(B, C, H, W) -> (B, 1, H / 2**n_layers, W / 2**n_layers) logits."""

    def __init__(
        self,
        in_ch: int = 3,
        *,
        ndf: int = 64,
        n_layers: int = 4,
        norm: str = "none",
        pad_mode: str = "reflect",
        spectral_norm: bool = False,
    ) -> None:
        layers: list[nn.Module] = []
        ch_in, ch = in_ch, ndf
        for i in range(n_layers):
            layers.append(
                ConvNormAct(
                    ch_in,
                    ch,
                    4,
                    2,
                    padding=1,
                    pad_mode=pad_mode,
                    norm="none" if i == 0 else norm,
                    act="lrelu",
                    bias=True,
                    spectral_norm=spectral_norm,
                )
            )
            ch_in, ch = ch, ch * 2
        layers.append(nn.Conv2d(ch_in, 1, 1))
        super().__init__(*layers)


class MultiScaleImageDiscriminator(MultiScaleDiscriminator):
    """``num_scales`` :class:`StridedPatchDiscriminator` on the image at 1, 1/2, 1/4, ... resolution.

    Returns a list of logit maps, finest first (the adversarial losses average over it).
    """

    def __init__(self, in_ch: int = 3, *, num_scales: int = 3, **kwargs: object) -> None:
        super().__init__(in_ch, num_scales=num_scales, scale_cls=StridedPatchDiscriminator, **kwargs)
