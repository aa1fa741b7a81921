"""One job at a time per output folder: an exclusive lock on ``OUTPUT/.reflect/lock``.

Two jobs writing one folder would both process every item, and the second would delete the first
one's temporary files as leftovers. So a job takes an exclusive ``flock`` on the lock file before it
touches anything in the folder, and writes its pid, start time and command line into it. A second
job refuses at once with one line naming the running one (or waits for it, with ``--wait``).

The kernel releases a ``flock`` when its process ends, however it ends: a job killed with ``kill -9``
leaves a lock file behind but no lock, so it never blocks the resume.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from reflect.errors import ConfigError, ReflectError

log = logging.getLogger(__name__)
LOCK_NAME = "lock"


class JobLocked(ReflectError, RuntimeError):
    """Another job holds the output folder's lock."""


def state_folder(state: Path) -> Path:
    """Create the job's state folder; one line when it is a file or cannot be created."""
    if state.exists() and not state.is_dir():
        raise ConfigError(f"{state} is a file, but a job keeps its state in that folder: move the file away")
    try:
        state.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise ConfigError(f"cannot create the job's state folder {state} ({e.strerror or e})") from None
    return state


def _holder(path: Path) -> str:
    """Who holds the lock, as the lock file says: ``pid 123, started 2026-01-01 10:00:00 UTC: reflect clean ...``."""
    try:
        info = json.loads(path.read_text() or "{}")
        started = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(float(info["started"])))
        return f"pid {info['pid']}, started {started}: {info['command']}"
    except (OSError, ValueError, KeyError, TypeError):
        return "its details are not written yet"


@contextlib.contextmanager
def job_lock(state: Path, *, wait: bool = False, what: str = "output folder") -> Iterator[None]:
    """Hold the exclusive lock of the job whose state lives in ``state`` (created if needed).

    Raises :class:`JobLocked` naming the running job when another holds it, unless ``wait``.
    """
    path = state_folder(state) / LOCK_NAME
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as e:
        raise ConfigError(f"cannot open the job lock {path} ({e.strerror or e})") from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _holder(path)
            if not wait:
                raise JobLocked(
                    f"the {what} {state.parent} is in use by another job ({holder}); wait for it to "
                    "end, or pass --wait to start when it does"
                ) from None
            log.info(
                "the %s %s is in use by another job (%s): waiting for it to end", what, state.parent, holder
            )
            fcntl.flock(fd, fcntl.LOCK_EX)
        info = {"pid": os.getpid(), "started": time.time(), "command": " ".join(["reflect", *sys.argv[1:]])}
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(info).encode(), 0)
        yield
    finally:
        os.close(fd)  # releases the lock; the file stays (removing it would race a job waiting on it)
