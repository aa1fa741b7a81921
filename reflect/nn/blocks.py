"""Shared building blocks: conv-norm-activation, residual blocks and upsamplers.

Every generator and discriminator in :mod:`reflect.variants` is assembled from these, so a variant
file states its architecture in a few lines, as the papers do (``c7s1-64, d128, d256, R256 x 9,
u128, u64, c7s1-3`` for CycleGAN).
"""

from __future__ import annotations

from typing import Literal, get_args

import torch
from torch import nn
from torch.nn.utils import spectral_norm as _spectral_norm

Norm = Literal[
    "batch", "instance", "instance_affine", "layer", "none"
]  # config fields typed so are checked at load
Upsampler = Literal["transposed", "nearest", "bilinear", "pixel_shuffle"]
NORMS: tuple[str, ...] = get_args(Norm)
ACTIVATIONS = ("relu", "lrelu", "tanh", "sigmoid", "none")
UPSAMPLERS: tuple[str, ...] = get_args(Upsampler)
PAD_MODES = ("zeros", "reflect", "replicate")


def make_norm(kind: str, channels: int) -> nn.Module:
    """``instance`` follows CycleGAN: no affine parameters and no running statistics.
    ``instance_affine`` (StarGAN) learns a per-channel scale and shift, still without running
    statistics, so a network computes the same output in train and eval mode (and in ONNX)."""
    if kind == "batch":
        return nn.BatchNorm2d(channels)
    if kind in ("instance", "instance_affine"):
        return nn.InstanceNorm2d(channels, affine=kind == "instance_affine", track_running_stats=False)
    if kind == "layer":
        # LayerNorm over (C, H, W) with per-channel affine, as in MUNIT/UNIT decoders.
        return nn.GroupNorm(1, channels)
    if kind == "none":
        return nn.Identity()
    raise ValueError(f"unknown norm '{kind}'; valid: {', '.join(NORMS)}")


def make_act(kind: str) -> nn.Module:
    if kind == "relu":
        return nn.ReLU(inplace=True)
    if kind == "lrelu":
        return nn.LeakyReLU(0.2, inplace=True)
    if kind == "tanh":
        return nn.Tanh()
    if kind == "sigmoid":
        return nn.Sigmoid()
    if kind == "none":
        return nn.Identity()
    raise ValueError(f"unknown activation '{kind}'; valid: {', '.join(ACTIVATIONS)}")


def _bias_for(norm: str) -> bool:
    # A norm with a learned shift (batch, layer) makes the conv bias redundant. Instance norm here
    # is non-affine, and CycleGAN keeps the bias with it; we follow that to match its parameters.
    return norm not in ("batch", "instance_affine", "layer")


class ConvNormAct(nn.Sequential):
    """Padding -> conv -> norm -> activation (imaginaire's ``Conv2dBlock`` in 'CNA' order)."""

    def __init__(
        self,
        in_ch: int,
        out_ch: int,
        kernel: int = 3,
        stride: int = 1,
        *,
        padding: int | None = None,
        pad_mode: str = "zeros",
        norm: str = "instance",
        act: str = "relu",
        bias: bool | None = None,
        spectral_norm: bool = False,
    ) -> None:
        if pad_mode not in PAD_MODES:
            raise ValueError(f"unknown pad_mode '{pad_mode}'; valid: {', '.join(PAD_MODES)}")
        pad = kernel // 2 if padding is None else padding
        layers: list[nn.Module] = []
        if pad_mode != "zeros" and pad > 0:
            layers.append(nn.ReflectionPad2d(pad) if pad_mode == "reflect" else nn.ReplicationPad2d(pad))
            pad = 0
        conv = nn.Conv2d(in_ch, out_ch, kernel, stride, pad, bias=_bias_for(norm) if bias is None else bias)
        layers.append(_spectral_norm(conv) if spectral_norm else conv)
        layers.append(make_norm(norm, out_ch))
        layers.append(make_act(act))
        super().__init__(*[m for m in layers if not isinstance(m, nn.Identity)])


class ResBlock(nn.Module):
    """x + conv-norm-relu-conv-norm(x); CycleGAN's R256 block (optional dropout between)."""

    def __init__(
        self,
        channels: int,
        *,
        norm: str = "instance",
        pad_mode: str = "reflect",
        dropout: float = 0.0,
        act: str = "relu",
    ) -> None:
        super().__init__()
        layers: list[nn.Module] = [ConvNormAct(channels, channels, 3, pad_mode=pad_mode, norm=norm, act=act)]
        if dropout > 0:
            layers.append(nn.Dropout(dropout))
        layers.append(ConvNormAct(channels, channels, 3, pad_mode=pad_mode, norm=norm, act="none"))
        self.body = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class Upsample(nn.Sequential):
    """Double the resolution.

    ``transposed``: ConvTranspose2d(k3, s2) as in CycleGAN; known to leave checkerboard artefacts.
    ``nearest`` / ``bilinear``: resize then a 3x3 conv (Odena et al., 2016), artefact-free.
    ``pixel_shuffle``: conv to 4x channels then PixelShuffle(2) (sub-pixel convolution).
    """

    def __init__(
        self,
        in_ch: int,
        out_ch: int,
        *,
        mode: str = "transposed",
        norm: str = "instance",
        act: str = "relu",
        pad_mode: str = "zeros",
    ) -> None:
        bias = _bias_for(norm)
        layers: list[nn.Module]
        if mode == "transposed":
            layers = [nn.ConvTranspose2d(in_ch, out_ch, 3, 2, 1, output_padding=1, bias=bias)]
        elif mode in ("nearest", "bilinear"):
            up = nn.Upsample(
                scale_factor=2, mode=mode, **({} if mode == "nearest" else {"align_corners": False})
            )
            layers = [
                up,
                *ConvNormAct(in_ch, out_ch, 3, pad_mode=pad_mode, norm="none", act="none", bias=bias),
            ]
        elif mode == "pixel_shuffle":
            layers = [
                *ConvNormAct(in_ch, out_ch * 4, 3, pad_mode=pad_mode, norm="none", act="none", bias=bias),
                nn.PixelShuffle(2),
            ]
        else:
            raise ValueError(f"unknown upsampler '{mode}'; valid: {', '.join(UPSAMPLERS)}")
        layers += [make_norm(norm, out_ch), make_act(act)]
        super().__init__(*[m for m in layers if not isinstance(m, nn.Identity)])
