"""The detector interface and input conversion shared by all backends."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np
import torch

from reflect.faces.types import Faces
from reflect.utils.images import to_image

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
        return list(to_image(images))  # C order: dlib reads no other
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
