"""Decoding (and, with ``--detect faces``, face detection) in worker processes.

Light imports only (numpy, OpenCV, PIL; never torch) unless faces are detected: then a worker
builds one :mod:`reflect.faces` detector (:func:`pipelines.regions.box_detector`), so detection runs
beside decoding and the main process only translates.

Each worker has its own duplex pipe to the main process (:mod:`pipelines.batch_clean.decoders`), so
a worker that dies in the middle of a message damages only its own pipe: the main process reads the
end of file there and goes on, where a queue shared by all workers would stay locked for good. The
worker reads ``(item_id, path, kind, roi)`` tasks from it (``roi`` is the item's unclipped window
rectangle or None, see :mod:`pipelines.batch_clean.inputs`), in order, and answers each with:

* ``("frames", item_id, (frames, fps, faces))`` with ``frames`` uint8 (n, H, W, 3) RGB; a video is sent
  in consecutive chunks of ``chunk`` frames, in order (``fps`` is 0 for images); ``faces`` is None
  without detection, else per frame the face boxes ``(x1, y1, x2, y2)`` found inside the window;
* ``("end", item_id, {"frames": n, "fps": f, "declared": m})`` after the last chunk of an item (``declared``:
  a video's frame count by its header, 0 when unknown or an image; fewer ``frames`` means a truncated file);
* ``("error", item_id, reason)`` when the file cannot be decoded, whatever the decoder raised (nothing
  else is sent for it); ``("failed", item_id, reason)`` when memory ran out (a resume retries it);
* ``("fatal", -1, reason)`` when the face detector cannot be built (the worker then exits).

A worker exits when it reads ``None`` or its pipe closes; it also ends with its parent process, even
after ``kill -9`` of it and while blocked on a full pipe or inside a decoder: on Linux the kernel
sends it SIGKILL when the parent dies (``PR_SET_PDEATHSIG``), and everywhere a watchdog thread ends
the process when the parent is gone (:func:`die_with_parent`).
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
import threading
import time
from multiprocessing.connection import Connection
from typing import Any

import numpy as np

Message = tuple[str, int, Any]
#: tests only: a decoder given a file whose name holds this variable's value never returns from it
HANG_FOR_TESTS = "REFLECT_TEST_DECODER_HANGS_ON"


def _send(conn: Connection, msg: Message) -> bool:
    """Send one message to the main process; False when it is gone (its end of the pipe closed)."""
    try:
        conn.send(msg)
        return True
    except (BrokenPipeError, ConnectionResetError, EOFError, OSError):
        return False


def die_with_parent(parent: int, interval: float = 0.5) -> None:
    """End this process when process ``parent`` is gone (kill -9 included), whatever it is doing."""
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
        except (OSError, AttributeError):
            pass
    if os.getppid() != parent:  # the parent died before the signal was armed
        os._exit(0)

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(interval)
        os._exit(0)

    threading.Thread(target=watch, name="reflect-parent-watchdog", daemon=True).start()


def decode_image(path: str, max_pixels: int | None = None) -> np.ndarray:
    from reflect.data.io import DEFAULT_MAX_PIXELS, read_image

    return read_image(path, max_pixels or DEFAULT_MAX_PIXELS)[None]


def iter_video(path: str, chunk: int) -> tuple[float, Any, int]:
    """Open a video; returns its frame rate, an iterator of RGB chunks and its header's frame count. Raises OSError."""
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
    declared = max(0, int(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0))

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

    return fps, chunks(), declared


def faces_in_window(detect: Any, frames: np.ndarray, roi: Any) -> list[list[tuple[int, int, int, int]]]:
    """Per frame, the boxes ``detect`` finds inside the clipped ``roi`` (whole frame when None), in frame pixels.

    A window outside the frame finds nothing (the main process records that error for the item).
    """
    from pipelines.batch_clean.inputs import clip_roi

    try:
        x, y, w, h = clip_roi(roi, *frames.shape[1:3])
    except ValueError:
        return [[] for _ in frames]
    return [
        [(x1 + x, y1 + y, x2 + x, y2 + y) for x1, y1, x2, y2 in detect(f[y : y + h, x : x + w])]
        for f in frames
    ]


def worker(
    conn: Connection,
    chunk: int,
    parent: int,
    detector: str | None = None,
    detector_weights: str | None = None,
    max_pixels: int | None = None,
) -> None:
    """Worker process main loop; ``detector`` names a :mod:`reflect.faces` detector to find faces with."""
    import cv2

    die_with_parent(parent)
    cv2.setNumThreads(1)
    detect = None
    if detector is not None:
        import torch

        from pipelines.regions import box_detector

        torch.set_num_threads(1)
        try:
            detect = box_detector(detector, **({"weights": detector_weights} if detector_weights else {}))
        except Exception as e:  # noqa: BLE001 - a missing model file or package: the job cannot go on
            _send(conn, ("fatal", -1, f"cannot build face detector '{detector}': {e}"))
            return

    def found(frames: np.ndarray, roi: Any) -> Any:
        return None if detect is None else faces_in_window(detect, frames, roi)

    while True:
        try:
            task = conn.recv()
        except (EOFError, OSError):  # the main process closed the pipe (or is gone)
            return
        if task is None:
            return
        item_id, path, kind, roi = task
        if (hang := os.environ.get(HANG_FOR_TESTS)) and hang in os.path.basename(path):
            threading.Event().wait()  # as a decoder library stuck in a loop would (only a kill ends it)
        try:
            if kind == "image":
                image = decode_image(path, max_pixels)
                if not _send(conn, ("frames", item_id, (image, 0.0, found(image, roi)))):
                    return
                n, fps, declared = 1, 0.0, 0
            else:
                fps, it, declared = iter_video(path, chunk)
                n = 0
                for frames in it:
                    n += len(frames)
                    if not _send(conn, ("frames", item_id, (frames, fps, found(frames, roi)))):
                        return
                if n == 0:
                    raise OSError("no frame could be decoded")
        except MemoryError:
            if not _send(conn, ("failed", item_id, "out of memory while decoding")):
                return
            continue
        except Exception as e:  # noqa: BLE001 - whatever a decoder raises, it is this input's error
            reason = getattr(e, "reason", None) or (str(e).strip().splitlines() or [type(e).__name__])[0]
            if not _send(conn, ("error", item_id, reason)):
                return
            continue
        if not _send(conn, ("end", item_id, {"frames": n, "fps": fps, "declared": declared})):
            return
