"""Class Activation Map (CAM) attention, from U-GAT-IT (Kim et al., ICLR 2020) as NICE-GAN
(Chen et al., CVPR 2020) uses it in its discriminators.

A linear classifier on global average- and max-pooled features gives a real/fake logit (the
"CAM logit", trained with the adversarial loss as an auxiliary head). Its weights say which
channels matter for the decision; the feature map is re-weighted by them, mixed back to ``C``
channels by a 1x1 conv, and added to the input with a learned scale ``lamda`` (starting at 0).
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F
from torch.nn.utils import spectral_norm as _spectral_norm


class CAMAttention(nn.Module):
    """(B, C, H, W) -> (features (B, C, H, W), cam_logit (B, 1), heatmap (B, 1, H, W)).

    Pooling is written as ``mean``/``amax`` over H and W (not adaptive pooling) so the module
    exports to ONNX with dynamic image sizes.
    """

    def __init__(self, channels: int, *, spectral_norm: bool = True, negative_slope: float = 0.2) -> None:
        super().__init__()
        fc = nn.Linear(2 * channels, 1, bias=False)  # on [gap, gmp]
        self.fc = _spectral_norm(fc) if spectral_norm else fc
        self.conv1x1 = nn.Conv2d(2 * channels, channels, 1, bias=True)
        self.lamda = nn.Parameter(torch.zeros(1))
        self.negative_slope = negative_slope

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        gap = x.mean(dim=(2, 3))  # (B, C)
        gmp = x.amax(dim=(2, 3))  # (B, C)
        cam_logit = self.fc(torch.cat([gap, gmp], 1))  # (B, 1)
        weight = self.fc.weight  # (1, 2C): channel importances, gap half then gmp half
        weighted = torch.cat([x, x], 1) * weight[:, :, None, None]
        out = F.leaky_relu(self.lamda * self.conv1x1(weighted) + x, self.negative_slope)
        heatmap = out.sum(dim=1, keepdim=True)
        return out, cam_logit, heatmap
