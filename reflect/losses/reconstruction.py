"""Pixel reconstruction losses."""

from __future__ import annotations

import torch


def graph_zero(like: torch.Tensor) -> torch.Tensor:
    """An exact 0 on ``like``'s autograd graph: the value of a term with nothing to measure in this batch
    (no face, no paired target, no sample of its kind). It backpropagates zeros, so every parameter
    keeps its gradient and the step's graph its shape; it is never NaN for a finite ``like``."""
    return like.sum() * 0.0


def l1(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return (x.float() - y.float()).abs().mean()


def masked_l1(x: torch.Tensor, y: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean L1 over the samples where ``mask`` (B,) is true; 0 (not NaN) when none are.

    Used by the optional supervised term: only samples that come with a paired target count.
    """
    m = mask.to(x.dtype).view(-1, *([1] * (x.dim() - 1)))
    per = (x.float() - y.float()).abs() * m
    denom = m.sum() * x[0].numel()
    return per.sum() / denom.clamp_min(1.0)


def mse(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Mean squared error (DiscoGAN's reconstruction distance)."""
    return (x.float() - y.float()).pow(2).mean()
