"""Batching of a job's window crops: fixed-size padded translation batches, paste-back, progress bars.

Every translated batch is zero-padded to ``--batch`` rows (for deterministic backends): CPU
convolutions can round differently for another batch size, so a resumed job, or the Ray engine,
gives the same bytes as an uninterrupted local run.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from pipelines.batch_clean.inputs import Roi
from pipelines.batch_clean.jobdb import JobDB
from pipelines.batch_clean.writer import Writer


def translate_padded(translator: Any, crops: np.ndarray, batch: int) -> np.ndarray:
    """Translate uint8 crops (n <= batch, H, W, 3), zero-padded to ``batch`` for deterministic backends.

    CPU convolutions can round differently for another batch size, so every engine pads alike.
    """
    n = len(crops)
    if n < batch and getattr(translator, "deterministic", True):
        pad = np.zeros((batch - n, *crops.shape[1:]), np.uint8)
        crops = np.concatenate([crops, pad])
    out: np.ndarray = translator.translate(np.ascontiguousarray(crops))[:n]
    return out


def place_window(frames: np.ndarray, roi: Roi, cleaned: np.ndarray, write: str) -> np.ndarray:
    """``write='crop'``: the cleaned windows; ``'frame'``: frames (n, H, W, 3) with them pasted back."""
    if write == "crop":
        return cleaned
    x, y, w, h = roi
    out = frames.copy()
    out[:, y : y + h, x : x + w] = cleaned
    return out


class WindowBatcher:
    """Crops windows, translates padded batches, pastes results back, hands them to the writer."""

    def __init__(self, translator: Any, batch: int, write: str, writer: Writer) -> None:
        self.t, self.batch, self.write, self.writer = translator, batch, write, writer
        self.images: dict[tuple[int, int], list[tuple[int, str, np.ndarray, Roi]]] = {}
        self.translated = 0

    def translate(self, crops: np.ndarray) -> np.ndarray:
        out = translate_padded(self.t, crops, self.batch)
        self.translated += len(crops)
        return out

    def _place(self, frames: np.ndarray, roi: Roi, cleaned: np.ndarray) -> np.ndarray:
        return place_window(frames, roi, cleaned, self.write)

    def add_image(self, item_id: int, rel: str, frame: np.ndarray, roi: Roi) -> None:
        x, y, w, h = roi
        bucket = self.images.setdefault((h, w), [])
        bucket.append((item_id, rel, frame, roi))
        if len(bucket) >= self.batch:
            self.flush((h, w))

    def flush(self, key: tuple[int, int] | None = None) -> None:
        for k in [key] if key is not None else list(self.images):
            bucket = self.images.pop(k, [])
            if not bucket:
                continue
            crops = np.stack([f[y : y + h, x : x + w] for _, _, f, (x, y, w, h) in bucket])
            cleaned = self.translate(crops)
            for (item_id, rel, frame, roi), c in zip(bucket, cleaned, strict=True):
                self.writer.put("image", item_id, (rel, self._place(frame[None], roi, c[None])[0]))

    def add_video_chunk(self, item_id: int, rel: str, frames: np.ndarray, roi: Roi, fps: float) -> None:
        x, y, w, h = roi
        cleaned = self.translate(frames[:, y : y + h, x : x + w])
        self.writer.put("video", item_id, (rel, self._place(frames, roi, cleaned), fps))


@contextlib.contextmanager
def job_writer(
    db: JobDB, output: Path, codec: str, *, progress: bool, pending: int, skipped: int
) -> Iterator[Writer]:
    """The job's writer thread with its two progress bars (files, frames), for either engine.

    On exit the bars are closed and a writer that did not ``finish()`` (an error) is stopped.
    """
    from tqdm import tqdm

    files_bar = tqdm(total=pending + skipped, desc="files", unit="file", position=0, disable=not progress)
    frames_bar = tqdm(desc="frames", unit="frame", position=1, disable=not progress)
    files_bar.update(skipped)

    def on_done(item_id: int, n: int) -> None:
        if item_id >= 0:
            files_bar.update(1)
        if n:
            frames_bar.update(n)

    writer = Writer(db, output, codec, on_done)
    writer.start()
    try:
        yield writer
    finally:
        files_bar.close()
        frames_bar.close()
        if writer.is_alive():
            writer.q.put(None)
            writer.join(timeout=30)
