"""Stream sources: video file, image folder, camera index, RTSP/HTTP URL, synthetic test pattern.

Every source gives RGB uint8 frames (H, W, 3). ``read()`` returns ``None`` when no frame comes:
``ended`` then says whether the stream is over (end of a file) or was lost (a camera or URL that
disconnected, which the pipeline reopens with back-off). Live sources (cameras, URLs, the
synthetic pattern) run at their own pace; file sources are read as fast as the pipeline takes
them, or at their frame rate with ``realtime=True``.

A file that cannot be opened is a :class:`SourceError` naming it. A video that ends before the frame
count its container declares (a truncated or damaged file) gives one warning naming it and the
frames read; those frames are processed.
"""

from __future__ import annotations

import logging
import os
import time
import urllib.parse
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from pipelines.videos import ends_early, truncation_note
from reflect.errors import ConfigError, ReflectError

if TYPE_CHECKING:
    import cv2

log = logging.getLogger(__name__)
URL_SCHEMES = ("rtsp", "rtsps", "http", "https", "rtmp", "udp", "tcp")


class SourceError(ReflectError, OSError):
    """A source that cannot be opened or gives no frame; the message names it."""


class Source:
    live: bool = True
    fps: float = 25.0
    ended: bool = False
    name: str = "source"

    def open(self) -> None:
        """Open (or reopen) the source; raises OSError when it cannot be reached."""

    def read(self) -> np.ndarray | None:
        raise NotImplementedError

    def close(self) -> None:
        """Release the device or connection."""


class CaptureSource(Source):
    """OpenCV/FFmpeg capture: a video file, a camera index or a stream URL."""

    def __init__(
        self, target: str | int, *, live: bool, realtime: bool = False, timeout_s: float = 10.0
    ) -> None:
        self.target, self.live, self.realtime = target, live, realtime
        self.timeout_s = timeout_s  # URLs: how long to wait to connect, or for a frame (a silent server)
        self.name = str(target)
        self.cap: cv2.VideoCapture | None = None
        self._next = 0.0
        self.frames_read = 0  # files: frames read so far
        self.frames_declared = 0  # files: the frame count in the container's header (0: unknown)

    def open(self) -> None:
        import cv2

        self.close()
        if isinstance(self.target, str) and not self.live:
            if not os.path.isfile(self.target):
                raise SourceError(f"video file {self.target} does not exist")
            if os.path.getsize(self.target) == 0:
                raise SourceError(f"cannot open video {self.target}: the file is empty (0 bytes)")
        if isinstance(self.target, str) and self.live:  # FFmpeg waits 30 s for a silent server unless told
            ms = int(self.timeout_s * 1000)
            cap = cv2.VideoCapture(
                self.target,
                cv2.CAP_FFMPEG,
                [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, ms, cv2.CAP_PROP_READ_TIMEOUT_MSEC, ms],
            )
        else:
            cap = cv2.VideoCapture(self.target)
        if not cap.isOpened():
            cap.release()
            what = (
                (
                    "OpenCV/FFmpeg cannot read it as a video (not a video, or damaged: an MP4 cut short "
                    "loses its index)"
                )
                if not self.live
                else "cannot connect"
            )
            raise (OSError if self.live else SourceError)(f"cannot open {self.name}: {what}")
        fps = float(cap.get(cv2.CAP_PROP_FPS) or 0.0)
        self.fps = fps if 0.1 < fps < 1000 else 25.0
        if not self.live:
            self.frames_declared = max(0, int(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0))
            self.frames_read = 0
        self.cap, self.ended, self._next = cap, False, time.monotonic()

    def read(self) -> np.ndarray | None:
        import cv2

        if self.cap is None:
            return None
        if self.realtime and not self.live:
            delay = self._next - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            self._next = max(self._next + 1.0 / self.fps, time.monotonic() - 1.0)
        ok, frame = self.cap.read()
        if not ok:
            if not self.live and not self.ended and ends_early(self.frames_read, self.frames_declared):
                log.warning("%s: %s", self.name, truncation_note(self.frames_read, self.frames_declared))
            self.ended = not self.live
            return None
        self.frames_read += 1
        return cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)

    def close(self) -> None:
        if self.cap is not None:
            self.cap.release()
            self.cap = None


