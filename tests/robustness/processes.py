"""Child processes of the robustness tests: the `reflect clean` command line, the environment a child runs
in, and what /proc says about a job's processes (Linux)."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
#: a child `python -m reflect` runs this checkout, on one thread
CHILD_ENV = os.environ | {"PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}


def children(pid: int) -> list[int]:
    """Live descendants of ``pid`` (zombies excluded)."""
    found, frontier = [], [pid]
    while frontier:
        parent = frontier.pop()
        for task in Path(f"/proc/{parent}/task").glob("*/children"):
            try:
                kids = [int(k) for k in task.read_text().split()]
            except OSError:
                continue
            found += kids
            frontier += kids
    return found


def decoders(pids: list[int]) -> list[int]:
    found = []
    for k in pids:
        try:
            if b"spawn_main" in Path(f"/proc/{k}/cmdline").read_bytes():
                found.append(k)
        except OSError:
            pass
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")


def steps_logged(metrics: Path) -> list[int]:
    """Steps of the complete lines of a run's metrics.jsonl (a line being written is not counted)."""
    try:
        text = metrics.read_text()
    except OSError:
        return []
    return [json.loads(ln)["step"] for ln in text.split("\n")[:-1] if ln.strip()]


def clean_args(model: Path, src: Path, out: Path, workers: int = 1, *extra: str) -> list[str]:
    """The arguments of ``reflect clean`` of ``src`` into ``out`` with ``model``, no progress bar, ``workers``
    decoders, then ``extra``."""
    return [
        "clean",
        "--model",
        str(model),
        "--input",
        str(src),
        "--output",
        str(out),
        "--no-progress",
        "--workers",
        str(workers),
        *extra,
    ]


def clean_command(model: Path, src: Path, out: Path, workers: int) -> list[str]:
    """``python -m reflect clean`` (:func:`clean_args`) as a child process runs it."""
    return [sys.executable, "-m", "reflect", *clean_args(model, src, out, workers)]
