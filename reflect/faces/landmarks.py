"""Landmarks of a face whose box is already known (dlib's 5-point predictor, no detector).

The synthesiser knows where it pasted each face; the landmarks that align a face chip then cost
about a millisecond (an ensemble of regression trees, Kazemi & Sullivan 2014) instead of a detector
pass. The predictor starts from its mean shape inside the box, so a box of another detector's
convention (MTCNN's, in the face bank) gives slightly shifted points: training on chips adds its
own jitter on top anyway.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from reflect.faces.resources import DLIB_SHAPE_5, dlib_model_path, import_dlib

_PREDICTOR: Any = None


def dlib_shape5(image: np.ndarray, box: Any) -> np.ndarray:
    """(5, 2) float32 landmarks in dlib's 5-point layout (``DLIB_5``) of the face in ``box``
    (x1, y1, x2, y2, pixels) of ``image`` (H, W, 3) uint8 RGB."""
    global _PREDICTOR
    dlib = import_dlib()
    if _PREDICTOR is None:
        _PREDICTOR = dlib.shape_predictor(str(dlib_model_path(DLIB_SHAPE_5)))
    x1, y1, x2, y2 = (int(round(float(v))) for v in box)
    shape = _PREDICTOR(np.ascontiguousarray(image), dlib.rectangle(x1, y1, x2 - 1, y2 - 1))
    return np.array([[p.x, p.y] for p in shape.parts()], np.float32)
