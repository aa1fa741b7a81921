"""Video helpers shared by ``reflect clean`` and ``reflect stream``: truncation check, quiet FFmpeg,
and :class:`VideoOut`, a video written under a temporary name and renamed only when complete.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import shutil
import sys
from pathlib import Path
from typing import Any

import numpy as np

from reflect.utils.atomic import atomic_path

#: free bytes below which a failed write is put down to a full disk
FULL_DISK_BYTES = 1 << 20


def ends_early(read: int, declared: int) -> bool:
    """Whether a video that gave ``read`` frames stopped short of the ``declared`` count of its header.

    A truncated or damaged file ends before the count its container declares. Some containers only
    estimate the count (from duration x frame rate), so 1 % (at least one frame) of slack is allowed;
    MP4 and AVI headers are exact. An unknown count (0) never counts as early.
    """
    return read > 0 and declared > 0 and read < declared - max(1, declared // 100)


def truncation_note(read: int, declared: int) -> str:
    return (
        f"the video ends early: {read} of its {declared} frames could be read (truncated or damaged file); "
        f"the output holds those {read}"
    )


def quiet_ffmpeg() -> None:
    """Silence FFmpeg's own console messages ("moov atom not found"): a bad video is one line of ours.

    Call before the first video is opened in this process (child processes inherit it); ``reflect -v``
    keeps them.
    """
    if logging.getLogger().getEffectiveLevel() > logging.DEBUG:
        os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")  # AV_LOG_QUIET
        os.environ.setdefault(
            "OPENCV_LOG_LEVEL", "ERROR"
        )  # OpenCV's "Failed to write frame": one line of ours
        if "cv2" in sys.modules:  # already imported: the variable is read at import, so tell it directly
            import cv2.utils.logging as cv_log

            cv_log.setLogLevel(cv_log.LOG_LEVEL_ERROR)


def write_failure(path: Path, what: str) -> OSError:
    """The error of a video write that FFmpeg reported as failed: ENOSPC when the disk is (nearly) full."""
    try:
        full = shutil.disk_usage(path.parent).free < FULL_DISK_BYTES
    except OSError:
        full = False
    if full:
        return OSError(errno.ENOSPC, f"No space left on device ({what})", str(path))
    return OSError(errno.EIO, f"FFmpeg could not write the video ({what})", str(path))


class VideoOut:
    """A video encoded into a temporary file next to ``path``; :meth:`commit` checks it and renames it.

    OpenCV does not raise when FFmpeg fails to write (a full disk): ``write`` returns False (AVI), or
    the container is left without its index at ``release`` (MP4). So a failed write raises
    :class:`OSError` at once, and :meth:`commit` opens the finished file and checks that it holds
    every frame (its count, and its last frame read back) before the rename: a video under its final name is always complete. On any failure
    the temporary file is removed.
    """

    def __init__(self, path: str | os.PathLike[str], fps: float, size: tuple[int, int], codec: str) -> None:
        import cv2

        self.path, self.size, self.codec = Path(path), size, codec  # size: (width, height)
        self.frames = 0  # frames handed to the encoder
        self._cm: Any = atomic_path(self.path)
        self.tmp: Path = self._cm.__enter__()
        self._writer = cv2.VideoWriter(str(self.tmp), cv2.VideoWriter.fourcc(*codec), fps, size)
        if not self._writer.isOpened():
            self.abort()
            raise OSError(errno.EIO, f"OpenCV cannot write {codec} video", str(self.path))

    def write(self, frame: np.ndarray) -> None:
        """Append one (H, W, 3) uint8 RGB frame of the video's size."""
        import cv2

        if self._writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR)) is False:  # OpenCV >= 4.10 says so
            raise write_failure(self.path, f"frame {self.frames + 1} was not written")
        self.frames += 1

    def commit(self) -> None:
        """Finish the file, check that it opens with every frame, then rename it onto ``path``."""
        import cv2

        self._writer.release()
        cap = cv2.VideoCapture(str(self.tmp))
        opened, count = cap.isOpened(), int(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
        last = True
        if (
            opened and count >= self.frames > 0
        ):  # an AVI's header can count frames its data lost: read the last
            cap.set(cv2.CAP_PROP_POS_FRAMES, self.frames - 1)
            last = bool(cap.read()[0])
        cap.release()
        if not opened or count < self.frames or not last:
            held = (
                "cannot be opened (no index)"
                if not opened
                else f"holds {count} of {self.frames} frames"
                if count < self.frames
                else "lost its last frames"
            )
            err = write_failure(self.path, f"the finished video {held}")
            self.abort()
            raise err
        self._cm.__exit__(None, None, None)

    def abort(self) -> None:
        """Stop and remove the temporary file; nothing is left under ``path``."""
        self._writer.release()
        with contextlib.suppress(OSError):
            self._cm.__exit__(OSError, OSError("aborted"), None)
