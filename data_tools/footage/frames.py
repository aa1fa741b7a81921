"""Frames from footage: videos through OpenCV (every Nth frame, or on scene change) and stills.

A video OpenCV cannot open, or one that yields no frame, raises :class:`BadVideo`; the builder
lists it in its report and goes on.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np

from reflect.data.io import IMAGE_EXTENSIONS, VIDEO_EXTENSIONS


class BadVideo(Exception):
    """A video that cannot be decoded; ``str(e)`` says why."""


def list_footage(root: Path) -> list[Path]:
    exts = VIDEO_EXTENSIONS + IMAGE_EXTENSIONS
    return sorted(
        p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in exts and not p.name.startswith(".")
    )


def is_video(path: Path) -> bool:
    return path.suffix.lower() in VIDEO_EXTENSIONS


def _thumb(frame: np.ndarray) -> np.ndarray:
    g = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)
    return cv2.resize(g, (32, 32), interpolation=cv2.INTER_AREA).astype(np.float32) / 255.0


def video_frames(
    path: Path, every: int = 10, scene_threshold: float = 0.0
) -> Iterator[tuple[int, np.ndarray]]:
    """Yield (frame index, RGB uint8 frame): every ``every``-th frame, or, with ``scene_threshold``
    > 0, each frame whose 32x32 thumbnail differs from the last one taken by more than the
    threshold (mean absolute difference in [0, 1]). Raises BadVideo if nothing decodes."""
    cap = cv2.VideoCapture(str(path))
    try:
        if not cap.isOpened():
            raise BadVideo("OpenCV cannot open it (corrupt or unknown format)")
        index, read, last = 0, 0, None
        while True:
            ok, bgr = cap.read()
            if not ok or bgr is None:
                break
            read += 1
            frame = np.ascontiguousarray(bgr[..., ::-1])
            if scene_threshold > 0:
                th = _thumb(frame)
                if last is None or float(np.abs(th - last).mean()) > scene_threshold:
                    last = th
                    yield index, frame
            elif index % every == 0:
                yield index, frame
            index += 1
        if read == 0:
            raise BadVideo("no frame could be decoded (corrupt or truncated)")
    finally:
        cap.release()


def frame_count(path: Path) -> int:
    cap = cv2.VideoCapture(str(path))
    try:
        return int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) if cap.isOpened() else 0
    finally:
        cap.release()