class ImageFolderSource(Source):
    """Images of a folder in name order (offline; unreadable files are skipped with a warning)."""

    live = False

    def __init__(
        self, folder: str | Path, fps: float = 25.0, realtime: bool = False, max_pixels: int | None = None
    ) -> None:
        from reflect.data.io import DEFAULT_MAX_PIXELS, folder_images

        self.max_pixels = max_pixels or DEFAULT_MAX_PIXELS

        self.files = folder_images(folder, "source folder", recursive=True)
        self.fps, self.realtime, self.name = fps, realtime, str(folder)
        self.i = 0
        self._next = 0.0

    def open(self) -> None:
        self._next = time.monotonic()

    def read(self) -> np.ndarray | None:
        import logging

        from reflect.data.io import read_image
        from reflect.errors import ImageReadError

        while self.i < len(self.files):
            f = self.files[self.i]
            self.i += 1
            if self.realtime:
                time.sleep(max(0.0, self._next - time.monotonic()))
                self._next += 1.0 / self.fps
            try:
                return read_image(f, self.max_pixels)
            except ImageReadError as e:
                logging.getLogger(__name__).warning("%s", e)
        self.ended = True
        return None


class SyntheticSource(Source):
    """A paced test pattern (moving bars and a square), ``synthetic://WxH?fps=F&seconds=S``."""

    def __init__(self, width: int, height: int, fps: float, seconds: float) -> None:
        self.w, self.h, self.fps, self.seconds = width, height, fps, seconds
        self.name = f"synthetic {width}x{height}@{fps:g}"
        y, x = np.mgrid[0:height, 0:width]
        self.base = np.stack(
            [(x * 255 // max(width - 1, 1)), (y * 255 // max(height - 1, 1)), ((x + y) % 64) * 4], axis=-1
        ).astype(np.uint8)
        self.i = 0
        self.t0 = 0.0

    def open(self) -> None:
        if self.t0 == 0.0:
            self.t0 = time.monotonic()

    def read(self) -> np.ndarray | None:
        if self.i >= self.seconds * self.fps:
            self.ended = True
            return None
        time.sleep(max(0.0, self.t0 + self.i / self.fps - time.monotonic()))
        frame = np.roll(self.base, 4 * self.i, axis=1)
        s = max(8, self.h // 6)
        x0 = (7 * self.i) % max(1, self.w - s)
        frame[self.h // 3 : self.h // 3 + s, x0 : x0 + s] = 255
        self.i += 1
        return frame


def open_source(
    spec: str, *, realtime: bool = False, max_pixels: int | None = None, timeout_s: float = 10.0
) -> Source:
    """A source from its command-line form (see ``reflect stream --help``); ``timeout_s``: URLs' connect and
    read timeout."""
    if spec.isdigit():
        return CaptureSource(int(spec), live=True)
    parsed = urllib.parse.urlparse(spec)
    if parsed.scheme == "synthetic":
        size = parsed.netloc or parsed.path.strip("/") or "640x360"
        q = dict(urllib.parse.parse_qsl(parsed.query))
        try:
            w, h = (int(v) for v in size.lower().split("x"))
            return SyntheticSource(w, h, float(q.get("fps", 30)), float(q.get("seconds", 10)))
        except ValueError:
            raise ConfigError(
                f"bad synthetic source '{spec}'; expected synthetic://WxH?fps=F&seconds=S"
            ) from None
    if parsed.scheme in URL_SCHEMES:
        return CaptureSource(spec, live=True, timeout_s=timeout_s)
    p = Path(spec)
    if p.is_dir():
        return ImageFolderSource(p, realtime=realtime, max_pixels=max_pixels)
    if p.is_file():
        return CaptureSource(str(p), live=False, realtime=realtime)
    raise ConfigError(
        f"source '{spec}' is not a file, folder, camera index, URL ({', '.join(URL_SCHEMES)}) or synthetic://WxH"
    )
