"""Decoding in worker processes (light imports only: numpy, OpenCV, PIL; never torch).

A worker takes ``(item_id, path, kind)`` tasks and sends messages to the main process:

* ``("frames", item_id, (frames, fps))`` with ``frames`` uint8 (n, H, W, 3) RGB; a video is sent
  in consecutive chunks of ``chunk`` frames, in order (``fps`` is 0 for images);
* ``("end", item_id, {"frames": n, "fps": f})`` after the last chunk of an item;
* ``("error", item_id, reason)`` when the file cannot be decoded (nothing else is sent for it).

Workers send ``("bye", -1, None)`` and exit when they read ``None``; they also exit when their
parent process has gone (``kill -9``), so no orphan keeps decoding.
"""

from __future__ import annotations

import os
import queue
from multiprocessing.queues import Queue
from typing import Any

import numpy as np

Message = tuple[str, int, Any]


def _put(out_q: Queue[Message], msg: Message, parent: int) -> bool:
    """Blocking put that gives up when the parent process is gone."""
    while True:
        try:
            out_q.put(msg, timeout=0.5)
            return True
        except queue.Full:
            if os.getppid() != parent:
                return False


def decode_image(path: str) -> np.ndarray:
    from reflect.data.io import read_image

    return read_image(path)[None]


def iter_video(path: str, chunk: int) -> tuple[float, Any]:
    """Open a video; returns its frame rate and an iterator of RGB chunks. Raises OSError."""
    import cv2

    if os.path.getsize(path) == 0:
        raise OSError("the file is empty (0 bytes)")
    cap = cv2.VideoCapture(path)
    if not cap.isOpened():
        cap.release()
        raise OSError("OpenCV/FFmpeg cannot open it as a video")
    fps = float(cap.get(cv2.CAP_PROP_FPS) or 0.0)
    if not (0.1 < fps < 1000):
        fps = 25.0

    def chunks() -> Any:
        try:
            buf: list[np.ndarray] = []
            while True:
                ok, frame = cap.read()
                if not ok:
                    break
                buf.append(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB))
                if len(buf) == chunk:
                    yield np.stack(buf)
                    buf = []
            if buf:
                yield np.stack(buf)
        finally:
            cap.release()

    return fps, chunks()


def worker(task_q: Queue[Any], out_q: Queue[Message], chunk: int, parent: int) -> None:
    """Worker process main loop."""
    import cv2

    cv2.setNumThreads(1)
    while True:
        try:
            task = task_q.get(timeout=0.5)
        except queue.Empty:
            if os.getppid() != parent:
                return
            continue
        if task is None:
            _put(out_q, ("bye", -1, None), parent)
            return
        item_id, path, kind = task
        try:
            if kind == "image":
                if not _put(out_q, ("frames", item_id, (decode_image(path), 0.0)), parent):
                    return
                n, fps = 1, 0.0
            else:
                fps, it = iter_video(path, chunk)
                n = 0
                for frames in it:
                    n += len(frames)
                    if not _put(out_q, ("frames", item_id, (frames, fps)), parent):
                        return
                if n == 0:
                    raise OSError("no frame could be decoded")
        except (OSError, ValueError) as e:  # ImageReadError is an OSError
            reason = str(e) if kind == "video" else getattr(e, "reason", str(e))
            if not _put(out_q, ("error", item_id, reason), parent):
                return
            continue
        if not _put(out_q, ("end", item_id, {"frames": n, "fps": fps}), parent):
            return
