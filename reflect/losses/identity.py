"""Face-identity loss: keep who is behind the glass while the glass is cleaned.

``1 - cos(E(align(fake)), E(align(real)))`` averaged over the faces a detector finds in the *real*
input (as in mmagic's FaceIdLoss and identity-preserving GANs such as Shen et al., "FaceID-GAN",
CVPR 2018). Faces are detected once on the real image without gradients, and the same landmarks
cut the fake image with differentiable alignment (``grid_sample``), so the loss is differentiable
with respect to the generator. The embedder is frozen and in eval mode. Faces smaller than
``min_size`` pixels are skipped; with no face the loss is an exact zero (not NaN) that still
belongs to the graph.

The detector and embedder are plain attributes, not ``nn.Module`` children: they never enter a
variant's ``state_dict``, parameter groups or checkpoints, and follow the images' device lazily.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from reflect.faces.types import Faces
from reflect.losses.reconstruction import graph_zero


class FaceIdentityLoss:
    """``loss(fake, real)``: (B,3,H,W) in [-1, 1] each -> scalar in [0, 2]."""

    def __init__(
        self,
        detector: str = "mtcnn",
        embedder: str = "dlib-torch",
        min_size: float = 24.0,
        detector_weights: str | Path | None = None,
        embedder_weights: str | Path | None = None,
        detector_kwargs: dict[str, Any] | None = None,
    ) -> None:
        self.detector_name, self.embedder_name = detector, embedder
        self.min_size = min_size
        self.detector_weights, self.embedder_weights = detector_weights or None, embedder_weights or None
        self.detector_kwargs = dict(detector_kwargs or {})
        self._detector: Any = None
        self._embedder: Any = None
        self._device: torch.device | None = None

    # ---- lazily built, frozen parts -------------------------------------------------------------
    def _parts(self, device: torch.device) -> tuple[Any, Any]:
        from reflect.faces.detectors import make_detector
        from reflect.faces.embedders import make_embedder

        if self._detector is None:
            kw = dict(self.detector_kwargs)
            if self.detector_name == "retinaface":
                kw["weights"] = self.detector_weights
            kw.setdefault("min_size", min(self.min_size, 20.0))
            self._detector = make_detector(self.detector_name, device=device, **kw)
            self._embedder = make_embedder(self.embedder_name, device=device, weights=self.embedder_weights)
            self._device = device
        elif self._device != device:
            if hasattr(self._embedder, "to"):
                self._embedder.to(device)
            self._device = device
        return self._detector, self._embedder

    def detect(self, real: torch.Tensor) -> list[Faces]:
        """Faces in each real image (no gradients), those smaller than ``min_size`` removed."""
        detector, _ = self._parts(real.device)
        with torch.no_grad():
            found = detector.detect(real.detach())
        return [f.select(f.sizes() >= self.min_size) for f in found]

    def __call__(
        self, fake: torch.Tensor, real: torch.Tensor, faces: list[Faces] | None = None
    ) -> torch.Tensor:
        from reflect.faces.align import align_faces

        if fake.shape != real.shape:
            raise ValueError(f"fake {tuple(fake.shape)} and real {tuple(real.shape)} images differ in shape")
        _, embedder = self._parts(fake.device)
        faces = self.detect(real) if faces is None else faces
        if sum(len(f) for f in faces) == 0:
            return graph_zero(fake)  # no face
        layout = next(f.layout for f in faces if len(f))
        landmarks = torch.cat([f.landmarks for f in faces if len(f)], 0).to(fake.device)
        index = torch.cat([torch.full((len(f),), i, dtype=torch.long) for i, f in enumerate(faces) if len(f)])
        chip_fake = align_faces(fake, landmarks, index, layout=layout, spec=embedder.chip)
        with torch.no_grad():
            chip_real = align_faces(real, landmarks, index, layout=layout, spec=embedder.chip)
            target = embedder.embed(chip_real)
        emb = embedder.embed(chip_fake.float())
        return (1.0 - (emb * target).sum(dim=1)).mean()
