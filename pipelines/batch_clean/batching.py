"""Batching of a job's window crops: fixed-size padded translation batches, paste-back, progress bars.

Every translated batch is zero-padded to ``--batch`` rows (for deterministic backends): CPU
convolutions can round differently for another batch size, so a resumed job, or the Ray engine,
gives the same bytes as an uninterrupted local run.

Memory: a job has a budget (``--memory-mb``, as input pixels per translation call, see
:func:`reflect.inference.budget_pixels`). Crops whose padded batch would exceed it are translated
one at a time, unpadded, and a crop larger than the budget in overlapping tiles
(:func:`reflect.inference.translate_tiled`); both depend only on the crop's size, so outputs stay byte-identical
after a resume. A batch that fails is retried crop by crop, and only the crops that fail again are
given up: ``failed`` (retried by a resume) when memory ran out, ``error`` otherwise.
"""

from __future__ import annotations

import contextlib
import queue
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


def is_oom(e: BaseException) -> bool:
    return isinstance(e, MemoryError) or "out of memory" in str(e).lower()


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

    def __init__(
        self,
        translator: Any,
        batch: int,
        write: str,
        writer: Writer,
        max_pixels: int = 1 << 62,
        bytes_per_px: float = 0.0,
    ) -> None:
        self.t, self.batch, self.write, self.writer = translator, batch, write, writer
        self.max_pixels = max_pixels  # input pixels one translation call may hold (the job's memory budget)
        self.bytes_per_px = bytes_per_px  # what one of them costs: tiling counts its row buffer in the budget
        self.images: dict[tuple[int, int], list[tuple[int, str, np.ndarray, Roi]]] = {}
        self.translated = 0

    def translate(self, crops: np.ndarray) -> np.ndarray:
        """uint8 (n, H, W, 3) crops -> cleaned, within the memory budget (padded, alone or tiled)."""
        h, w = crops.shape[1:3]
        model_size = getattr(self.t, "model_input_size", None)  # a working size: the model sees less
        mh, mw = model_size(h, w) if model_size is not None else (h, w)
        if self.batch * mh * mw <= self.max_pixels:
            out = translate_padded(self.t, crops, self.batch)
        else:
            from reflect.inference import auto_tile, translate_tiled

            tile, overlap = auto_tile(mh, mw, self.max_pixels, self.bytes_per_px)
            out = np.stack(
                [
                    translate_tiled(lambda p: self.t.translate(p[None])[0], c, tile, overlap)
                    if tile
                    else self.t.translate(c[None])[0]
                    for c in crops
                ]
            )
        self.translated += len(crops)
        return out

    def translate_items(self, crops: np.ndarray, ids: list[int]) -> list[np.ndarray | None]:
        """Like :meth:`translate`, but a crop that fails is given up for its item (None), not the job."""
        try:
            return list(self.translate(crops))
        except Exception as e:  # noqa: BLE001 - any failure of one input must not stop the job
            if len(crops) == 1:
                self.give_up(ids[0], e)
                return [None]
        out: list[np.ndarray | None] = []
        for c, item_id in zip(crops, ids, strict=True):
            try:
                out.append(self.translate(c[None])[0])
            except Exception as e:  # noqa: BLE001
                self.give_up(item_id, e)
                out.append(None)
        return out

    def give_up(self, item_id: int, e: BaseException) -> None:
        first = (str(e).strip().splitlines() or [type(e).__name__])[0][:200]
        if is_oom(e):
            self.writer.put(
                "failed", item_id, f"out of memory while translating ({first}); lower --memory-mb"
            )
        else:
            self.writer.put("error", item_id, f"cannot translate: {first}")

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
            cleaned = self.translate_items(crops, [b[0] for b in bucket])
            for (item_id, rel, frame, roi), c in zip(bucket, cleaned, strict=True):
                if c is not None:
                    self.writer.put("image", item_id, (rel, self._place(frame[None], roi, c[None])[0]))

    def add_video_chunk(self, item_id: int, rel: str, frames: np.ndarray, roi: Roi, fps: float) -> None:
        x, y, w, h = roi
        try:
            cleaned = self.translate(frames[:, y : y + h, x : x + w])
        except Exception as e:  # noqa: BLE001 - the video is given up, the job goes on
            self.give_up(item_id, e)
            return
        self.writer.put("video", item_id, (rel, self._place(frames, roi, cleaned), fps))


@contextlib.contextmanager
def job_writer(
    db: JobDB,
    output: Path,
    codec: str,
    *,
    progress: bool,
    pending: int,
    skipped: int,
    sources: dict[int, Path] | None = None,
) -> Iterator[Writer]:
    """The job's writer thread with its two progress bars (files, frames), for either engine.

    ``sources``: item id -> source image, for the items whose output is the whole frame (EXIF kept).

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

    writer = Writer(db, output, codec, on_done, sources)
    writer.start()
    try:
        yield writer
    finally:
        files_bar.close()
        frames_bar.close()
        if writer.is_alive():
            with contextlib.suppress(queue.Full):
                writer.q.put(None, timeout=5)
            writer.join(timeout=30)
