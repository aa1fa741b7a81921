"""The writer thread of a batch job: encodes outputs atomically, then marks them done.

Images are written with :func:`reflect.data.io.write_image` (temp file + rename), whole frames with
their source's EXIF (orientation reset: the pixels are upright already). A video is
encoded into a temporary file next to its output and renamed only after its last frame, once it
opens with every frame (:class:`pipelines.videos.VideoOut`), so a killed job or a full disk never
leaves a half-written video under the output name. Only after the rename is the
item marked ``done`` in the job database.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import queue
import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pipelines.batch_clean.jobdb import JobDB
from pipelines.batch_clean.naming import CODECS
from pipelines.videos import VideoOut
from reflect.data.io import read_exif, write_image
from reflect.errors import OutputError

log = logging.getLogger(__name__)

__all__ = ["CODECS", "Writer"]
#: write errors that are the machine's, not the input's: the item is retried by a plain resume
MACHINE_ERRNOS = (errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM, errno.EIO)


class Writer(threading.Thread):
    """Consumes ``(op, item_id, payload)`` messages; owns every database write while running."""

    def __init__(
        self,
        db: JobDB,
        out_root: Path,
        codec: str,
        on_done: Callable[[int, int], None],
        sources: dict[int, Path] | None = None,
    ) -> None:
        super().__init__(name="reflect-writer", daemon=True)
        self.db, self.out_root, self.codec, self.on_done = db, out_root, codec, on_done
        self.sources = sources or {}  # item id -> source image whose EXIF its (whole-frame) output keeps
        self.q: queue.Queue[tuple[str, int, Any] | None] = queue.Queue(maxsize=16)
        self.videos: dict[int, VideoOut] = {}
        self.failed: set[int] = set()
        self.exc: BaseException | None = None
        self.stopped = ""  # set when an output could not be written for the machine's reasons

    def _raise(self) -> None:
        if isinstance(self.exc, OutputError):
            raise self.exc
        if self.exc is not None:
            raise RuntimeError("the writer thread failed") from self.exc

    def put(self, op: str, item_id: int, payload: Any) -> None:
        while True:  # never block forever on the queue of a writer that has died
            self._raise()
            try:
                self.q.put((op, item_id, payload), timeout=0.5)
                return
            except queue.Full:
                if not self.is_alive():
                    raise RuntimeError("the writer thread ended unexpectedly") from None

    def finish(self) -> None:
        with contextlib.suppress(RuntimeError):
            self.put("stop", -1, None)
        self.join()
        self._raise()

    def run(self) -> None:
        try:
            while (msg := self.q.get()) is not None and msg[0] != "stop":
                self._handle(*msg)
        except sqlite3.OperationalError as e:  # "database or disk is full", a read-only database
            self.exc = OutputError(
                f"cannot update the job database {self.db.path} ({e}); free space and run "
                "the same command again"
            )
        except BaseException as e:  # surfaced in the main thread by put()/finish()
            self.exc = e
        finally:
            for v in self.videos.values():
                v.abort()
            self.videos.clear()

    def _handle(self, op: str, item_id: int, payload: Any) -> None:
        if item_id in self.failed or (self.stopped and op != "error"):
            return
        try:
            if op == "image":  # (rel, image) or (rel, image, faces)
                rel, image, *faces = payload
                src = self.sources.get(item_id)
                write_image(self.out_root / rel, image, exif=read_exif(src) if src is not None else None)
                self.db.mark_done(item_id, rel, 1, *faces)
                self.on_done(item_id, 1)
            elif op == "files":  # face crops: ([(rel, image), ...], frames they came from); done comes later
                files, n = payload
                for rel, image in files:
                    write_image(self.out_root / rel, image)
                self.on_done(-1, n)
            elif op == "done":  # after an item's "files": (output label, frames, faces[, warning])
                label, n, faces, *warning = payload
                self.db.mark_done(item_id, label, n, faces, *warning)
                self.on_done(item_id, 0)
            elif op == "video":
                rel, frames, fps = payload
                if item_id not in self.videos:
                    h, w = frames.shape[1:3]
                    self.videos[item_id] = VideoOut(self.out_root / rel, fps, (w, h), self.codec)
                for frame in frames:
                    self.videos[item_id].write(frame)
                self.on_done(-1, len(frames))
            elif op == "video_end":  # rel or (rel, faces[, warning])
                rel, faces, *warning = (payload, 0) if isinstance(payload, str) else payload
                video = self.videos.pop(item_id)
                video.commit()
                self.db.mark_done(item_id, rel, video.frames, faces, *warning)
                self.on_done(item_id, 0)
            elif op in ("error", "failed"):  # bad input | the machine failed (a resume retries it)
                self._give_up(item_id, str(payload), retry=op == "failed")
            else:
                raise ValueError(f"unknown writer message {op!r}")
        except OSError as e:
            machine = e.errno in MACHINE_ERRNOS
            log.error("item %d: cannot write output: %s", item_id, e)
            self._give_up(item_id, f"cannot write output: {e}", retry=machine)
            if machine:
                self.stopped = f"cannot write {e.filename or 'an output'} ({e.strerror or e})"

    def _give_up(self, item_id: int, reason: str, *, retry: bool) -> None:
        self.failed.add(item_id)
        if (unfinished := self.videos.pop(item_id, None)) is not None:
            unfinished.abort()
        (self.db.mark_failed if retry else self.db.mark_error)(item_id, reason)
        self.on_done(item_id, 0)
