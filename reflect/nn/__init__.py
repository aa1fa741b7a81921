"""Shared network blocks (see DESIGN.md: nn/)."""

from reflect.nn.blocks import ConvNormAct, ResBlock, Upsample, make_act, make_norm
from reflect.nn.discriminators import MultiScaleDiscriminator, PatchDiscriminator
from reflect.nn.generators import ResnetGenerator
from reflect.nn.init import init_weights
from reflect.nn.pool import ImagePool
from reflect.nn.utils import crop_to, pad_to_multiple

__all__ = [
    "ConvNormAct",
    "ImagePool",
    "MultiScaleDiscriminator",
    "PatchDiscriminator",
    "ResBlock",
    "ResnetGenerator",
    "Upsample",
    "crop_to",
    "init_weights",
    "make_act",
    "make_norm",
    "pad_to_multiple",
]
