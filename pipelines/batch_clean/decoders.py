"""The decoder processes of a local ``clean`` job: started, watched, replaced.

One input must never stop the job, whatever its decoder does with it:

* a decoder that **crashes** (a signal, an exit code) gives up the input it was decoding as that
  input's ``error``, and a fresh decoder takes over;
* a decoder that **hangs** (no message about its input for ``timeout`` seconds) is killed, the input
  recorded as ``error`` with one line, and a fresh decoder takes over.

Silence is counted only while the main process is listening and the queue has room: a decoder
blocked on a full queue, or waiting while the main process translates a large batch, is not hung.
"""

from __future__ import annotations

import time
from typing import Any

from pipelines.batch_clean.decode import worker

#: a pause of the main loop longer than this (translating) is not counted as a decoder's silence
_BUSY_GAP_S = 1.0


class DecoderPool:
    """``n`` decoder processes reading ``args[0]`` (tasks) and writing ``args[1]`` (messages)."""

    def __init__(self, ctx: Any, n: int, args: tuple[Any, ...], timeout: float, limit: int) -> None:
        self.ctx, self.args, self.timeout, self.limit = ctx, args, timeout, limit
        self.procs: list[Any] = []
        self.current: dict[int, int] = {}  # decoder pid -> the item it is decoding
        self.silent: dict[int, float] = {}  # item -> seconds of listening without a message about it
        self._last = time.monotonic()
        for _ in range(n):
            self._start()

    def _start(self) -> None:
        p = self.ctx.Process(target=worker, args=self.args, daemon=True)
        p.start()
        self.procs.append(p)

    def started(self, pid: int, item_id: int) -> None:
        self.current[pid] = item_id
        self.silent[item_id] = 0.0

    def heard(self, item_id: int) -> None:
        if item_id in self.silent:
            self.silent[item_id] = 0.0

    def finished(self, item_id: int) -> None:
        for pid in [pid for pid, busy in self.current.items() if busy == item_id]:
            del self.current[pid]
        self.silent.pop(item_id, None)

    def tick(self, queue_full: bool) -> None:
        """Count the time since the last tick as silence of every item being decoded (see the module doc)."""
        now = time.monotonic()
        gap, self._last = now - self._last, now
        if gap > _BUSY_GAP_S or queue_full:
            return
        for item_id in self.current.values():
            self.silent[item_id] = self.silent.get(item_id, 0.0) + gap

    def check(self, give_up: Any) -> None:
        """Kill hung decoders, replace dead ones; ``give_up(item_id, reason)`` records the input's error."""
        for p in list(self.procs):
            item_id = self.current.get(p.pid) if p.pid is not None else None
            if p.is_alive() and item_id is not None and self.silent.get(item_id, 0.0) > self.timeout:
                p.kill()
                p.join(timeout=5)
                self.finished(item_id)
                give_up(item_id, f"the decoder hung on it (no progress for {self.timeout:g} s) and was killed")
        for p in list(self.procs):
            if p.is_alive() or p.exitcode in (0, None) or getattr(p, "replaced", False):
                continue
            p.replaced = True
            if (item_id := self.current.pop(p.pid, None)) is not None:
                self.silent.pop(item_id, None)
                give_up(item_id, f"the decoder process crashed on it (exit code {p.exitcode})")
            if len(self.procs) > self.limit + 8:
                raise RuntimeError(f"decoder processes keep failing (exit codes {[q.exitcode for q in self.procs]})")
            self._start()

    def stop(self) -> None:
        for p in self.procs:
            if p.is_alive():
                p.terminate()
            p.join(timeout=5)
