"""Domain classification over a subset of domains (StarGAN's mask vector, DRIT++/MDMM's heads).

``mask`` (B, D) bool marks, per sample, the domains its dataset is labelled with (a sample from a
dataset with another domain set knows only some of them); classes outside the mask take no part:
they get no probability and no gradient. ``mask=None`` allows every class.
"""

from __future__ import annotations

import torch


def _masked_log_softmax(logits: torch.Tensor, mask: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
    logits = logits.float()
    if mask is None:
        return logits.log_softmax(1), torch.ones_like(logits, dtype=torch.bool)
    mask = mask.bool()
    logp = logits.masked_fill(~mask, float("-inf")).log_softmax(1)
    return torch.where(mask, logp, torch.zeros_like(logp)), mask  # no -inf * 0 = NaN downstream


def domain_cross_entropy(
    logits: torch.Tensor, target: torch.Tensor, mask: torch.Tensor | None = None
) -> torch.Tensor:
    """Mean cross-entropy of (B, D) logits against domain indices (B,), over the allowed domains."""
    logp, _ = _masked_log_softmax(logits, mask)
    return -logp.gather(1, target.long().view(-1, 1)).mean()


def domain_confusion(logits: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """Cross-entropy against the uniform distribution over the allowed domains: lowest when the
    classifier cannot tell the domains apart (DRIT++'s content adversarial target, 0.5 for two
    domains, generalised to D)."""
    logp, m = _masked_log_softmax(logits, mask)
    return (-(logp * m).sum(1) / m.sum(1).clamp_min(1)).mean()
