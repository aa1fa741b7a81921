"""Face-identity similarity of a restored image to its clean target.

Faces are detected once, on the clean target; the same landmarks cut aligned chips from the
target, the restored output and the glass input, so the comparison measures the pixels, not the
detector's luck. Cosine similarity of the embeddings (1 = same face).
"""

from __future__ import annotations

import numpy as np
import torch

from reflect.data.io import to_tensor
from reflect.faces.align import align_faces
from reflect.faces.detectors import make_detector
from reflect.faces.embedders import make_embedder


class IdentityScorer:
    def __init__(self, detector: str = "mtcnn", embedder: str = "dlib-torch", min_size: float = 20.0) -> None:
        self.detector = make_detector(detector)
        self.embedder = make_embedder(embedder)
        self.min_size = min_size

    @torch.inference_mode()
    def score(self, target: np.ndarray, others: dict[str, np.ndarray]) -> dict[str, float] | None:
        """Mean cosine similarity to ``target`` of each image in ``others`` over the faces found in
        ``target``; None when the target has no face of at least ``min_size`` pixels."""
        faces = self.detector.detect([target])[0]
        faces = faces.select(faces.sizes() >= self.min_size)
        if len(faces) == 0:
            return None
        images = {"target": target, **others}
        emb = {}
        for name, img in images.items():
            batch = to_tensor(img).unsqueeze(0)
            idx = torch.zeros(len(faces), dtype=torch.long)
            chips = align_faces(batch, faces.landmarks, idx, layout=faces.layout, spec=self.embedder.chip)
            emb[name] = self.embedder.embed(chips)
        return {k: float((emb[k] * emb["target"]).sum(1).mean()) for k in others}
