"""Stream metrics: throughput, per-stage latency percentiles, drops and faces; JSON and Prometheus.

``dropped`` counts every frame read but not written: by a full queue (``dropped_by_queue``) or, under a
latency bound, as ``late`` (it could not be written within the bound). ``frames_in == frames_out + dropped``
once a stream has ended.
"""

from __future__ import annotations

import collections
import threading
import time
from typing import Any

import numpy as np

STAGES = ("decode", "detect", "translate", "encode", "end_to_end")


class Metrics:
    """Thread-safe counters and sliding windows (the last ``window`` samples per stage)."""

    def __init__(self, window: int = 512) -> None:
        self._lock = threading.Lock()
        self.latency: dict[str, collections.deque[float]] = {
            s: collections.deque(maxlen=window) for s in STAGES
        }
        self.done_times: collections.deque[float] = collections.deque(maxlen=window)
        self.frames_in = 0
        self.frames_out = 0
        self.faces = 0
        self.reconnects = 0
        self.late = 0  # dropped because they could not be written within the latency bound
        self.queues: list[Any] = []  # DropQueue objects; their drop counters are read live
        self.started = time.monotonic()

    def observe(self, stage: str, seconds: float) -> None:
        with self._lock:
            self.latency[stage].append(seconds)

    def frame_in(self) -> None:
        with self._lock:
            self.frames_in += 1

    def drop_late(self, n: int = 1) -> None:
        with self._lock:
            self.late += n

    def frame_out(self, end_to_end: float, faces: int) -> None:
        with self._lock:
            self.frames_out += 1
            self.faces += faces
            self.latency["end_to_end"].append(end_to_end)
            self.done_times.append(time.monotonic())

    @property
    def dropped(self) -> int:
        return sum(q.dropped for q in self.queues) + self.late

    def fps(self) -> float:
        with self._lock:
            t = list(self.done_times)
        if len(t) < 2 or t[-1] <= t[0]:
            return 0.0
        return (len(t) - 1) / (t[-1] - t[0])

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            lat = {s: list(v) for s, v in self.latency.items()}
            out: dict[str, Any] = {
                "frames_in": self.frames_in,
                "frames_out": self.frames_out,
                "faces_found": self.faces,
                "reconnects": self.reconnects,
            }
        out["fps"] = round(self.fps(), 3)
        out["dropped"] = self.dropped
        out["dropped_by_queue"] = {q.name: q.dropped for q in self.queues}
        out["late"] = self.late
        out["queue_high_water"] = {q.name: q.high_water for q in self.queues}
        out["uptime_s"] = round(time.monotonic() - self.started, 3)
        out["latency_ms"] = {
            s: (
                {
                    "p50": round(float(np.percentile(v, 50)) * 1e3, 3),
                    "p99": round(float(np.percentile(v, 99)) * 1e3, 3),
                    "max": round(max(v) * 1e3, 3),
                }
                if v
                else {"p50": None, "p99": None, "max": None}
            )
            for s, v in lat.items()
        }
        return out

    def prometheus(self) -> str:
        """The Prometheus text exposition format (version 0.0.4)."""
        s = self.snapshot()
        lines = [
            "# HELP reflect_stream_fps Frames per second leaving the pipeline (sliding window).",
            "# TYPE reflect_stream_fps gauge",
            f"reflect_stream_fps {s['fps']}",
        ]
        for name, key, help_ in (
            ("frames_in_total", "frames_in", "Frames read from the source."),
            ("frames_out_total", "frames_out", "Frames written to the sinks."),
            (
                "dropped_frames_total",
                "dropped",
                "Frames dropped under overload (full queues and late frames).",
            ),
            (
                "late_frames_total",
                "late",
                "Frames dropped because they could not be written within the latency bound.",
            ),
            ("faces_found_total", "faces_found", "Faces found by the detect stage."),
            ("reconnects_total", "reconnects", "Times the source was reopened."),
        ):
            lines += [
                f"# HELP reflect_stream_{name} {help_}",
                f"# TYPE reflect_stream_{name} counter",
                f"reflect_stream_{name} {s[key]}",
            ]
        lines += [
            "# HELP reflect_stream_latency_seconds Per-stage latency quantiles (sliding window).",
            "# TYPE reflect_stream_latency_seconds summary",
        ]
        for stage, q in s["latency_ms"].items():
            for quant, key in (("0.5", "p50"), ("0.99", "p99")):
                if q[key] is not None:
                    lines.append(
                        f'reflect_stream_latency_seconds{{stage="{stage}",quantile="{quant}"}} {q[key] / 1e3:.6f}'
                    )
        return "\n".join(lines) + "\n"
