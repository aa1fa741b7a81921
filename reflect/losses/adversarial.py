"""Adversarial objectives. Discriminators return raw logits (or a list of them, one per scale);
these functions turn them into losses, averaging over scales.

| mode    | D loss                                  | G loss                   |
|---------|-----------------------------------------|--------------------------|
| lsgan   | (D(x)-1)^2 + D(G(z))^2 (Mao et al.)     | (D(G(z))-1)^2            |
| vanilla | BCE-with-logits                         | non-saturating BCE       |
| hinge   | relu(1-D(x)) + relu(1+D(G(z)))          | -D(G(z))                 |
| wgan    | D(G(z)) - D(x) (+ gradient_penalty)     | -D(G(z))                 |
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Literal, get_args

import torch
from torch.nn import functional as F

GanMode = Literal["lsgan", "vanilla", "hinge", "wgan"]  # config fields typed so are checked at load
GAN_MODES: tuple[str, ...] = get_args(GanMode)
Logits = torch.Tensor | Sequence[torch.Tensor]


def _as_list(x: Logits) -> list[torch.Tensor]:
    return [x] if isinstance(x, torch.Tensor) else list(x)


def _check(mode: str) -> None:
    if mode not in GAN_MODES:
        raise ValueError(f"unknown GAN loss '{mode}'; valid: {', '.join(GAN_MODES)}")


def d_loss(mode: str, real: Logits, fake: Logits) -> torch.Tensor:
    """Discriminator loss for real and fake logits (fake computed on detached images)."""
    _check(mode)
    total = []
    for r, f in zip(_as_list(real), _as_list(fake), strict=True):
        r, f = r.float(), f.float()
        if mode == "lsgan":
            loss = 0.5 * ((r - 1).pow(2).mean() + f.pow(2).mean())
        elif mode == "vanilla":
            loss = 0.5 * (
                F.binary_cross_entropy_with_logits(r, torch.ones_like(r))
                + F.binary_cross_entropy_with_logits(f, torch.zeros_like(f))
            )
        elif mode == "hinge":
            loss = F.relu(1 - r).mean() + F.relu(1 + f).mean()
        else:  # wgan
            loss = f.mean() - r.mean()
        total.append(loss)
    return torch.stack(total).mean()


def g_loss(mode: str, fake: Logits) -> torch.Tensor:
    """Generator loss: make the discriminator call ``fake`` real."""
    _check(mode)
    total = []
    for f in _as_list(fake):
        f = f.float()
        if mode == "lsgan":
            loss = (f - 1).pow(2).mean()
        elif mode == "vanilla":
            loss = F.binary_cross_entropy_with_logits(f, torch.ones_like(f))
        else:  # hinge, wgan
            loss = -f.mean()
        total.append(loss)
    return torch.stack(total).mean()


def gradient_penalty(
    critic: Callable[[torch.Tensor], Logits], real: torch.Tensor, fake: torch.Tensor, target: float = 1.0
) -> torch.Tensor:
    """WGAN-GP (Gulrajani et al.): E[(||grad D(x_hat)|| - 1)^2] on random interpolates."""
    alpha = torch.rand(real.size(0), 1, 1, 1, device=real.device, dtype=real.dtype)
    x_hat = (alpha * real.detach() + (1 - alpha) * fake.detach()).requires_grad_(True)
    out = torch.stack([o.sum() for o in _as_list(critic(x_hat))]).sum()
    (grad,) = torch.autograd.grad(out, x_hat, create_graph=True)
    norm = grad.flatten(1).norm(2, dim=1)
    return ((norm - target) ** 2).mean()
