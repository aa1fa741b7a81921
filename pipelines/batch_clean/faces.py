"""``reflect clean --detect faces``: clean square regions around the faces the decoder workers found.

Each face box (from :mod:`reflect.faces`, detected in the worker processes inside the item's window
region) becomes a square :func:`pipelines.regions.square_region` (``--face-margin`` of the face size on
each side, clipped to the window), resized to ``--face-size`` pixels so that faces of every size share
translation batches (zero-padded to ``--batch`` like every batch of the job, hence byte-identical
outputs after a resume), translated by the job's model (the bundled remover unless ``--model`` names another) and
resized back. ``--write frame`` pastes the regions back into the frame in face order (largest first);
``--write crop`` writes each cleaned region as ``<stem>_face<k>.png`` (videos:
``<stem>_frame<NNNNNN>_face<k>.png``) beside where the frame would go; ``<stem>`` is the item's output
stem from :mod:`pipelines.batch_clean.naming` (``a_jpg`` where ``a.jpg`` and ``a.png`` would meet). A frame without faces is
written unchanged (frame mode) or yields no file (crop mode). Face counts go to the job database.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np

from pipelines.batch_clean.inputs import Roi
from pipelines.batch_clean.writer import Writer
from pipelines.regions import Box, square_region


def crop_rel(stem: str, face: int, frame: int | None = None) -> str:
    """Where face ``face`` (of video frame ``frame``) of the input with output stem ``stem`` goes in crop mode."""
    tag = "" if frame is None else f"_frame{frame:06d}"
    return f"{stem}{tag}_face{face}.png"


def crop_label(stem: str, video: bool) -> str:
    """The job database's output entry for an item in crop mode: a glob of its crop files."""
    return f"{stem}{'_frame*' if video else ''}_face*.png"


def face_regions(boxes: list[Box], roi: Roi, margin: float) -> list[Box]:
    x, y, w, h = roi
    return [square_region(b, margin, (x, y, x + w, y + h)) for b in boxes]


def _resize(image: np.ndarray, w: int, h: int) -> np.ndarray:
    shrink = w < image.shape[1] or h < image.shape[0]
    return cv2.resize(image, (w, h), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)


@dataclass
class _Image:
    stem: str  # crop files: <stem>_face<k>.png
    rel: str  # frame mode: the output file
    frame: np.ndarray
    regions: list[Box]
    cleaned: dict[int, np.ndarray] = field(default_factory=dict)


