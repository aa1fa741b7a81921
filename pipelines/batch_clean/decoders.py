"""The decoder processes of a local ``clean`` job: started, fed, watched, replaced.

Each decoder has its own duplex pipe: the main process hands it up to :data:`AHEAD` tasks at a time
and reads its messages (:mod:`pipelines.batch_clean.decode`). Because no pipe or lock is shared, one
input never stops the job, whatever its decoder does with it:

* a decoder that **crashes** (a signal, an exit code, even in the middle of a message) gives up the
  input it was decoding as that input's ``error``; its other tasks go to the others and a fresh
  decoder takes its place;
* a decoder that **hangs** (no message for ``timeout`` seconds while it has work) is killed, and its
  input is recorded as ``error`` with one line, the same way.

Silence is counted only while the main process is listening: a pause of the main loop (translating
a large batch) is not the decoder's.
"""

from __future__ import annotations

import collections
import contextlib
import time
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from typing import Any

from pipelines.batch_clean.decode import worker

AHEAD = 2  # tasks a decoder holds: it decodes the next input while the main process translates
_BUSY_GAP_S = 1.0  # a pause of the main loop longer than this is not counted as a decoder's silence

Task = tuple[int, str, str, Any]  # (item_id, path, kind, roi)


@dataclass
class _Decoder:
    proc: Any
    conn: Connection
    tasks: collections.deque[Task] = field(default_factory=collections.deque)  # the first is in progress
    silent: float = 0.0  # seconds of listening without a message from it
    dead: str = ""  # why it was given up ("" while it works)


class DecoderPool:
    """``n`` decoders working through ``tasks``; :meth:`get` returns their messages one at a time.

    ``give_up(item_id, reason)`` records an input whose decoder crashed or hung on it.
    """

    def __init__(
        self, ctx: Any, n: int, tasks: list[Task], args: tuple[Any, ...], timeout: float, give_up: Any
    ) -> None:
        self.ctx, self.n, self.args, self.timeout, self.give_up = ctx, n, args, timeout, give_up
        self.todo: collections.deque[Task] = collections.deque(tasks)
        self.decoders: list[_Decoder] = []
        self.max_starts = n + len(tasks) + 8  # every replacement costs an input, bar a few that die idle
        self._last = self._checked = time.monotonic()
        for _ in range(n):
            self._start()

    def _live(self) -> list[_Decoder]:
        return [d for d in self.decoders if not d.dead]

    def _start(self) -> None:
        if len(self.decoders) >= self.max_starts:
            raise RuntimeError(
                f"decoder processes keep failing ({len(self.decoders)} started; exit codes "
                f"{[d.proc.exitcode for d in self.decoders[-5:]]})"
            )
        mine, theirs = self.ctx.Pipe(duplex=True)
        p = self.ctx.Process(target=worker, args=(theirs, *self.args), daemon=True)
        p.start()
        theirs.close()  # only the decoder holds that end now: its death is an end of file here
        self.decoders.append(_Decoder(p, mine))
        self._feed(self.decoders[-1])

    def _feed(self, d: _Decoder) -> None:
        while len(d.tasks) < AHEAD and self.todo:
            task = self.todo.popleft()
            try:
                d.conn.send(task)
            except OSError:  # it died already: check() buries it and hands the task on
                self.todo.appendleft(task)
                return
            d.tasks.append(task)

    def done(self) -> bool:
        return not self.todo and not any(d.tasks for d in self._live())

    def get(self, timeout: float) -> tuple[str, int, Any] | None:
        """The next message of any decoder, or None after ``timeout`` without one."""
        self._tick()
        if time.monotonic() - self._checked > 0.5:
            self.check()
        live = {d.conn: d for d in self._live()}
        for conn in wait(list(live), timeout):
            d = live[conn]  # type: ignore[index]
            try:
                op, item_id, payload = d.conn.recv()
            except (
                EOFError,
                OSError,
                ValueError,
                TypeError,
                AttributeError,
                ImportError,
            ):  # died mid-message
                self._bury(d, "crashed")
                continue
            d.silent = 0.0
            if op in ("end", "error", "failed") and d.tasks and d.tasks[0][0] == item_id:
                d.tasks.popleft()
                self._feed(d)
            return op, item_id, payload
        self.check()
        return None

    def _tick(self) -> None:
        now = time.monotonic()
        gap, self._last = now - self._last, now
        if gap <= _BUSY_GAP_S:
            for d in self._live():
                if d.tasks:
                    d.silent += gap

    def check(self) -> None:
        """Bury dead and hung decoders (their input is an error); hand their work to live or fresh ones."""
        self._checked = time.monotonic()
        for d in self._live():
            if not d.proc.is_alive():
                self._bury(d, "crashed")
            elif d.tasks and d.silent > self.timeout:
                self._bury(d, "hung")
        for d in self._live():
            self._feed(d)
        while self.todo and len(self._live()) < self.n:
            self._start()

    def _bury(self, d: _Decoder, how: str) -> None:
        if d.proc.is_alive():
            d.proc.kill()
        d.proc.join(timeout=5)
        d.dead = how
        d.conn.close()
        if d.tasks:
            item_id = d.tasks.popleft()[0]
            self.todo.extendleft(reversed(d.tasks))  # not started: another decoder takes them
            d.tasks.clear()
            if how == "hung":
                self.give_up(
                    item_id, f"the decoder hung on it (no progress for {self.timeout:g} s) and was killed"
                )
            else:
                self.give_up(item_id, f"the decoder process crashed on it (exit code {d.proc.exitcode})")

    def stop(self) -> None:
        """Ask every decoder to end, then make sure each has (one that hangs is killed).

        Closing the pipe also ends a decoder blocked on sending frames no one will read (a job that
        stopped early).
        """
        for d in self._live():
            with contextlib.suppress(OSError):
                d.conn.send(None)
            d.conn.close()
        deadline = time.monotonic() + 2.0
        for d in self.decoders:
            d.proc.join(timeout=max(0.0, deadline - time.monotonic()))
            if d.proc.is_alive():
                d.proc.kill()
                d.proc.join(timeout=5)
