"""The perceptual loss: VGG-19 feature L1 from a weights file the user gives (absent, it is off).
Takes (B, C, H, W) tensors in [-1, 1] and returns an unweighted scalar."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from reflect.losses.layers import masked_mean, per_sample_weight


class PerceptualLoss(nn.Module):
    """L1 between VGG-19 features (relu1_2, relu2_2, relu3_2, relu4_2, relu5_2; ERRNet's choice),
    weighted 1/2.6, 1/4.8, 1/3.7, 1/5.6, 10/1.5, from a torchvision VGG-19 state-dict file.

    Weights are never downloaded: with no file, :meth:`available` is False and the loss is off
    (the caller logs one line). Frozen; kept out of the variant's state_dict by the caller."""

    LAYERS = (3, 8, 13, 22, 31)  # indices of relu1_2, relu2_2, relu3_2, relu4_2, relu5_2 in vgg19.features
    WEIGHTS = (1 / 2.6, 1 / 4.8, 1 / 3.7, 1 / 5.6, 10 / 1.5)

    def __init__(self, weights_path: str | Path) -> None:
        super().__init__()
        from torchvision.models import vgg19

        from reflect.errors import CheckpointError

        path = Path(weights_path)
        if not path.is_file():
            raise CheckpointError(f"VGG-19 weights file {path} does not exist")
        state = torch.load(path, map_location="cpu", weights_only=True)
        if isinstance(state, dict) and "state_dict" in state:
            state = state["state_dict"]
        net = vgg19(weights=None)
        try:
            net.load_state_dict(state)
        except (RuntimeError, TypeError) as e:
            raise CheckpointError(
                f"{path} is not a torchvision VGG-19 state dict: {str(e).splitlines()[0][:200]}"
            ) from None
        self.features = net.features[: self.LAYERS[-1] + 1].eval().requires_grad_(False)
        self.register_buffer("mean", torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1), persistent=False)

    def forward(
        self, pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor | None = None
    ) -> torch.Tensor:
        mean, std = self.get_buffer("mean"), self.get_buffer("std")
        x = torch.cat([pred.float(), target.float()]).add(1).div(2).sub(mean).div(std)
        m = per_sample_weight(mask, pred)
        total, n = x.new_zeros(()), pred.shape[0]
        for i, layer in enumerate(self.features):
            x = layer(x)
            if i in self.LAYERS:
                w = self.WEIGHTS[self.LAYERS.index(i)]
                total = total + w * masked_mean((x[:n] - x[n:].detach()).abs(), m)
        return total
