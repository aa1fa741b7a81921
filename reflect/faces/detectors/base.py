"""The detector interface and input conversion shared by all backends."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np
import torch

from reflect.faces.types import Faces

ImagesLike = torch.Tensor | Sequence[np.ndarray]


class FaceDetector(Protocol):
    name: str

    def detect(self, images: ImagesLike) -> list[Faces]:
        """Per image: boxes, scores and 5-point landmarks in that image's pixels."""
        ...


def as_uint8_list(images: ImagesLike) -> list[np.ndarray]:
    """(B,3,H,W) tensor in [-1,1] or a list of (H,W,3) uint8 -> list of (H,W,3) uint8 RGB arrays."""
    if isinstance(images, torch.Tensor):
        if images.ndim != 4 or images.shape[1] != 3:
            raise ValueError(f"expected images of shape (B, 3, H, W), got {tuple(images.shape)}")
        arr = images.detach().float().clamp(-1, 1).add(1).mul(127.5).round().to(torch.uint8)
        return [np.ascontiguousarray(a) for a in arr.permute(0, 2, 3, 1).cpu().numpy()]  # dlib reads C order only
    out = []
    for img in images:
        a = np.asarray(img)
        if a.ndim != 3 or a.shape[2] != 3 or a.dtype != np.uint8:
            raise ValueError(f"expected (H, W, 3) uint8 RGB images, got {a.dtype} {a.shape}")
        out.append(np.ascontiguousarray(a))
    return out


def filter_faces(faces: Faces, min_score: float, min_size: float) -> Faces:
    keep = (faces.scores >= min_score) & (faces.sizes() >= min_size)
    return faces.select(keep)
