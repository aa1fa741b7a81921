"""The real-time stream processor: decode -> detect -> batch + translate -> encode, one thread each.

Stages are joined by bounded :class:`~pipelines.stream.queues.DropQueue` s. For a live source the
queues drop the oldest frame when full (counted in the metrics). With ``max_latency_ms`` (live
sources) a frame's latency is measured from its capture to its write, and frames that could no
longer be written within the bound are dropped before translation, on their capture time, and
counted as ``late`` (:mod:`pipelines.stream.latency`); one that misses the bound anyway is dropped
before the sinks. So under overload memory and latency stay bounded and throughput degrades to what
the model sustains. Torch and OpenCV release the GIL in their kernels, so threads overlap decode,
inference and encode.

A source that cannot be opened, or gives no frame at all, is one :class:`~pipelines.stream.sources.SourceError`
naming it (raised by :meth:`StreamPipeline.run`).

A source that stops delivering frames (camera unplugged, RTSP server restarted) is reopened with
exponential back-off. :meth:`StreamPipeline.stop` (wired to SIGINT/SIGTERM by the CLI) stops the
source; the frames already inside are finished and the sinks are closed, leaving a playable video.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import cv2
import numpy as np

from pipelines.regions import grow_box
from pipelines.stream.latency import LatencyBudget
from pipelines.stream.metrics import Metrics
from pipelines.stream.queues import CLOSED, DropQueue
from pipelines.stream.sinks import Sink, VideoFileSink
from pipelines.stream.sources import Source, SourceError
from reflect.data.io import MIN_SIDE
from reflect.errors import ConfigError, OutputError, ReflectError

log = logging.getLogger(__name__)
Box = tuple[int, int, int, int]  # x1, y1, x2, y2
Detector = Callable[[np.ndarray], list[Box]]


@dataclass
class Frame:
    index: int
    t_capture: float  # time.monotonic() when decoded
    image: np.ndarray  # (H, W, 3) uint8 RGB
    faces: list[Box] = field(default_factory=list)
    regions: list[Box] = field(default_factory=list)  # what gets cleaned (x1, y1, x2, y2)


@dataclass
class StreamOptions:
    batch: int = 4
    batch_wait_ms: float = 20.0  # how long the translate stage waits to fill a batch
    queue_size: int = 8
    max_latency_ms: float = 0.0  # live sources: drop frames that cannot be written in time (0: off)
    roi: Box | None = None  # fixed window region; else faces (with a detector) or the whole frame
    crop_size: int = 128  # face regions are resized to this square for translation
    face_margin: float = 0.6  # face boxes grow by this fraction of their size on each side
    max_retries: int = 10  # reconnects in a row before giving up (live sources)
    backoff_s: tuple[float, float] = (0.5, 8.0)  # first and longest wait between reconnects


class StreamPipeline:
    def __init__(
        self,
        source: Source,
        translator: Any,
        sinks: list[Sink],
        opts: StreamOptions | None = None,
        *,
        detector: Detector | None = None,
        results: str | Path | None = None,
        metrics: Metrics | None = None,
    ) -> None:
        self.source, self.translator, self.sinks = source, translator, sinks
        self.opts = opts or StreamOptions()
        self.detector, self.results_path = detector, results
        self.metrics = metrics or Metrics()
        drop = source.live
        self.q_decoded: DropQueue[Frame] = DropQueue(self.opts.queue_size, drop_oldest=drop, name="decoded")
        self.q_detected: DropQueue[Frame] = DropQueue(self.opts.queue_size, drop_oldest=drop, name="detected")
        self.q_cleaned: DropQueue[Frame] = DropQueue(self.opts.queue_size, drop_oldest=drop, name="cleaned")
        self.metrics.queues = [self.q_decoded, self.q_detected, self.q_cleaned]
        self.budget = LatencyBudget(self.opts.max_latency_ms / 1e3 if source.live else 0.0)
        self._stop = threading.Event()
        self._errors: list[BaseException] = []
        self._warned_slow = False

    # ---- control -----------------------------------------------------------------------------
    def stop(self) -> None:
        self._stop.set()

    def run(self) -> dict[str, Any]:
        """Run until the source ends, gives up, or :meth:`stop`; returns the final metrics."""
        stages = [self._decode, self._detect, self._translate, self._encode]
        threads = [
            threading.Thread(target=self._guard, args=(s,), name=f"reflect-{s.__name__[1:]}", daemon=True)
            for s in stages
        ]
        for t in threads:
            t.start()
        for t in threads:
            while t.is_alive():
                t.join(0.2)
        if self._errors:
            raise self._errors[0]
        return self.metrics.snapshot()

    def _guard(self, stage: Callable[[], None]) -> None:
        try:
            stage()
        except BaseException as e:  # noqa: BLE001 - re-raised by run()
            if not isinstance(e, ReflectError):  # those are one line for the user, printed by the caller
                log.error("stream stage %s failed: %s", stage.__name__, e)
            self._errors.append(e)
            self._stop.set()
            for q in (self.q_decoded, self.q_detected, self.q_cleaned):
                q.close()

    # ---- stages ------------------------------------------------------------------------------
    def _decode(self) -> None:
        o, src, index, failures = self.opts, self.source, 0, 0
        try:
            while not self._stop.is_set():
                try:
                    src.open()
                except OSError as e:
                    failures += 1
                    if not src.live:
                        raise (
                            e if isinstance(e, SourceError) else SourceError(f"cannot open {src.name}: {e}")
                        ) from None
                    if failures > o.max_retries:
                        raise SourceError(f"cannot open {src.name} after {failures} attempts: {e}") from None
                    log.warning("source %s: %s; retry %d/%d", src.name, e, failures, o.max_retries)
                    self._stop.wait(min(o.backoff_s[0] * 2 ** (failures - 1), o.backoff_s[1]))
                    continue
                while not self._stop.is_set():
                    t0 = time.monotonic()
                    image = src.read()
                    if image is None:
                        break
                    failures = 0
                    t1 = time.monotonic()  # the frame's capture time: its latency counts from here
                    self.metrics.observe("decode", t1 - t0)
                    if index == 0:  # the first frame waits for the warm-up (and may be late for it)
                        self._warmup(image)
                    self.metrics.frame_in()
                    self.q_decoded.put(Frame(index, t1, image))
                    index += 1
                if src.ended or self._stop.is_set():
                    break
                failures += 1
                if failures > o.max_retries:
                    log.error("source %s lost; gave up after %d reconnects", src.name, o.max_retries)
                    break
                with self.metrics._lock:
                    self.metrics.reconnects += 1
                log.warning("source %s disconnected; reconnecting (attempt %d)", src.name, failures)
                self._stop.wait(min(o.backoff_s[0] * 2 ** (failures - 1), o.backoff_s[1]))
            if index == 0 and not self._stop.is_set():
                raise SourceError(
                    f"{src.name}: no frame could be read (an empty video, or nothing decodable)"
                )
        finally:
            src.close()
            self.q_decoded.close()

    def _warmup(self, image: np.ndarray) -> None:
        """Translate one batch of the expected crop shape so first-call setup is not counted as latency."""
        o, (h, w) = self.opts, image.shape[:2]
        if o.roi is not None:
            x1, y1, x2, y2 = o.roi
            h, w = min(h, y2) - max(0, y1), min(w, x2) - max(0, x1)
        elif self.detector is not None:
            h = w = o.crop_size
        if min(h, w) < MIN_SIDE:  # an ROI outside the frame: the detect stage says so in one line
            return
        dummy = np.zeros((o.batch, h, w, 3), np.uint8)
        self.translator.translate(dummy)  # first call: allocations, kernel selection
        t0 = time.monotonic()
        self.translator.translate(dummy)
        self.budget.record_batch(len(dummy), time.monotonic() - t0)

    def _detect(self) -> None:
        o = self.opts
        while (f := self.q_decoded.get(0.5)) is not CLOSED:
            if f is None:
                continue
            assert isinstance(f, Frame)
            t0 = time.monotonic()
            if self.budget.on and self.budget.late(f.t_capture, t0):  # can no longer make it: do not detect
                self.metrics.drop_late()
                continue
            h, w = f.image.shape[:2]
            if o.roi is not None:
                x1, y1, x2, y2 = o.roi
                region = (max(0, x1), max(0, y1), min(w, x2), min(h, y2))
                if min(region[2] - region[0], region[3] - region[1]) < MIN_SIDE:
                    raise ConfigError(
                        f"--roi {x1},{y1},{x2 - x1},{y2 - y1} lies outside the {w}x{h} frames of "
                        f"{self.source.name} (or leaves under {MIN_SIDE} px of them)"
                    )
                f.regions = [region]
            elif self.detector is not None:
                f.faces = self.detector(f.image)
                f.regions = [grow_box(b, o.face_margin, w, h) for b in f.faces]
            else:
                f.regions = [(0, 0, w, h)]
            self.metrics.observe("detect", time.monotonic() - t0)
            self.q_detected.put(f)
        self.q_detected.close()

    def _take_batch(self) -> list[Frame] | None:
        first = self.q_detected.get(0.5)
        if first is CLOSED:
            return None
        batch = [first] if isinstance(first, Frame) else []
        deadline = time.monotonic() + self.opts.batch_wait_ms / 1e3
        while batch and len(batch) < self.opts.batch and (left := deadline - time.monotonic()) > 0:
            f = self.q_detected.get(left)
            if f is CLOSED:
                break
            if isinstance(f, Frame):
                batch.append(f)
        if self.budget.on and batch:
            # the newest frames that can still be written in time; older ones are late (dropped, counted)
            while isinstance(f := self.q_detected.get(0), Frame):
                batch.append(f)
            keep = self.budget.choose(batch, time.monotonic(), self.opts.batch)
            self.metrics.drop_late(len(batch) - len(keep))
            if not self.budget.feasible() and not self._warned_slow:
                self._warned_slow = True
                log.warning(
                    "one frame takes about %.0f ms to translate and write, more than --max-latency-ms %g: "
                    "frames over the bound are dropped",
                    (self.budget.translate_s(1) + self.budget.write_s()) * 1e3,
                    self.opts.max_latency_ms,
                )
            batch = keep
        return batch

    def _translate(self) -> None:
        while (batch := self._take_batch()) is not None:
            if not batch:
                continue
            t0 = time.monotonic()
            self._clean(batch)
            dt = time.monotonic() - t0
            self.budget.record_batch(len(batch), dt)
            for f in batch:
                self.metrics.observe("translate", dt / len(batch))
                self.q_cleaned.put(f)
        self.q_cleaned.close()

    def _clean(self, batch: list[Frame]) -> None:
        """Translate every region of every frame, grouped by crop shape, and paste it back."""
        crops, where = [], []
        for f in batch:
            f.image = f.image.copy()
            for x1, y1, x2, y2 in f.regions:
                crop = f.image[y1:y2, x1:x2]
                if self.opts.roi is None and self.detector is not None:  # face regions vary in size
                    crop = cv2.resize(
                        crop, (self.opts.crop_size, self.opts.crop_size), interpolation=cv2.INTER_AREA
                    )
                crops.append(crop)
                where.append((f, (x1, y1, x2, y2)))
        groups: dict[tuple[int, ...], list[int]] = {}
        for i, c in enumerate(crops):
            groups.setdefault(c.shape, []).append(i)
        for idx in groups.values():
            out = self.translator.translate(np.stack([crops[i] for i in idx]))
            for i, cleaned in zip(idx, out, strict=True):
                f, (x1, y1, x2, y2) = where[i]
                if cleaned.shape[:2] != (y2 - y1, x2 - x1):
                    cleaned = cv2.resize(cleaned, (x2 - x1, y2 - y1), interpolation=cv2.INTER_LINEAR)
                f.image[y1:y2, x1:x2] = cleaned

    def _encode(self) -> None:
        out: IO[str] | None = open(self.results_path, "a", buffering=1) if self.results_path else None  # noqa: SIM115
        failed: Sink | None = None
        try:
            while (f := self.q_cleaned.get(0.5)) is not CLOSED:
                if not isinstance(f, Frame):
                    continue
                t0 = time.monotonic()
                if self.budget.on and self.budget.late(
                    f.t_capture, t0
                ):  # slower than predicted: never late out
                    self.metrics.drop_late()
                    continue
                for s in self.sinks:
                    try:
                        s.write(f.index, f.image)
                    except OSError as e:
                        failed = s
                        raise OutputError(self._sink_failure(s, e)) from None
                t1 = time.monotonic()
                self.budget.record_write(t1 - t0)
                self.metrics.observe("encode", t1 - t0)
                self.metrics.frame_out(t1 - f.t_capture, len(f.faces))
                if out is not None:
                    out.write(
                        json.dumps(
                            {
                                "frame": f.index,
                                "latency_ms": round((t1 - f.t_capture) * 1e3, 2),
                                "faces": [list(map(int, b)) for b in f.faces],
                                "regions": [list(map(int, r)) for r in f.regions],
                            }
                        )
                        + "\n"
                    )
        finally:
            if out is not None:
                out.close()
            self._close_sinks(failed)

    def _close_sinks(self, failed: Sink | None) -> None:
        """Finish every sink (abort the one that failed); a sink that cannot be finished fails the run."""
        for s in self.sinks:
            try:
                s.abort() if s is failed else s.close()
            except OSError as e:
                self._errors.append(OutputError(self._sink_failure(s, e)))

    def _sink_failure(self, sink: Sink, e: OSError) -> str:
        reason = e.strerror or str(e) or type(e).__name__
        kept = (
            "the incomplete video was removed"
            if isinstance(sink, VideoFileSink)
            else f"it holds {sink.written}"
        )
        return (
            f"cannot write to --sink {sink.name}: {reason}; the run stopped after {self.metrics.frames_out} "
            f"frame(s) out; {kept} (free space or choose another sink, then run again)"
        )