class FaceBatcher:
    """Collects face crops of images across items (full batches), cleans video chunks as they come."""

    def __init__(
        self, translate: Any, batch: int, margin: float, size: int, write: str, writer: Writer
    ) -> None:
        self.translate = translate  # uint8 (n <= batch, size, size, 3) -> cleaned, padded to batch
        self.batch, self.margin, self.size, self.write, self.writer = batch, margin, size, write, writer
        self.queue: list[tuple[int, int, np.ndarray]] = []  # (item_id, face, resized crop)
        self.images: dict[int, _Image] = {}
        self.video_frames: dict[int, int] = {}
        self.video_faces: dict[int, int] = {}
        self.frames = 0  # frames handled in this run
        self.faces = 0  # faces cleaned in this run

    def _crop(self, frame: np.ndarray, region: Box) -> np.ndarray:
        x1, y1, x2, y2 = region
        return _resize(frame[y1:y2, x1:x2], self.size, self.size)

    def _clean(self, crops: list[np.ndarray]) -> list[np.ndarray]:
        out: list[np.ndarray] = []
        for start in range(0, len(crops), self.batch):
            out.extend(self.translate(np.stack(crops[start : start + self.batch])))
        self.faces += len(crops)
        return out

    def _paste(self, frame: np.ndarray, regions: list[Box], cleaned: list[np.ndarray]) -> np.ndarray:
        out = frame.copy()
        for (x1, y1, x2, y2), c in zip(regions, cleaned, strict=True):
            out[y1:y2, x1:x2] = _resize(c, x2 - x1, y2 - y1)
        return out

    def _files(
        self, stem: str, regions: list[Box], cleaned: list[np.ndarray], frame: int | None
    ) -> list[Any]:
        return [
            (crop_rel(stem, k, frame), _resize(c, x2 - x1, y2 - y1))
            for k, ((x1, y1, x2, y2), c) in enumerate(zip(regions, cleaned, strict=True))
        ]

    # ---- images ------------------------------------------------------------------------------
    def add_image(
        self, item_id: int, stem: str, frame: np.ndarray, roi: Roi, boxes: list[Box], rel: str
    ) -> None:
        """``stem``: the item's output stem (crop names); ``rel``: its output file (frame mode)."""
        self.frames += 1
        regions = face_regions(boxes, roi, self.margin)
        if not regions:
            self._finish_image(item_id, _Image(stem, rel, frame, []))
            return
        self.images[item_id] = _Image(stem, rel, frame, regions)
        for k, region in enumerate(regions):
            self.queue.append((item_id, k, self._crop(frame, region)))
        while len(self.queue) >= self.batch:
            self._run(self.batch)

    def flush(self) -> None:
        while self.queue:
            self._run(self.batch)

    def _run(self, n: int) -> None:
        taken, self.queue = self.queue[:n], self.queue[n:]
        for (item_id, k, _), c in zip(taken, self._clean([t[2] for t in taken]), strict=True):
            im = self.images[item_id]
            im.cleaned[k] = c
            if len(im.cleaned) == len(im.regions):
                self._finish_image(item_id, self.images.pop(item_id))

    def _finish_image(self, item_id: int, im: _Image) -> None:
        cleaned = [im.cleaned[k] for k in range(len(im.regions))]
        n = len(im.regions)
        if self.write == "frame":
            self.writer.put("image", item_id, (im.rel, self._paste(im.frame, im.regions, cleaned), n))
        else:
            self.writer.put("files", item_id, (self._files(im.stem, im.regions, cleaned, None), 1))
            self.writer.put("done", item_id, (crop_label(im.stem, False), 1, n))

    # ---- videos ------------------------------------------------------------------------------
    def add_video_chunk(
        self,
        item_id: int,
        stem: str,
        out_rel: str,
        frames: np.ndarray,
        roi: Roi,
        fps: float,
        boxes: list[list[Box]],
    ) -> None:
        """``stem``: the item's output stem (crop names); ``out_rel``: the re-encoded video (frame mode)."""
        first = self.video_frames.get(item_id, 0)
        regions = [face_regions(b, roi, self.margin) for b in boxes]
        crops = [self._crop(f, r) for f, rs in zip(frames, regions, strict=True) for r in rs]
        cleaned = iter(self._clean(crops))
        per_frame = [[next(cleaned) for _ in rs] for rs in regions]
        self.video_frames[item_id] = first + len(frames)
        self.video_faces[item_id] = self.video_faces.get(item_id, 0) + len(crops)
        self.frames += len(frames)
        if self.write == "frame":
            out = np.stack(
                [
                    self._paste(f, rs, cs) if rs else f
                    for f, rs, cs in zip(frames, regions, per_frame, strict=True)
                ]
            )
            self.writer.put("video", item_id, (out_rel, out, fps))
        else:
            files = [
                f
                for i, (rs, cs) in enumerate(zip(regions, per_frame, strict=True))
                for f in self._files(stem, rs, cs, first + i)
            ]
            self.writer.put("files", item_id, (files, len(frames)))

    def end_video(self, item_id: int, stem: str, out_rel: str, warning: str | None = None) -> None:
        frames, faces = self.video_frames.pop(item_id, 0), self.video_faces.pop(item_id, 0)
        if self.write == "frame":
            self.writer.put("video_end", item_id, (out_rel, faces, warning))
        else:
            self.writer.put("done", item_id, (crop_label(stem, True), frames, faces, warning))
