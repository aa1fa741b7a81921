"""The one conversion between 8-bit pixels and the networks' range: ``x = pixel / 127.5 - 1``.

Every model in the project reads and writes RGB in [-1, 1]; images on disk, frames from a video
and the face libraries (dlib, facenet-pytorch) use 0..255. These functions are the only place the
scale is written; torch is imported when one of them is called, not with this module.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import torch


def to_unit(pixels: torch.Tensor) -> torch.Tensor:
    """0..255 pixels (uint8 or float) -> float32 in [-1, 1], any layout."""
    return pixels.float().div(127.5).sub(1.0)


def to_pixels(x: torch.Tensor) -> torch.Tensor:
    """[-1, 1] -> float32 in [0, 255] (clamped first, not rounded), detached, any layout."""
    return x.detach().float().clamp(-1, 1).add(1).mul(127.5)


def to_uint8(x: torch.Tensor) -> torch.Tensor:
    """[-1, 1] -> uint8 0..255 (clamped, rounded to nearest), detached, any layout, on ``x``'s device."""
    import torch

    return to_pixels(x).round().to(torch.uint8)


def to_tensor(image: np.ndarray) -> torch.Tensor:
    """(H, W, 3) or (N, H, W, 3) uint8 -> (3, H, W) or (N, 3, H, W) float32 in [-1, 1] on the CPU."""
    import torch

    return to_unit(torch.from_numpy(np.require(image, requirements=["C", "W"])).movedim(-1, -3))


def to_image(x: torch.Tensor) -> np.ndarray:
    """(3, H, W) or (N, 3, H, W) in [-1, 1], any device -> (H, W, 3) or (N, H, W, 3) uint8, C-contiguous."""
    return np.ascontiguousarray(to_uint8(x).movedim(-3, -1).cpu().numpy())


def float_to_uint8(x: np.ndarray) -> np.ndarray:
    """Display values as floats in [0, 1] (the synthesiser's and the procedural scenes' working range)
    -> uint8 0..255, clipped, rounded to nearest."""
    return (np.clip(x, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)


def image_moments(images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-channel mean and standard deviation (3,) over every pixel of ``images`` (N, 3, H, W)."""
    flat = images.float().transpose(0, 1).reshape(images.shape[1], -1)
    return flat.mean(1), flat.std(1)
