"""Losses on the two layers of a window image, known to work for single-image reflection removal and
needing no downloaded weights: the transmission ``T`` (what lies behind the glass) and the reflection
``R``.

- :func:`gradient_l1`: multi-scale L1 between image gradients (ERRNet, Wei et al. CVPR 2019): the
  residue of a reflection is mostly edges, which a plain L1 under-weights.
- :func:`exclusion`: the gradients of the transmission T and the reflection R should not coincide
  (Zhang, Ng & Chen, "Single Image Reflection Separation with Perceptual Losses", CVPR 2018).
- :func:`layer_reconstruction`: the input is the sum of the two layers, ``x = T + R``.
- :func:`no_reflection`: do no harm on reflection-free samples.

Every function takes (B, C, H, W) tensors in [-1, 1] and returns an unweighted scalar.
"""

from __future__ import annotations

from collections.abc import Iterator

import torch
from torch.nn import functional as F

from reflect.losses.reconstruction import graph_zero


def image_gradients(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Horizontal and vertical differences of neighbouring pixels."""
    return x[..., :, 1:] - x[..., :, :-1], x[..., 1:, :] - x[..., :-1, :]


def _pyramid(a: torch.Tensor, b: torch.Tensor, scales: int) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """``scales`` levels of both images, halving each time (2x2 mean), while at least 2 px remain."""
    for s in range(scales):
        if s:
            a, b = F.avg_pool2d(a, 2), F.avg_pool2d(b, 2)
        if min(a.shape[-2:]) < 2:
            return
        yield a, b


def per_sample_weight(mask: torch.Tensor | None, x: torch.Tensor) -> torch.Tensor | None:
    """``mask`` (B,) as a weight broadcastable over ``x`` (None: every sample counts)."""
    return None if mask is None else mask.to(x.dtype).view(-1, *([1] * (x.dim() - 1)))


def masked_mean(v: torch.Tensor, m: torch.Tensor | None) -> torch.Tensor:
    """Mean of ``v`` over the samples ``m`` weighs (:func:`per_sample_weight`); 0 when none."""
    if m is None:
        return v.mean()
    return (v * m).sum() / (m.sum() * v[0].numel()).clamp_min(1.0)


def gradient_l1(
    pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor | None = None, scales: int = 3
) -> torch.Tensor:
    """Mean over ``scales`` (halving each time) of the L1 between horizontal and vertical gradients.

    ``mask`` (B,) bool selects the samples that have a target (0, not NaN, when none do)."""
    m = per_sample_weight(mask, pred)
    total = pred.new_zeros((), dtype=torch.float32)
    for p, t in _pyramid(pred.float(), target.float(), scales):
        (px, py), (tx, ty) = image_gradients(p), image_gradients(t)
        total = total + masked_mean((px - tx).abs(), m) + masked_mean((py - ty).abs(), m)
    return total / scales


def exclusion(t: torch.Tensor, r: torch.Tensor, scales: int = 3) -> torch.Tensor:
    """Zhang et al. 2018's exclusion loss: T's and R's gradients should not overlap.

    At each scale, ``|| tanh(|dT|) * tanh(lambda |dR|) ||`` (as a fourth root of the mean of the
    squared product, per direction), with ``lambda`` balancing the two layers' gradient magnitudes
    (computed without gradient, so the balance itself is not optimised away)."""
    total = t.new_zeros((), dtype=torch.float32)
    for tl, rl in _pyramid(t.float(), r.float(), scales):
        for gt, gr in zip(image_gradients(tl), image_gradients(rl), strict=True):
            with torch.no_grad():
                lam = 2.0 * gt.abs().mean() / gr.abs().mean().clamp_min(1e-6)
            prod = torch.tanh(gt.abs()) * torch.tanh(lam * gr.abs())
            total = total + (prod.pow(2).mean() + 1e-12).pow(0.25)
    return total / scales


def layer_reconstruction(x: torch.Tensor, t: torch.Tensor, r: torch.Tensor) -> torch.Tensor:
    """L1 between the input and the sum of the predicted layers, ``x = T + R``."""
    return (x.float() - (t.float() + r.float())).abs().mean()


def no_reflection(
    x: torch.Tensor, t: torch.Tensor, r: torch.Tensor | None, free: torch.Tensor
) -> torch.Tensor:
    """Do no harm: on reflection-free samples (``free``, (B,) bool) the output equals the input and no
    reflection is predicted: ``L1(T, x) + mean(|R|)`` over those samples (zero, with a gradient, when
    the batch has none). ``x``, ``t``: (B, C, H, W) in [-1, 1]; ``r`` in the same units or None."""
    if not bool(free.any()):
        return graph_zero(t)
    loss = (t[free] - x[free]).abs().mean()
    if r is not None:
        loss = loss + r[free].abs().mean()
    return loss
