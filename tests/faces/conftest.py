"""Shared fixtures: the sample faces (skipped when ../shared/data/faces is absent) and models."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from reflect.utils.paths import shared_data

FACES = shared_data("faces")


def face_file(name: str) -> Path:
    p = FACES / name
    if not p.is_file():
        pytest.skip(f"sample face {p} is absent (see ../shared/data/faces/PROVENANCE.md)")
    return p


@pytest.fixture(scope="session")
def read():
    from reflect.data.io import read_image

    return lambda name: read_image(face_file(name))


@pytest.fixture(scope="session")
def torch_port():
    pytest.importorskip("face_recognition_models")
    from reflect.faces.dlib_resnet import DlibFaceResNet

    return DlibFaceResNet.from_dlib()


@pytest.fixture(scope="session")
def hog():
    pytest.importorskip("dlib")
    from reflect.faces.detectors import make_detector

    return make_detector("dlib-hog")


@pytest.fixture(scope="session")
def face_crop(read, hog):
    """name -> (1,3,S,S) in [-1,1]: a square crop around the largest face, resized (face near centre)."""
    from reflect.data.io import to_tensor

    def crop(name: str, size: int = 160) -> torch.Tensor:
        img = read(name)
        box = hog.detect([img])[0].largest().boxes[0]
        cx, cy, s = float(box[0] + box[2]) / 2, float(box[1] + box[3]) / 2, float(box[2] - box[0]) * 1.8
        x0, y0 = int(max(0, cx - s / 2)), int(max(0, cy - s / 2))
        t = to_tensor(np.ascontiguousarray(img))[None, :, y0 : y0 + int(s), x0 : x0 + int(s)]
        return F.interpolate(t, size=(size, size), mode="bilinear", align_corners=False, antialias=True)

    return crop
