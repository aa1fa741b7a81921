"""Whole-image translation with a trained variant: any size, optional overlapped tiling.

The variant's ``translate`` already pads to its stride and crops back. For frames too large to
translate in one pass, :func:`translate_tiled` cuts overlapping tiles and blends them with a
linear ramp, so tile seams do not show, one row of tiles at a time (its memory does not grow
with the frame beyond the uint8 input and output).
"""

from __future__ import annotations

import math
from collections.abc import Callable

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
            weight = (
                _ramp(th, overlap if h > tile else 0)[:, None]
                * _ramp(tw, overlap if w > tile else 0)[None, :]
            )
            weight = weight.to(x.device, x.dtype)
            out[..., y0 : y0 + th, x0 : x0 + tw] += variant.translate(piece, target=target) * weight
            norm[..., y0 : y0 + th, x0 : x0 + tw] += weight
    return out / norm.clamp_min(1e-8)


def translate_image(
    variant: Variant,
    image: np.ndarray,
    target: str | None = None,
    tile: int = 0,
    device: str | torch.device = "cpu",
    overlap: int = 32,
) -> np.ndarray:
    """(H, W, 3) uint8 -> (H, W, 3) uint8 of the same size; with ``tile``, in tiles (:func:`translate_tiled`)."""
    h, w = image.shape[:2]
    if tile <= 0 or (h <= tile and w <= tile):
        x = to_tensor(image).unsqueeze(0).to(device)
        return to_image(translate_tensor(variant, x, target=target)[0])

    @torch.no_grad()
    def one(piece: np.ndarray) -> np.ndarray:
        return to_image(variant.translate(to_tensor(piece).unsqueeze(0).to(device), target=target)[0])

    return translate_tiled(one, image, tile, overlap)


