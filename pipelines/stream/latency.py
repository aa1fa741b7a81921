"""The stream's latency bound: which frames can still leave in time, decided on their capture time.

A frame's latency runs from its capture (the moment the source handed it over) to the moment every
sink has it. Under a bound (``--max-latency-ms``, live sources) a frame is translated only when its
age now, plus the predicted time to translate its batch and to write it, fits in the bound; frames
that do not fit are dropped *before* translation and counted as ``late``, so an overloaded stream
spends the model's time on fresh frames only instead of queueing stale ones. The prediction is
pessimistic: the slowest recent batch of that size (else the highest recent cost per frame times the
size), and the slowest recent write plus a margin. A frame that still misses the bound after
translation (a sudden slowdown of the machine) is dropped before the sinks: no frame leaves later
than the bound, and every dropped frame is counted.
"""

from __future__ import annotations

import collections
import threading
from collections.abc import Sequence
from typing import Protocol, TypeVar


class Captured(Protocol):
    t_capture: float  # time.monotonic() when the source delivered the frame


F = TypeVar("F", bound=Captured)


class LatencyBudget:
    """Predicts translation and write times from recent ones and picks the frames that fit the bound."""

    def __init__(self, bound_s: float, window: int = 16) -> None:
        self.bound = bound_s  # 0: no bound
        self.margin = max(0.01, 0.02 * bound_s)  # for what no measurement foresees (a thread switch)
        self._batches: collections.deque[tuple[int, float]] = collections.deque(maxlen=window)
        self._writes: collections.deque[float] = collections.deque(maxlen=2 * window)
        self._lock = threading.Lock()

    @property
    def on(self) -> bool:
        return self.bound > 0

    def record_batch(self, frames: int, seconds: float) -> None:
        with self._lock:
            self._batches.append((max(1, frames), seconds))

    def record_write(self, seconds: float) -> None:
        with self._lock:
            self._writes.append(seconds)

    def translate_s(self, frames: int) -> float:
        """Predicted seconds to translate a batch of ``frames``.

        The slowest recent batch of that size; without one, the highest recent cost per frame times
        ``frames`` (batches run at the size that fits, so every size in use is soon measured).
        """
        with self._lock:
            same = [dt for n, dt in self._batches if n == frames]
            if same:
                return max(same)
            return frames * max((dt / n for n, dt in self._batches), default=0.0)

    def write_s(self) -> float:
        """Predicted seconds from leaving the translator to being written: the slowest recent write, plus a margin."""
        with self._lock:
            return 1.5 * max(self._writes, default=0.0) + self.margin

    def feasible(self) -> bool:
        """Whether one fresh frame could make it at the predicted speed."""
        return self.translate_s(1) + self.write_s() <= self.bound

    def late(self, t_capture: float, now: float) -> bool:
        """Whether a frame (translated or not) can no longer be written within the bound."""
        return now - t_capture + self.write_s() > self.bound

    def choose(self, frames: Sequence[F], now: float, limit: int) -> list[F]:
        """The newest of ``frames`` (in capture order; at most ``limit``) that can still leave in time.

        The rest are late. When the predictions say that not even one fresh frame fits (a slow spell,
        or a model too slow for the bound), the newest frame is kept anyway as a probe, so the
        predictions learn when the machine is fast again; it is dropped before the sinks if it is late.
        """
        keep: list[F] = []
        write = self.write_s()
        for f in reversed(frames):
            if len(keep) == limit or now - f.t_capture + self.translate_s(len(keep) + 1) + write > self.bound:
                break
            keep.append(f)
        if not keep and frames and not self.feasible():
            keep = [frames[-1]]
        keep.reverse()
        return keep
