"""KL divergences of a Gaussian posterior from the standard normal prior (VAE; UNIT, DRIT++)."""

from __future__ import annotations

import torch


def kl_standard_normal(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(N(mu, exp(logvar)) || N(0, I)), averaged over every element (Kingma & Welling, 2014)."""
    mu, logvar = mu.float(), logvar.float()
    return 0.5 * (mu.pow(2) + logvar.exp() - 1.0 - logvar).mean()


def kl_unit_variance(mu: torch.Tensor) -> torch.Tensor:
    """mean(mu^2): the KL of N(mu, I) from N(0, I) per element, times 2 (the constant is dropped).

    This is the form UNIT's reference code computes (its encoders predict only the mean, the
    variance is fixed at 1); UNIT's KL weight of 0.01 applies to exactly this value.
    """
    return mu.float().pow(2).mean()
