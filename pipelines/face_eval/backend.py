"""Face detection, alignment and embedding for evaluation, from :mod:`reflect.faces`.

* detection: any of :data:`reflect.faces.detectors.DETECTORS` (default ``dlib-hog``, dlib's HOG
  frontal-face detector with its 5-point landmarks; small images are retried at 2x upsampling);
* alignment: :func:`reflect.faces.align.align_faces` to the embedder's chip;
* embedding: any of :data:`reflect.faces.embedders.EMBEDDERS` (default ``dlib-torch``, the torch
  port of dlib's ResNet; ``dlib`` itself is the reference). Vectors are unit length.

Model files come from installed packages or user paths; nothing is downloaded. When no face is
found the whole image is taken as the face (the template's landmarks scaled to the image), so
every probe still gets an embedding; ``found`` says whether the detector saw a face.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from reflect.data.io import to_tensor
from reflect.errors import ConfigError
from reflect.faces.align import align_faces, template_points
from reflect.faces.detectors import DETECTORS, make_detector
from reflect.faces.embedders import EMBEDDERS, make_embedder
from reflect.faces.types import Faces

Box = tuple[int, int, int, int]


@dataclass
class FaceResult:
    found: bool
    box: Box  # x1, y1, x2, y2 of the face used (the whole image when none was found)
    embedding: np.ndarray  # (D,) float32, unit length


class FaceBackend:
    def __init__(
        self, embedder: str = "dlib-torch", detector: str = "dlib-hog", embedder_weights: str | None = None
    ) -> None:
        if embedder not in EMBEDDERS:
            raise ConfigError(f"unknown embedder '{embedder}'; choose one of {', '.join(EMBEDDERS)}")
        if detector not in DETECTORS:
            raise ConfigError(f"unknown face detector '{detector}'; choose one of {', '.join(DETECTORS)}")
        self.name = embedder
        self.detector_name = detector
        self.detector = make_detector(detector)
        # dlib's HOG detector misses faces under ~80 px at 1x: small images get a 2x pass too
        self.detector_2x = make_detector(detector, upsample=2) if detector == "dlib-hog" else None
        self.embedder = make_embedder(embedder, weights=embedder_weights)

    def detect(self, image: np.ndarray) -> Faces:
        faces = self.detector.detect([image])[0]
        if len(faces) == 0 and self.detector_2x is not None and max(image.shape[:2]) < 400:
            faces = self.detector_2x.detect([image])[0]
        return faces

    def detect_boxes(self, image: np.ndarray) -> list[Box]:
        """Face boxes (x1, y1, x2, y2) in an RGB uint8 image, largest first."""
        h, w = image.shape[:2]
        boxes = [
            (max(0, int(b[0])), max(0, int(b[1])), min(w, int(b[2])), min(h, int(b[3])))
            for b in self.detect(image).boxes.tolist()
        ]
        return sorted(boxes, key=lambda b: -(b[2] - b[0]) * (b[3] - b[1]))

    def analyse(self, image: np.ndarray) -> FaceResult:
        """Detect the largest face, align it and embed it."""
        image = np.ascontiguousarray(image)
        h, w = image.shape[:2]
        faces = self.detect(image).largest()
        spec = self.embedder.chip
        if len(faces):
            landmarks, layout = faces.landmarks, faces.layout
            x1, y1, x2, y2 = (int(v) for v in faces.boxes[0].tolist())
            box = (max(0, x1), max(0, y1), min(w, x2), min(h, y2))
        else:  # no face found: assume the image is a face crop, centred
            layout = "dlib-5"
            side = min(h, w)
            pts = template_points(layout, spec).float() * (side / spec.size)
            landmarks = (pts + torch.tensor([(w - side) / 2, (h - side) / 2])).unsqueeze(0)
            box = (0, 0, w, h)
        with torch.inference_mode():
            chips = align_faces(to_tensor(image).unsqueeze(0), landmarks, layout=layout, spec=spec)
            vec = self.embedder.embed(chips)[0].float().numpy()
        return FaceResult(len(faces) > 0, box, vec / max(float(np.linalg.norm(vec)), 1e-12))


def load_face_backend(embedder: str = "dlib-torch", detector: str = "dlib-hog") -> FaceBackend:
    return FaceBackend(embedder, detector)
