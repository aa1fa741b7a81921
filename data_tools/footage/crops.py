"""Window crops: per-camera regions of interest from a YAML file, or squares around detected faces.

ROI file::

    size: 256                      # optional: shorter side of the written crops
    cameras:
      cam01:                       # camera name
        match: "cam01*"            # glob on the footage path or file name (default: "cam01*")
        rois: [[x, y, w, h], ...]  # pixels, or fractions of the frame when all values are <= 1
      default:                     # optional: for footage no other camera matches
        rois: [[0.25, 0.2, 0.5, 0.5]]
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import yaml

from reflect.errors import ConfigError


@dataclass
class Camera:
    name: str
    match: str
    rois: list[list[float]]


def load_rois(path: str | Path) -> tuple[list[Camera], int | None]:
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"ROI file {p} does not exist")
    try:
        data = yaml.safe_load(p.read_text()) or {}
    except yaml.YAMLError as e:
        raise ConfigError(f"ROI file {p} is not valid YAML: {e}") from None
    if not isinstance(data, dict) or not isinstance(data.get("cameras"), dict):
        raise ConfigError(f"ROI file {p} needs a 'cameras' mapping (name: {{match, rois}})")
    unknown = set(data) - {"cameras", "size"}
    if unknown:
        raise ConfigError(f"ROI file {p}: unknown key '{sorted(unknown)[0]}' (valid: cameras, size)")
    cams = []
    for name, spec in data["cameras"].items():
        if not isinstance(spec, dict) or not isinstance(spec.get("rois"), list) or not spec["rois"]:
            raise ConfigError(f"ROI file {p}: camera '{name}' needs a non-empty 'rois' list of [x, y, w, h]")
        for roi in spec["rois"]:
            if (
                not (isinstance(roi, list) and len(roi) == 4 and all(isinstance(v, int | float) for v in roi))
                or roi[2] <= 0
                or roi[3] <= 0
            ):
                raise ConfigError(
                    f"ROI file {p}: camera '{name}' has a bad roi {roi!r} (want [x, y, w, h], w and h > 0)"
                )
        cams.append(
            Camera(
                str(name), str(spec.get("match", f"{name}*")), [[float(v) for v in r] for r in spec["rois"]]
            )
        )
    size = data.get("size")
    return cams, int(size) if size is not None else None


def camera_for(rel: Path, cameras: list[Camera]) -> Camera | None:
    """The first camera whose glob matches the footage path (or its file name); else 'default'."""
    for cam in cameras:
        if cam.name != "default" and (
            fnmatch.fnmatch(rel.as_posix(), cam.match) or fnmatch.fnmatch(rel.name, cam.match)
        ):
            return cam
    return next((c for c in cameras if c.name == "default"), None)


def roi_crop(frame: np.ndarray, roi: list[float]) -> np.ndarray | None:
    h, w = frame.shape[:2]
    x, y, rw, rh = roi
    if max(roi) <= 1.0:
        x, y, rw, rh = x * w, y * h, rw * w, rh * h
    x0, y0, x1, y1 = (
        max(0, int(round(x))),
        max(0, int(round(y))),
        min(w, int(round(x + rw))),
        min(h, int(round(y + rh))),
    )
    if x1 - x0 < 8 or y1 - y0 < 8:
        return None
    return frame[y0:y1, x0:x1]


def face_crops(frame: np.ndarray, margin: float, min_face: int = 24) -> list[np.ndarray]:
    """Square crops centred on MTCNN face boxes, ``margin`` times the face size on each side."""
    from reflect.data.synth.faces import detect_boxes

    h, w = frame.shape[:2]
    out = []
    for box, _ in detect_boxes(frame, min_prob=0.9):
        x1, y1, x2, y2 = box
        if x2 - x1 < min_face:
            continue
        side = max(x2 - x1, y2 - y1) * (1 + 2 * margin)
        cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
        x0, y0 = (
            int(round(min(max(cx - side / 2, 0), max(w - side, 0)))),
            int(round(min(max(cy - side / 2, 0), max(h - side, 0)))),
        )
        s = int(round(min(side, w, h)))
        out.append(frame[y0 : y0 + s, x0 : x0 + s])
    return out
