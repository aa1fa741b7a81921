"""Shared network blocks (their layer and what may import them: docs/ARCHITECTURE.md)."""

from reflect.nn.attention import CAMAttention
from reflect.nn.blocks import ConvNormAct, ResBlock, Upsample, make_act, make_norm
from reflect.nn.discriminators import MultiScaleDiscriminator, PatchDiscriminator
from reflect.nn.encdec import DCGANDiscriminator, EncoderDecoderGenerator
from reflect.nn.equalized import EqualConv2d, MinibatchStdDev, PixelNorm
from reflect.nn.generators import ResnetGenerator
from reflect.nn.init import init_weights
from reflect.nn.multiscale import MultiScaleImageDiscriminator, StridedPatchDiscriminator
from reflect.nn.nice import NiceEncoder, NiceGenerator, NiceHeads
from reflect.nn.norms import LIN, AdaLIN, AdaLINResBlock
from reflect.nn.pool import ImagePool
from reflect.nn.progressive import ProgressiveDiscriminator, ProgressiveEncoderDecoder
from reflect.nn.utils import crop_to, pad_to_multiple
from reflect.nn.vae import SharedResBlocks, UnitDecoderBack, UnitEncoderFront, reparameterize

__all__ = [
    "LIN",
    "AdaLIN",
    "AdaLINResBlock",
    "CAMAttention",
    "DCGANDiscriminator",
    "EncoderDecoderGenerator",
    "EqualConv2d",
    "MinibatchStdDev",
    "PixelNorm",
    "ProgressiveDiscriminator",
    "ProgressiveEncoderDecoder",
    "MultiScaleImageDiscriminator",
    "NiceEncoder",
    "NiceGenerator",
    "NiceHeads",
    "SharedResBlocks",
    "StridedPatchDiscriminator",
    "UnitDecoderBack",
    "UnitEncoderFront",
    "reparameterize",
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
