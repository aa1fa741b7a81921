"""Stream sinks: video file, image folder, and a local HTTP endpoint (MJPEG preview + metrics).

The video file is encoded into a temporary file and renamed when the stream ends (also on
SIGINT/SIGTERM), once it opens with every frame, so the output is always a complete, playable file;
a write that fails (a full disk) raises :class:`OSError`, which fails the run, and the incomplete
video is removed (:meth:`Sink.abort`). A video has one frame size, the
first frame's: a later frame of another size (a camera or stream that changed resolution, a folder of
mixed images) is resized to it, with one warning, and counted in ``resized``. The HTTP sink serves, on
127.0.0.1 only: ``/`` (a page with the preview), ``/preview.mjpg`` (multipart MJPEG),
``/metrics`` (Prometheus text) and ``/metrics.json``.
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
import urllib.parse
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import numpy as np

from pipelines.videos import VideoOut
from reflect.errors import ConfigError
from reflect.utils.atomic import atomic_write_bytes
from reflect.utils.paths import writable_folder

log = logging.getLogger(__name__)


class Sink:
    name: str = "sink"
    written: int = 0  # frames the output holds now (a video: once it is complete)

    def write(self, index: int, frame: np.ndarray) -> None:
        """Write one frame; an :class:`OSError` (a full disk) fails the run."""
        raise NotImplementedError

    def close(self) -> None:
        """Flush and finish the output; an :class:`OSError` means it could not be finished."""

    def abort(self) -> None:
        """The run failed on this sink: drop what cannot be completed (default: finish it)."""
        self.close()


class VideoFileSink(Sink):
    """A video file (:class:`pipelines.videos.VideoOut`): renamed into place only when complete.

    ``fps`` is the source's rate, read when the first frame comes (a source reports it once open).
    """

    def __init__(self, path: str | Path, fps: float | Callable[[], float]) -> None:
        self.path = Path(path)
        self.name = str(self.path)
        self.fps = fps
        self.codec = "MJPG" if self.path.suffix.lower() == ".avi" else "mp4v"
        self.video: VideoOut | None = None
        self.size = (0, 0)  # (width, height) of the video: its first frame's
        self.frames = 0  # frames written
        self.resized = 0  # of those, frames of another size resized to the video's

    def write(self, index: int, frame: np.ndarray) -> None:
        import cv2

        h, w = frame.shape[:2]
        if self.video is None:
            self.size = (w, h)
            self.video = VideoOut(
                self.path, self.fps() if callable(self.fps) else self.fps, self.size, self.codec
            )
        elif (w, h) != self.size:  # VideoWriter silently drops frames of another size
            if self.resized == 0:
                log.warning(
                    "%s: frame %d is %dx%d, the video is %dx%d: frames of another size are resized to it",
                    self.path,
                    index,
                    w,
                    h,
                    self.size[0],
                    self.size[1],
                )
            self.resized += 1
            frame = cv2.resize(
                frame,
                self.size,
                interpolation=cv2.INTER_AREA if w * h > self.size[0] * self.size[1] else cv2.INTER_LINEAR,
            )
        self.video.write(frame)
        self.frames += 1

    def close(self) -> None:
        if self.video is not None:
            video, self.video = self.video, None
            video.commit()
            self.written = video.frames
            if self.resized:
                log.info(
                    "%s: %d of %d frames were resized to %dx%d",
                    self.path,
                    self.resized,
                    self.frames,
                    self.size[0],
                    self.size[1],
                )

    def abort(self) -> None:
        if self.video is not None:
            self.video.abort()
            self.video = None


class ImageFolderSink(Sink):
    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)
        self.name = str(self.folder)
        writable_folder(self.folder, "--sink")

    def write(self, index: int, frame: np.ndarray) -> None:
        import cv2

        ok, buf = cv2.imencode(".jpg", cv2.cvtColor(frame, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 92])
        if ok:
            atomic_write_bytes(self.folder / f"frame_{index:08d}.jpg", buf.tobytes())
            self.written += 1


_PAGE = b"""<!doctype html><html><head><meta charset="utf-8"><title>reflect stream</title></head>
<body style="font-family:sans-serif;background:#111;color:#eee"><h1>reflect stream</h1>
<img src="/preview.mjpg" style="max-width:100%"><p><a href="/metrics.json" style="color:#9cf">metrics.json</a>
&middot; <a href="/metrics" style="color:#9cf">metrics (Prometheus)</a></p></body></html>"""


class HttpSink(Sink):
    """Serves the latest frame as MJPEG and the pipeline's metrics; binds 127.0.0.1 only."""

    def __init__(self, host: str, port: int, metrics: Any) -> None:
        if host not in ("127.0.0.1", "localhost"):
            raise ConfigError(
                f"the HTTP sink binds 127.0.0.1 only (got host '{host}'); put a proxy in front of it"
            )
        self.metrics = metrics
        self._cond = threading.Condition()
        self._jpeg: bytes | None = None
        self._seq = 0
        self._closed = False
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                log.debug("http: " + format, *args)

            def _send(self, body: bytes, ctype: str) -> None:
                self.send_response(200)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:  # noqa: N802
                path = urllib.parse.urlparse(self.path).path
                if path == "/":
                    self._send(_PAGE, "text/html; charset=utf-8")
                elif path == "/metrics":
                    self._send(sink.metrics.prometheus().encode(), "text/plain; version=0.0.4")
                elif path == "/metrics.json":
                    self._send(json.dumps(sink.metrics.snapshot()).encode(), "application/json")
                elif path == "/preview.mjpg":
                    self._stream()
                else:
                    self.send_error(404, "try /, /preview.mjpg, /metrics or /metrics.json")

            def _stream(self) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "multipart/x-mixed-replace; boundary=frame")
                self.send_header("Cache-Control", "no-cache")
                self.end_headers()
                seen = -1
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    while True:
                        with sink._cond:

                            def fresh(last: int = seen) -> bool:
                                return sink._seq != last or sink._closed

                            sink._cond.wait_for(fresh, timeout=1.0)
                            if sink._closed:
                                return
                            jpeg, seen = sink._jpeg, sink._seq
                        if jpeg is None:
                            continue
                        self.wfile.write(b"--frame\r\nContent-Type: image/jpeg\r\n")
                        self.wfile.write(f"Content-Length: {len(jpeg)}\r\n\r\n".encode() + jpeg + b"\r\n")

        self.server = ThreadingHTTPServer((host, port), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.url = f"http://{host}:{self.port}/"
        self._thread = threading.Thread(target=self.server.serve_forever, name="reflect-http", daemon=True)
        self._thread.start()

    def write(self, index: int, frame: np.ndarray) -> None:
        import cv2

        ok, buf = cv2.imencode(".jpg", cv2.cvtColor(frame, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 80])
        if ok:
            with self._cond:
                self._jpeg, self._seq = buf.tobytes(), self._seq + 1
                self._cond.notify_all()

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        self.server.shutdown()
        self.server.server_close()


def open_sink(spec: str, *, fps: float | Callable[[], float], metrics: Any) -> Sink:
    """``http://127.0.0.1:PORT`` (PORT 0 picks a free one), ``*.mp4``/``*.avi``, or a folder.

    ``fps``: the video's rate, or a function that gives it when the first frame comes (the source's
    rate, known once it is open). A path that cannot be written is one :class:`ConfigError`.
    """
    parsed = urllib.parse.urlparse(spec)
    if parsed.scheme in ("http", "https"):
        return HttpSink(parsed.hostname or "", parsed.port if parsed.port is not None else 8080, metrics)
    if parsed.scheme:
        raise ConfigError(
            f"sink '{spec}': only http://127.0.0.1:PORT, a video file or a folder are supported"
        )
    p = Path(spec)
    if p.suffix.lower() in (".mp4", ".avi", ".mov", ".mkv"):
        if p.is_dir():
            raise ConfigError(f"--sink {p} is an existing folder; give a video file name")
        writable_folder(p.parent, "--sink folder")
        return VideoFileSink(p, fps)
    if p.suffix:
        raise ConfigError(f"sink '{spec}': use a .mp4/.avi video file or a folder (no extension)")
    return ImageFolderSink(p)
