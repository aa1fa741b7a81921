"""Whole-image translation with a trained variant: any size, optional overlapped tiling.

The variant's ``translate`` already pads to its stride and crops back. For frames too large to
translate in one pass, :func:`translate_image` cuts overlapping tiles and blends them with a
linear ramp, so tile seams do not show.
"""

from __future__ import annotations

import numpy as np
import torch

from reflect.data.io import to_image, to_tensor
from reflect.variants.base import Variant


def _ramp(n: int, overlap: int) -> torch.Tensor:
    w = torch.ones(n)
    if overlap > 0:
        r = torch.linspace(0, 1, overlap + 2)[1:-1]
        k = min(overlap, n // 2)
        w[:k] = r[:k]
        w[n - k :] = torch.minimum(w[n - k :], r[:k].flip(0))
    return w


@torch.no_grad()
def translate_tensor(
    variant: Variant, x: torch.Tensor, target: str | None = None, tile: int = 0, overlap: int = 32
) -> torch.Tensor:
    """(B, C, H, W) in [-1, 1] -> same; ``tile`` > 0 translates ``tile`` x ``tile`` pieces."""
    h, w = x.shape[-2:]
    if tile <= 0 or (h <= tile and w <= tile):
        return variant.translate(x, target=target)
    if overlap >= tile:
        raise ValueError(f"tile overlap {overlap} must be smaller than the tile size {tile}")
    step = tile - overlap
    out = torch.zeros_like(x)
    norm = torch.zeros(1, 1, h, w, device=x.device, dtype=x.dtype)
    ys = list(range(0, max(h - tile, 0) + 1, step))
    xs = list(range(0, max(w - tile, 0) + 1, step))
    if ys[-1] + tile < h:
        ys.append(h - tile)
    if xs[-1] + tile < w:
        xs.append(w - tile)
    for y0 in ys:
        for x0 in xs:
            piece = x[..., y0 : y0 + tile, x0 : x0 + tile]
            th, tw = piece.shape[-2:]
            weight = (_ramp(th, overlap if h > tile else 0)[:, None] * _ramp(tw, overlap if w > tile else 0)[None, :])
            weight = weight.to(x.device, x.dtype)
            out[..., y0 : y0 + th, x0 : x0 + tw] += variant.translate(piece, target=target) * weight
            norm[..., y0 : y0 + th, x0 : x0 + tw] += weight
    return out / norm.clamp_min(1e-8)


def translate_image(
    variant: Variant, image: np.ndarray, target: str | None = None, tile: int = 0, device: str | torch.device = "cpu"
) -> np.ndarray:
    """(H, W, 3) uint8 -> (H, W, 3) uint8 of the same size."""
    x = to_tensor(image).unsqueeze(0).to(device)
    return to_image(translate_tensor(variant, x, target=target, tile=tile)[0])