def _ramp_np(n: int, overlap: int) -> np.ndarray:
    w = np.ones(n, np.float32)
    k = min(overlap, n // 2)
    if k > 0:
        r = np.linspace(0, 1, overlap + 2, dtype=np.float32)[1:-1][:k]
        w[:k] = r
        w[n - k :] = np.minimum(w[n - k :], r[::-1])
    return w


def _starts(n: int, tile: int, step: int) -> list[int]:
    starts = list(range(0, max(n - tile, 0) + 1, step))
    if starts[-1] + tile < n:
        starts.append(n - tile)
    return starts


#: bytes a tiled translation holds per pixel of its current row of tiles (the float RGB accumulator)
BAND_BYTES_PER_PIXEL = 12.0
_FINISH_ROWS = 64  # rows quantised at a time (their float temporaries stay small)


def translate_tiled(
    translate: Callable[[np.ndarray], np.ndarray], image: np.ndarray, tile: int, overlap: int
) -> np.ndarray:
    """Translate one uint8 (H, W, 3) image in overlapping ``tile`` x ``tile`` pieces blended by linear ramps.

    ``translate``: one uint8 (h, w, 3) piece -> its uint8 translation. The tiles are taken one row of
    tiles at a time, and the rows that no later tile touches are finished and written to the uint8
    output at once: besides the input and the output, only one row's float accumulator (``tile`` x W x
    :data:`BAND_BYTES_PER_PIXEL`, which :func:`auto_tile` counts in the budget) and one tile's
    translation are held, however large the image is. The blend's normaliser is the product of a row
    and a column profile (the ramps are separable and the tiles a grid), so it takes no frame-sized buffer.
    """
    h, w = image.shape[:2]
    step = tile - overlap
    out = np.empty_like(image)
    band = min(tile, h)
    ys, xs = _starts(h, tile, step), _starts(w, tile, step)
    ramp_y, ramp_x = (
        _ramp_np(min(tile, h), overlap if h > tile else 0),
        _ramp_np(min(tile, w), overlap if w > tile else 0),
    )
    cols = np.zeros(w, np.float32)  # sum of the column ramps of every tile column
    for x0 in xs:
        cols[x0 : x0 + len(ramp_x)] += ramp_x
    rows = np.zeros(h, np.float32)  # sum of the row ramps of every tile row
    for y0 in ys:
        rows[y0 : y0 + len(ramp_y)] += ramp_y
    acc = np.zeros((band, w, 3), np.float32)
    top = 0  # the image row of acc[0]

    def finish(n: int) -> None:  # rows [top, top + n) are complete: quantise them into the output
        for r in range(0, n, _FINISH_ROWS):
            k = min(_FINISH_ROWS, n - r)
            norm = np.maximum(rows[top + r : top + r + k, None] * cols[None, :], 1e-8)
            done = acc[r : r + k] / norm[..., None]
            done += 0.5
            out[top + r : top + r + k] = np.clip(done, 0, 255, out=done).astype(np.uint8)

    for y0 in ys:
        if y0 > top:  # no tile from here on reaches above y0
            k = y0 - top
            finish(k)
            acc[: band - k] = acc[k:]  # numpy copies overlapping ranges correctly
            acc[band - k :] = 0
            top = y0
        for x0 in xs:
            piece = np.ascontiguousarray(image[y0 : y0 + tile, x0 : x0 + tile])
            th, tw = piece.shape[:2]
            weight = ramp_y[:th, None] * ramp_x[None, :tw]
            acc[:th, x0 : x0 + tw] += translate(piece).astype(np.float32) * weight[..., None]
    finish(h - top)
    return out


def at_work_size(
    translate: Callable[[np.ndarray], np.ndarray], image: np.ndarray, work_size: int
) -> np.ndarray:
    """Translate a uint8 (H, W, 3) image at a working size: the model sees the image scaled down (area
    average) so that its longer side is ``work_size`` px, and what it changed there (its output less its
    input) is scaled back up (bilinear) and added to the full-size image.

    A remover learns reflections at the scale of its training crops (the bundled one: 256 px, faces 40-100
    px wide): given the same scene four times larger it takes skin and backdrops for reflections and paints
    them dark. At the working size it sees the scale it knows, and the image keeps its own fine detail,
    which the scaled-up correction (smooth, as reflections are) does not touch. Images no larger than
    ``work_size`` (or ``work_size`` <= 0) go through ``translate`` unchanged. The correction is scaled up
    :data:`_FINISH_ROWS` rows at a time (pixel centres aligned, as ``cv2.resize`` aligns them), so besides
    the input and the output only the small image's buffers and one band of floats are held.
    """
    h, w = image.shape[:2]
    if work_size <= 0 or max(h, w) <= work_size:
        return translate(image)
    import cv2

    scale = work_size / max(h, w)
    small = cv2.resize(
        image, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA
    )
    delta = translate(small).astype(np.float32) - small.astype(np.float32)
    hs, ws = small.shape[:2]
    xs = np.clip((np.arange(w, dtype=np.float32) + 0.5) * (ws / w) - 0.5, 0, ws - 1)
    out = np.empty_like(image)
    for r0 in range(0, h, _FINISH_ROWS):
        r1 = min(h, r0 + _FINISH_ROWS)
        ys = np.clip((np.arange(r0, r1, dtype=np.float32) + 0.5) * (hs / h) - 0.5, 0, hs - 1)
        mx, my = np.meshgrid(xs, ys)
        band = np.asarray(
            cv2.remap(delta, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE), np.float32
        )
        band += image[r0:r1]
        band += 0.5
        out[r0:r1] = np.clip(band, 0, 255, out=band).astype(np.uint8)
    return out


#: used where a backend cannot be measured (ONNX Runtime, TensorRT): about what a 64-channel generator needs
DEFAULT_BYTES_PER_PIXEL = 1024.0


@torch.no_grad()
def bytes_per_pixel(variant: Variant, target: str | None = None, size: int = 64) -> float:
    """Peak activation memory of one translation per input pixel, measured on one small forward.

    Three times the largest layer output (its input, its output and one temporary), float32: the
    figure that decides whether a frame fits a job's memory budget or is translated in tiles.
    """
    peak = 0

    def hook(_m: torch.nn.Module, _i: object, out: object) -> None:
        nonlocal peak
        if torch.is_tensor(out):
            peak = max(peak, out.numel())

    channels = variant.cfg.in_channels
    device = next(iter(variant.parameters()), torch.zeros(0)).device
    handles = [m.register_forward_hook(hook) for m in variant.modules() if m is not variant]
    try:
        variant.translate(torch.zeros(1, channels, size, size, device=device), target=target)
    finally:
        for h in handles:
            h.remove()
    return 3 * 4 * max(peak, channels * size * size) / (size * size)


def budget_pixels(memory_mb: float, bytes_per_px: float) -> int:
    """How many input pixels one translation call may hold within ``memory_mb``."""
    return max(1, int(memory_mb * 2**20 / bytes_per_px))


def auto_tile(height: int, width: int, max_pixels: int, bytes_per_px: float = 0.0) -> tuple[int, int]:
    """``(tile, overlap)`` for a frame above ``max_pixels`` (``(0, 0)``: it fits whole).

    Tiles are square, a multiple of 8, at least 32 px; the overlap is a quarter of the tile, at most 32.
    With the model's ``bytes_per_px`` the row of tiles' float accumulator (``tile`` x ``width``,
    :data:`BAND_BYTES_PER_PIXEL` each) is counted in the budget too: tile^2 + share x tile x width <= max_pixels.
    """
    if height * width <= max_pixels:
        return 0, 0
    share = BAND_BYTES_PER_PIXEL / bytes_per_px if bytes_per_px > 0 else 0.0
    side = (-share * width + math.sqrt((share * width) ** 2 + 4 * max_pixels)) / 2
    tile = max(32, int(side) // 8 * 8)
    return tile, min(32, tile // 4)
