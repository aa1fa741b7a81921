"""Bounded queues between stream stages.

Under overload a live stream must not grow memory or latency: :class:`DropQueue` with
``drop_oldest=True`` discards the oldest waiting item to make room and counts it. With
``drop_oldest=False`` (offline sources: files and folders) ``put`` blocks instead, so no frame is
lost. ``close()`` lets a consumer drain what is left and then see :data:`CLOSED`.
"""

from __future__ import annotations

import collections
import threading
from typing import Generic, TypeVar

T = TypeVar("T")
CLOSED = object()


class DropQueue(Generic[T]):
    def __init__(self, maxsize: int, *, drop_oldest: bool, name: str = "") -> None:
        if maxsize < 1:
            raise ValueError("queue size must be at least 1")
        self.maxsize, self.drop_oldest, self.name = maxsize, drop_oldest, name
        self._items: collections.deque[T] = collections.deque()
        self._cond = threading.Condition()
        self._closed = False
        self.dropped = 0
        self.high_water = 0

    def put(self, item: T) -> None:
        with self._cond:
            while not self.drop_oldest and len(self._items) >= self.maxsize and not self._closed:
                self._cond.wait(0.1)
            if self._closed:
                return
            if len(self._items) >= self.maxsize:
                self._items.popleft()
                self.dropped += 1
            self._items.append(item)
            self.high_water = max(self.high_water, len(self._items))
            self._cond.notify_all()

    def get(self, timeout: float | None = None) -> T | object | None:
        """The oldest item; ``None`` on timeout; :data:`CLOSED` once closed and empty."""
        with self._cond:
            if not self._items and not self._closed:
                self._cond.wait(timeout)
            if self._items:
                item = self._items.popleft()
                self._cond.notify_all()
                return item
            return CLOSED if self._closed else None

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    def __len__(self) -> int:
        return len(self._items)
