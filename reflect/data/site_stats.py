"""Statistics of a site's crops that its glass leaves in them, read without a model
(``reflect adapt --pair-glass site-mean|site-floor``, :meth:`reflect.data.site.SiteDataset._fit_site_glass`):
the scenes' detail (the contrast a glass takes), the mean image (the light it adds on average) and each
crop's light floor (the haze under its whole scene). Pure functions of display images in [0, 1]."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from reflect.data.synth import glass

DETAIL_CELL = 4  # px per side of the cells whose differences measure a scene's detail
SITE_GLASS_GRID = 4  # cells per side of the site's glass light maps (--pair-glass site-mean, site-floor)
FLOOR_QUANTILE = 0.05  # a cell's light floor: this quantile of its pixels (--pair-glass site-floor)


def fine_detail(stack: np.ndarray) -> np.ndarray:
    """Per-channel mean absolute second difference of neighbouring cells (3,) of a stack (N, H, W, 3),
    each cell the mean of :data:`DETAIL_CELL` px squared: the scene's detail, to which smooth light
    adds nothing (a second difference cancels any light that grows linearly across the crop: an
    airlight, a haze toward the sun, a blurred reflection barely count) and in which sensor noise
    averages out (clean crops, enrolment photos, may carry less of it than the crops through the glass)."""
    n, h, w, c = stack.shape
    cell = DETAIL_CELL if min(h, w) >= 4 * DETAIL_CELL else 1
    h, w = h // cell * cell, w // cell * cell
    cells = stack[:, :h, :w].reshape(n, h // cell, cell, w // cell, cell, c).mean((2, 4))
    dx = np.abs(np.diff(cells, n=2, axis=2)).reshape(-1, c).mean(0)
    dy = np.abs(np.diff(cells, n=2, axis=1)).reshape(-1, c).mean(0)
    out: np.ndarray = 0.5 * (dx + dy)
    return out


def light_floor(image: np.ndarray, grid: int = SITE_GLASS_GRID) -> np.ndarray:
    """Per cell of a ``grid`` x ``grid`` split and per channel, the :data:`FLOOR_QUANTILE` quantile of an
    image's (H, W, 3) pixels: (grid, grid, 3). The light no part of the cell goes below: what a haze or a
    veil adds everywhere (the dark channel prior of He et al., CVPR 2009: every patch of a natural scene
    holds some nearly dark pixels), while the scene's content and a reflection's structure sit above it."""
    h, w, c = image.shape
    ch, cw = h // grid, w // grid
    cells = image[: ch * grid, : cw * grid].reshape(grid, ch, grid, cw, c).transpose(0, 2, 1, 3, 4)
    out: np.ndarray = np.quantile(cells.reshape(grid, grid, ch * cw, c), FLOOR_QUANTILE, axis=2)
    return out.astype(np.float32)


def linear_stats(images: Iterable[np.ndarray]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The mean image (H, W, 3), :func:`fine_detail` (3,) and each image's :func:`light_floor`
    (N, grid, grid, 3) of same-sized display images (H, W, 3) in [0, 1], in linear light, reading one
    image at a time."""
    total, detail, floors, n = np.zeros(0), np.zeros(3), [], 0
    for image in images:
        lin = glass.to_linear(image)
        total = lin.astype(np.float64) if n == 0 else total + lin
        detail = detail + fine_detail(lin[None])
        floors.append(light_floor(lin))
        n += 1
    if n == 0:
        raise ValueError("no images to take statistics of")
    return (total / n).astype(np.float32), (detail / n).astype(np.float32), np.stack(floors)
