"""kill -9 of `reflect clean`, three times in a row: no decoder outlives it, and a resume still equals
an uninterrupted run byte for byte, with no temporary file left."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

from pipelines.batch_clean.runner import CleanOptions, run_clean
from reflect.utils.atomic import TMP_SUFFIX
from tests.pipelines.conftest import write_video
from tests.robustness.bad_inputs import snapshot

REPO = Path(__file__).resolve().parents[2]


def _children(pid: int) -> list[int]:
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


def _decoders(pids: list[int]) -> list[int]:
    found = []
    for k in pids:
        try:
            if b"spawn_main" in Path(f"/proc/{k}/cmdline").read_bytes():
                found.append(k)
        except OSError:
            pass
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")


def test_kill_9_leaves_no_process_and_resume_is_exact(smoke_run: Path, tmp_path: Path) -> None:
    src = tmp_path / "in"
    src.mkdir()
    rng = np.random.default_rng(5)
    for i in range(30):
        Image.fromarray(rng.integers(0, 255, (32, 40, 3), dtype=np.uint8)).save(src / f"im{i:02d}.png")
    for k in range(2):
        write_video(src / f"clip{k}.avi", 400, seed=k)  # several seconds of work: time to kill it mid-job
    reference = tmp_path / "reference"
    run_clean(CleanOptions(str(smoke_run), str(src), str(reference), progress=False))

    out = tmp_path / "out"
    env = os.environ | {"PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "reflect", "clean", "--model", str(smoke_run), "--input", str(src),
           "--output", str(out), "--no-progress", "--workers", "2"]
    for attempt in range(3):
        proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 120
        kids: list[int] = []
        while time.monotonic() < deadline and proc.poll() is None and len(_decoders(kids)) < 1:
            kids = _children(proc.pid)
            time.sleep(0.05)
        assert proc.poll() is None and _decoders(kids), "the job ended before its decoders could be seen"
        time.sleep(0.3 + 0.4 * attempt)  # later and later: the decoders fill the pipe and block on it
        kids = _children(proc.pid)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and any(_alive(k) for k in kids):
            time.sleep(0.1)
        assert not [k for k in kids if _alive(k)], "a child process outlived its killed parent"

    resumed = run_clean(CleanOptions(str(smoke_run), str(src), str(out), progress=False))
    assert resumed.done == resumed.total == 32
    got = {k: v for k, v in snapshot(out).items() if not k.startswith(".reflect")}
    want = {k: v for k, v in snapshot(reference).items() if not k.startswith(".reflect")}
    assert got == want
    assert not [p for p in out.rglob("*") if TMP_SUFFIX in p.name]


def test_a_decoder_that_dies_mid_job_costs_one_input_not_the_job(smoke_run: Path, tmp_path: Path) -> None:
    src = tmp_path / "in"
    src.mkdir()
    rng = np.random.default_rng(6)
    for i in range(120):  # enough work that the decoders are still busy when one is killed
        Image.fromarray(rng.integers(0, 255, (32, 40, 3), dtype=np.uint8)).save(src / f"im{i:03d}.png")
    write_video(src / "clip.avi", 600, seed=3)
    out = tmp_path / "out"
    env = os.environ | {"PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "reflect", "clean", "--model", str(smoke_run), "--input", str(src),
           "--output", str(out), "--no-progress", "--workers", "2"]
    proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + 120
    decoders: list[int] = []
    while time.monotonic() < deadline and proc.poll() is None and len(decoders) < 2:
        decoders = [k for k in _children(proc.pid) if b"spawn_main" in Path(f"/proc/{k}/cmdline").read_bytes()]
        time.sleep(0.05)
    assert len(decoders) == 2, "the job ended before its decoders could be seen"
    time.sleep(0.2)
    os.kill(decoders[0], signal.SIGKILL)  # as a decoder library crashing would (no Python handler runs)
    output, _ = proc.communicate(timeout=300)  # the job goes on with a fresh decoder and ends
    assert not _alive(decoders[0])
    assert proc.returncode in (0, 1), output
    assert "Traceback" not in output
    crashed = [ln for ln in output.splitlines() if "decoder process crashed" in ln]
    assert len(crashed) <= 1, output  # the input it was decoding (if its 'start' got out) is named once
    again = run_clean(CleanOptions(str(smoke_run), str(src), str(out), progress=False, retry_errors=True))
    assert again.done == again.total == 121 and not again.errors
