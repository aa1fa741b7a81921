"""Regions around detected faces, shared by the stream processor and ``reflect clean --detect faces``.

Boxes are ``(x1, y1, x2, y2)`` in pixels (x2, y2 exclusive), as :mod:`reflect.faces` detectors give them.
The margin around a face gives the generator some context (hair, the window around the head), as
face-centred crops do in the face-identity evaluation of the unpaired translation (CycleGAN, Zhu et al.,
ICCV 2017) this project builds on.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

Box = tuple[int, int, int, int]  # x1, y1, x2, y2


def grow_box(box: Box, margin: float, w: int, h: int) -> Box:
    """``box`` grown by ``margin`` times its width (height) on the left and right (top and bottom), clipped
    to a ``w`` x ``h`` frame. The stream processor's face regions."""
    x1, y1, x2, y2 = box
    mx, my = (x2 - x1) * margin, (y2 - y1) * margin
    return (max(0, int(x1 - mx)), max(0, int(y1 - my)), min(w, int(x2 + mx)), min(h, int(y2 + my)))


def square_region(box: Box, margin: float, bounds: Box) -> Box:
    """A square centred on ``box`` with side ``max(width, height) * (1 + 2 * margin)``, clipped to ``bounds``.

    ``bounds`` is ``(x1, y1, x2, y2)``: the frame, or the window region the face was found in. Clipping
    at a border makes the region a rectangle; it is never empty for a box that overlaps ``bounds``.
    """
    x1, y1, x2, y2 = box
    bx1, by1, bx2, by2 = bounds
    half = max(x2 - x1, y2 - y1) * (1.0 + 2.0 * margin) / 2.0
    cx, cy = (x1 + x2) / 2.0, (y1 + y2) / 2.0
    rx1, ry1 = max(bx1, int(np.floor(cx - half))), max(by1, int(np.floor(cy - half)))
    rx2, ry2 = min(bx2, int(np.ceil(cx + half))), min(by2, int(np.ceil(cy + half)))
    return (rx1, ry1, max(rx1 + 1, rx2), max(ry1 + 1, ry2))


def box_detector(name: str = "dlib-hog", **kwargs: object) -> Callable[[np.ndarray], list[Box]]:
    """A :func:`reflect.faces.detectors.make_detector` detector as ``image -> boxes``.

    Boxes are integers clipped to the image, largest first (ties: top-left first), so the order, and
    the names of crops numbered by it, is the same on every run.
    """
    from reflect.faces.detectors import make_detector

    det = make_detector(name, **kwargs)

    def detect(image: np.ndarray) -> list[Box]:
        h, w = image.shape[:2]
        boxes: set[Box] = set()
        for b in det.detect([np.ascontiguousarray(image)])[0].boxes.tolist():
            x1, y1 = max(0, int(round(b[0]))), max(0, int(round(b[1])))
            x2, y2 = min(w, int(round(b[2]))), min(h, int(round(b[3])))
            if x2 > x1 and y2 > y1:
                boxes.add((x1, y1, x2, y2))
        return sorted(boxes, key=lambda b: (-(b[2] - b[0]) * (b[3] - b[1]), b[1], b[0]))

    return detect
