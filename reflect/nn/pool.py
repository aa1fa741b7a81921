"""The image history buffer of Shrivastava et al. (2017), as CycleGAN uses it (size 50)."""

from __future__ import annotations

import torch


class ImagePool:
    """Feed the discriminator a mix of current and past fakes.

    Not an ``nn.Module`` on purpose: the pool is training state (saved in checkpoints through
    :meth:`state_dict`), not model weights, and must not end up in exported generators.
    Randomness comes from torch's global RNG, which checkpoints save and restore.
    """

    def __init__(self, size: int = 50) -> None:
        self.size = size
        self.images: list[torch.Tensor] = []

    def query(self, images: torch.Tensor) -> torch.Tensor:
        if self.size == 0:
            return images
        out = []
        for img in images.detach():
            img = img.unsqueeze(0)
            if len(self.images) < self.size:
                self.images.append(img.clone())
                out.append(img)
            elif torch.rand(()).item() > 0.5:
                idx = int(torch.randint(0, self.size, ()).item())
                out.append(self.images[idx].clone())
                self.images[idx] = img.clone()
            else:
                out.append(img)
        return torch.cat(out, 0)

    def state_dict(self) -> dict[str, object]:
        return {"size": self.size, "images": [t.cpu() for t in self.images]}

    def load_state_dict(self, state: dict[str, object], device: torch.device | None = None) -> None:
        images = state["images"]
        assert isinstance(images, list)
        self.images = [t.to(device) if device is not None else t for t in images]
