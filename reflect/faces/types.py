"""What detectors return: per image, boxes, scores and 5-point landmarks, in image pixels."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

#: MTCNN / RetinaFace order: eye on the image's left, eye on the right, nose tip, mouth left, mouth right
EYES_NOSE_MOUTH = "eyes-nose-mouth"
#: dlib's 5-point predictor: outer and inner corner of the eye on the image's right, outer and inner
#: corner of the other eye, bottom of the nose
DLIB_5 = "dlib-5"
LAYOUTS = (EYES_NOSE_MOUTH, DLIB_5)


@dataclass
class Faces:
    """Faces found in one image. ``boxes`` (N,4) x1,y1,x2,y2; ``scores`` (N,); ``landmarks`` (N,5,2) x,y."""

    boxes: torch.Tensor
    scores: torch.Tensor
    landmarks: torch.Tensor
    layout: str = EYES_NOSE_MOUTH

    def __post_init__(self) -> None:
        if self.layout not in LAYOUTS:
            raise ValueError(f"landmark layout {self.layout!r} is not one of {LAYOUTS}")

    def __len__(self) -> int:
        return int(self.boxes.shape[0])

    @classmethod
    def empty(cls, layout: str = EYES_NOSE_MOUTH) -> Faces:
        return cls(torch.zeros(0, 4), torch.zeros(0), torch.zeros(0, 5, 2), layout)

    @classmethod
    def from_numpy(cls, boxes: Any, scores: Any, landmarks: Any, layout: str = EYES_NOSE_MOUTH) -> Faces:
        def t(a: Any, shape: tuple[int, ...]) -> torch.Tensor:
            arr = np.asarray(a if a is not None else np.zeros((0, *shape)), dtype=np.float32)
            return torch.from_numpy(arr.reshape(-1, *shape).copy())

        return cls(t(boxes, (4,)), t(scores, ()).reshape(-1), t(landmarks, (5, 2)), layout)

    def sizes(self) -> torch.Tensor:
        """The shorter side of each box, in pixels."""
        wh = self.boxes[:, 2:] - self.boxes[:, :2]
        return wh.min(dim=1).values

    def select(self, keep: torch.Tensor) -> Faces:
        return Faces(self.boxes[keep], self.scores[keep], self.landmarks[keep], self.layout)

    def largest(self) -> Faces:
        """Only the biggest face (an empty result stays empty)."""
        if len(self) == 0:
            return self
        area = (self.boxes[:, 2] - self.boxes[:, 0]) * (self.boxes[:, 3] - self.boxes[:, 1])
        return self.select(area.argmax().view(1))

    def to_json(self) -> list[dict[str, Any]]:
        return [
            {
                "box": [round(float(v), 1) for v in self.boxes[i]],
                "score": round(float(self.scores[i]), 4),
                "landmarks": [[round(float(x), 1), round(float(y), 1)] for x, y in self.landmarks[i]],
                "layout": self.layout,
            }
            for i in range(len(self))
        ]
