"""Label-free losses of site adaptation (``reflect adapt``, :mod:`reflect.variants.adapt`).

* :func:`resynthesise` makes pseudo-pairs from the model's own output: the cleaned site crop ``T0``
  (detached) gets a new reflection through one of the synthesiser's glass models
  (:mod:`reflect.data.synth.blends`: ``linear``, ``screen``, ``gains``, in linear light), and the
  model must give ``T0`` back from it (the ``resynthesis`` loss, an L1).
* :func:`composition`: the ``layers`` output form composes ``T = g * (x - R) + d`` from the input, so
  ``x = (T - d) / g + R`` holds by construction up to the bounded detail term. The penalty that
  matters is what the construction does *not* enforce: the reflection cannot hold more light than
  the input holds at that pixel (``R <= x``), the unclamped transmission stays a physical image
  (``0 <= T <= 1``), and the unexplained part ``|d| / g`` (what the layers do not recompose) stays
  small. Each term is a mean over pixels in [0, 1] units.
* :func:`colour_moments` (with ``reflect adapt --clean``): the per-channel mean and spread of the cleaned
  site crops match the clean images'. What a site's glass does to the whole image (its transmission
  loss, its tint) is a constant of the site that no single crop reveals (a dim scene and a dim glass
  look alike) and that re-synthesis cannot teach (its target is the model's own output); a folder of
  clean crops of the same camera does reveal it, through these two moments.
* :func:`through_site_glass` (``reflect adapt --clean-pairs F --pair-glass site``): clean crops of the
  site behind the site's *own* glass as the model reads it on a site crop. The ``layers`` form says
  what the glass did to that crop: ``x = (T - d) / g + R``, a per-channel transmission loss ``1 / g``
  and a reflection layer ``R`` (with whatever haze, veil or tint the glass adds to it); the same glass
  over a clean crop is ``c / g + R``. The re-synthesis glass models only teach glasses like themselves.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch.nn import functional as F

from reflect.data.synth import blends
from reflect.data.synth.blends import BLEND_PARAMS
from reflect.nn.unet import GAIN_HIGH, GAIN_LOW
from reflect.utils.images import image_moments


def gain_from_logit(z: torch.Tensor) -> torch.Tensor:
    """The ``layers`` form's per-channel gain from its conv's output ``z`` (B, C, 1, 1) (see
    :meth:`reflect.nn.unet.RemovalUNet._compose`)."""
    offset = math.log((1.0 - GAIN_LOW) / (GAIN_HIGH - 1.0))
    return GAIN_LOW + (GAIN_HIGH - GAIN_LOW) * torch.sigmoid(z + offset)


def composition(x: torch.Tensor, t: torch.Tensor, r: torch.Tensor, gain: torch.Tensor | None) -> torch.Tensor:
    """The composition penalty (module docstring). ``x``, ``t`` (unclamped), ``r``: (B, 3, H, W) in
    [-1, 1] units as :meth:`~reflect.nn.unet.RemovalUNet.layers` returns them; ``gain`` (B, 3, 1, 1)
    or None (the ``correction`` form: g = 1)."""
    x01, t01, r01 = (x.float() + 1) * 0.5, (t.float() + 1) * 0.5, r.float() * 0.5
    g = torch.ones_like(x01[:, :, :1, :1]) if gain is None else gain.float()
    detail = t01 - g * (x01 - r01)  # d of T = g * (x - R) + d
    unexplained = (detail / g).abs().mean()  # |x - (T / g + R)|, since x - R - T/g = -d/g
    excess = F.relu(r01 - x01).mean()  # a reflection brighter than the input
    out_of_range = (F.relu(-t01) + F.relu(t01 - 1.0)).mean()
    return unexplained + excess + out_of_range


def colour_moments(t: torch.Tensor, mean: torch.Tensor, std: torch.Tensor) -> torch.Tensor:
    """L1 between the per-channel mean and standard deviation of the cleaned crops ``t`` (N, 3, H, W) in
    [-1, 1] and the clean images' ``mean`` and ``std`` (3,), in [0, 1] units."""
    return colour_moments_of(*cleaned_moments(t), mean, std)


def cleaned_moments(t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-channel mean and standard deviation (3,) of cleaned crops ``t`` (N, 3, H, W) in [-1, 1], in [0, 1] units."""
    return image_moments((t.clamp(-1, 1) + 1) * 0.5)


def colour_moments_of(
    m: torch.Tensor, s: torch.Tensor, mean: torch.Tensor, std: torch.Tensor
) -> torch.Tensor:
    """:func:`colour_moments` from moments already taken: ``m`` and ``s`` (3,) against ``mean`` and
    ``std`` (3,), all in [0, 1] units."""
    return 0.5 * ((m - mean.to(m)).abs().mean() + (s - std.to(s)).abs().mean())


def resynthesise(t0: torch.Tensor, layer: torch.Tensor, params: torch.Tensor) -> torch.Tensor:
    """New inputs with a new reflection: ``t0`` (N, 3, H, W) in [-1, 1] (the model's detached output),
    ``layer`` (N, 3, H, W) display values in [0, 1] (the reflected scene), ``params`` (N, 9): see
    :data:`~reflect.data.synth.blends.BLEND_PARAMS`. The synthesiser's blends run in numpy, in linear light; returns (N, 3, H, W)
    in [-1, 1] on ``t0``'s device."""
    t_np = ((t0.detach().float().clamp(-1, 1) + 1) * 0.5).permute(0, 2, 3, 1).cpu().numpy()
    r_np = layer.detach().float().clamp(0, 1).permute(0, 2, 3, 1).cpu().numpy()
    p_np = params.detach().double().cpu().numpy()
    out = [blends.apply_row(t, r, p) for t, r, p in zip(t_np, r_np, p_np, strict=True)]
    stacked = torch.from_numpy(np.stack(out)).permute(0, 3, 1, 2).to(t0.device)
    return stacked * 2.0 - 1.0


def fallback_blend(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """A reflection for batches that carry none (a plain two-domain batch): each image's mirror
    image, blended linearly at strength 0.35 with a 2 px blur. Returns (layer, params)."""
    layer = (x.detach().flip(-1).float() + 1) * 0.5
    params = torch.zeros(x.shape[0], BLEND_PARAMS)
    params[:, 1], params[:, 2] = 0.35, 2.0
    return layer, params


def through_site_glass(clean: torch.Tensor, r: torch.Tensor, gain: torch.Tensor | None) -> torch.Tensor:
    """``clean`` (P, 3, H, W) in [-1, 1] behind the glass read on site crops: ``c / g + R`` in [0, 1]
    units, clipped to the sensor's range, returned in [-1, 1]. ``r`` (S, 3, H, W) and ``gain``
    (S, 3, 1, 1) are :meth:`~reflect.nn.unet.RemovalUNet.layers`'s reflection (in its [-1, 1] units, twice
    [0, 1]) and per-channel gain on S site crops (detached); clean crop ``i`` gets site glass ``i % S``.
    ``gain`` None: the ``correction`` form (g = 1)."""
    idx = torch.arange(clean.shape[0], device=clean.device) % r.shape[0]
    c01 = (clean.float() + 1.0) * 0.5
    g = torch.ones_like(c01[:, :, :1, :1]) if gain is None else gain.float()[idx]
    x01 = c01 / g + r.float()[idx] * 0.5
    return x01.clamp(0.0, 1.0) * 2.0 - 1.0
