"""Face measurements of one (clean, through glass, cleaned) triple, with real dlib and MTCNN.

* detection: does dlib's HOG detector (and MTCNN) find the driver, i.e. a box with IoU >= 0.4 with
  the known driver box, in each of the three images;
* identity: dlib's 5-point landmarks are found once, on the clean image (HOG box matching the driver);
  the same landmarks cut aligned 150 px chips from all three images, so only the pixels differ;
  dlib's ResNet gives 128-d descriptors compared by Euclidean distance (same person below 0.6);
  no match on the clean image: the face is ``skipped`` for identity;
* identification: the nearest gallery descriptor (one per held-out person, from its portrait);
* landmarks (independent of dlib): MTCNN's five points of the driver in the glass input and in the
  output against those of the clean image, the mean point error over the inter-ocular distance of
  the clean face (``lm_in``, ``lm_out``; NaN where MTCNN misses the driver in either image);
* do no harm: ``dist_io``, the dlib distance between the output and the input (same landmarks).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from reflect.data.io import to_tensor
from reflect.data.synth.faces import Face
from reflect.faces.align import DLIB_CHIP, align_faces
from reflect.faces.detectors import FaceDetector, make_detector
from reflect.faces.embedders import make_embedder
from reflect.faces.types import DLIB_5, Faces

IOU_MIN = 0.4
VIEWS = ("clean", "in", "out")


def iou(a: Any, b: Any) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def match(faces: Faces, box: Any) -> int | None:
    """Index of the detection overlapping ``box`` most, if its IoU reaches IOU_MIN."""
    scores = [iou(b, box) for b in faces.boxes.tolist()]
    best = int(np.argmax(scores)) if scores else -1
    return best if best >= 0 and scores[best] >= IOU_MIN else None


class FaceMeter:
    """dlib HOG (1x upsampling) with 5-point landmarks, optionally MTCNN, dlib's ResNet embedder."""

    def __init__(self, mtcnn: bool = True) -> None:
        self.detectors: dict[str, FaceDetector] = {"hog": make_detector("dlib-hog", upsample=1)}
        if mtcnn:
            self.detectors["mtcnn"] = make_detector("mtcnn")
        self.embedder = make_embedder("dlib")
        self.gallery: np.ndarray = np.zeros((0, 128), np.float32)
        self.gallery_ids: list[str] = []

    @torch.inference_mode()
    def embed(self, images: list[np.ndarray], landmarks: torch.Tensor) -> np.ndarray:
        """(len(images), 128) dlib descriptors of the face at ``landmarks`` (1, 5, 2) in every image."""
        batch = torch.stack([to_tensor(np.ascontiguousarray(im)) for im in images])
        idx = torch.arange(len(images))
        chips = align_faces(batch, landmarks.expand(len(images), 5, 2), idx, layout=DLIB_5, spec=DLIB_CHIP)
        return self.embedder.raw(chips).numpy()

    def set_gallery(self, faces: list[Face]) -> None:
        """One descriptor per person (``Face.source``) from its portrait (the bank's head crop of the
        photo); landmarks in the HOG box that matches the bank's face box, else in that box itself."""
        hog = make_detector("dlib-hog", upsample=0)  # portrait faces are 150-300 px: no upsampling
        rows = []
        for f in faces:
            found = hog.detect([f.crop])[0]
            k = match(found, f.box)
            if k is None:  # the shape predictor alone, on the face bank's (MTCNN) box
                shape = hog._shape(f.crop, _rect(f.box))  # type: ignore[attr-defined]
                lms = torch.tensor([[[p.x, p.y] for p in shape.parts()]], dtype=torch.float32)
            else:
                lms = found.landmarks[k : k + 1]
            rows.append(self.embed([f.crop], lms)[0])
        self.gallery, self.gallery_ids = np.stack(rows), [f.source for f in faces]

    def identify(self, emb: np.ndarray) -> list[str]:
        d = np.linalg.norm(emb[:, None, :] - self.gallery[None, :, :], axis=2)
        return [self.gallery_ids[int(i)] for i in d.argmin(1)]

    def measure(
        self, clean: np.ndarray, inp: np.ndarray, out: np.ndarray, box: Any, person: str
    ) -> dict[str, Any]:
        images = (clean, inp, out)
        rec: dict[str, Any] = {}
        points: dict[str, dict[str, torch.Tensor]] = {}
        for name, det in self.detectors.items():
            points[name] = {}
            for view, im in zip(VIEWS, images, strict=True):
                found = det.detect([np.ascontiguousarray(im)])[0]
                k = match(found, box)
                rec[f"{name}_{view}"] = k is not None
                if k is not None:
                    points[name][view] = found.landmarks[k]  # (5, 2)
        if "mtcnn" in points:
            mt = points["mtcnn"]
            for view in VIEWS[1:]:
                rec[f"lm_{view}"] = (
                    landmark_error(mt[view], mt["clean"]) if view in mt and "clean" in mt else float("nan")
                )
        hog_clean = points["hog"].get("clean")
        rec["skipped"] = hog_clean is None
        if hog_clean is not None:
            emb = self.embed(list(images), hog_clean[None])
            rec["dist_in"] = float(np.linalg.norm(emb[1] - emb[0]))
            rec["dist_out"] = float(np.linalg.norm(emb[2] - emb[0]))
            rec["dist_io"] = float(np.linalg.norm(emb[2] - emb[1]))
            for view, who in zip(VIEWS, self.identify(emb), strict=True):
                rec[f"rank1_{view}"] = who == person
        return rec


def landmark_error(points: torch.Tensor, ref: torch.Tensor) -> float:
    """Mean distance of five (x, y) points (5, 2) to ``ref``'s, over ``ref``'s inter-ocular distance
    (MTCNN's order: the eyes first)."""
    eyes = float(torch.linalg.norm(ref[0] - ref[1]))
    return float(torch.linalg.norm(points - ref, dim=1).mean()) / max(eyes, 1e-6)


def _rect(box: Any) -> Any:
    import dlib

    x1, y1, x2, y2 = (int(round(v)) for v in box)
    return dlib.rectangle(x1, y1, x2 - 1, y2 - 1)
