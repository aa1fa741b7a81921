"""MTCNN (Zhang et al., "Joint Face Detection and Alignment using Multi-task Cascaded Convolutional
Networks", IEEE SPL 2016) from facenet-pytorch, whose P/R/O-net weights ship inside its wheel."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from reflect.faces.detectors.base import ImagesLike, as_uint8_list, filter_faces
from reflect.faces.resources import FaceModelMissing
from reflect.faces.types import EYES_NOSE_MOUTH, Faces
from reflect.utils.images import to_pixels


class MTCNNDetector:
    """facenet-pytorch's MTCNN; landmarks are eyes, nose tip and mouth corners."""

    name = "mtcnn"

    def __init__(
        self,
        device: str | torch.device = "cpu",
        min_score: float = 0.9,
        min_size: float = 20.0,
        thresholds: tuple[float, float, float] = (0.6, 0.7, 0.7),
    ) -> None:
        try:
            from facenet_pytorch import MTCNN
        except ImportError:
            raise FaceModelMissing(
                "the mtcnn detector needs facenet-pytorch: pip install --no-deps facenet-pytorch"
            ) from None
        self.device = torch.device(device)
        self.min_score, self.min_size = min_score, min_size
        self.net = MTCNN(
            keep_all=True,
            min_face_size=int(min_size),
            thresholds=list(thresholds),
            device=self.device,
            post_process=False,
        )
        self.net.eval()

    def detect(self, images: ImagesLike) -> list[Faces]:
        return [filter_faces(f, self.min_score, self.min_size) for f in self.detect_all(images)]

    @torch.no_grad()
    def detect_all(self, images: ImagesLike) -> list[Faces]:
        """Every face MTCNN returns (largest first), before the ``min_score`` and ``min_size`` filter."""
        if isinstance(images, torch.Tensor):
            # keep the batch on its device: facenet-pytorch takes (B, H, W, 3) in 0..255
            batch: Any = to_pixels(images).permute(0, 2, 3, 1).to(self.device)
            n = batch.shape[0]
        else:
            batch = as_uint8_list(images)
            n = len(batch)
        if n == 0:
            return []
        # no face of min_size fits an image smaller than it, and MTCNN's image pyramid is then empty (facenet-pytorch
        # fails in torch.cat): such images have no face
        if min(batch[0].shape[:2]) < int(self.min_size):
            return [Faces.empty(EYES_NOSE_MOUTH) for _ in range(n)]
        boxes, probs, points = self.net.detect(batch, landmarks=True)
        out = []
        for i in range(n):
            if boxes[i] is None:
                out.append(Faces.empty(EYES_NOSE_MOUTH))
                continue
            scores = np.asarray(probs[i], dtype=np.float32)
            out.append(Faces.from_numpy(boxes[i], scores, points[i], EYES_NOSE_MOUTH))
        return out
