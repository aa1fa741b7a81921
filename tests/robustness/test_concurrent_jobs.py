"""Two `reflect clean` jobs on one output folder: the second refuses at once in one line naming the
running one (or waits for it with ``--wait``); a lock left by a job killed with ``kill -9`` does not
block the resume; ``OUTPUT/.reflect`` that is a file is one line.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from pipelines.batch_clean.runner import job_paths
from reflect.cli import main
from tests.pipelines.conftest import write_video
from tests.robustness.processes import clean_args, clean_command

REPO = Path(__file__).resolve().parents[2]


def _inputs(root: Path, n: int = 6) -> None:
    rng = np.random.default_rng(0)
    root.mkdir(parents=True)
    for i in range(n):
        Image.fromarray(rng.integers(0, 255, (32, 40, 3), dtype=np.uint8)).save(root / f"im{i:02d}.png")
    write_video(root / "clip.avi", 8)


def _env() -> dict[str, str]:
    return os.environ | {"PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}


def _hold_lock(out: Path, seconds: float) -> subprocess.Popen[str]:
    """Another process that holds the job lock of ``out`` for ``seconds`` (as a running job does)."""
    code = (
        "import sys, time; from pathlib import Path; from pipelines.batch_clean.lock import job_lock\n"
        f"with job_lock(Path({str(out)!r}) / '.reflect'):\n"
        f"    print('held', flush=True); time.sleep({seconds})\n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", code], cwd=REPO, env=_env(), stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None and proc.stdout.readline().strip() == "held"
    return proc


def _statuses(out: Path) -> dict[str, str]:
    with sqlite3.connect(job_paths(out)[0]) as db:
        return dict(db.execute("SELECT rel, status FROM items").fetchall())


def test_a_second_job_is_refused_in_one_line_naming_the_running_one(
    smoke_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src, out = tmp_path / "in", tmp_path / "out"
    _inputs(src)
    holder = _hold_lock(out, 60)
    try:
        started = time.monotonic()
        assert main(clean_args(smoke_run, src, out)) == 2
        assert time.monotonic() - started < 20  # at once, not after the other job
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and f"pid {holder.pid}" in err[0] and str(out) in err[0] and "--wait" in err[0]
        assert not list(out.rglob("*.png"))  # nothing written, nothing of the other job's removed
    finally:
        holder.kill()
        holder.wait()


def test_two_real_jobs_at_once_process_each_item_once(
    smoke_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src, out = tmp_path / "in", tmp_path / "out"
    _inputs(src, n=24)
    first = subprocess.Popen(
        clean_command(smoke_run, src, out, 1),
        cwd=REPO,
        env=_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    lock = out / ".reflect" / "lock"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and (
        not lock.exists() or f'"pid": {first.pid}' not in lock.read_text()
    ):
        time.sleep(0.02)
    assert first.poll() is None, "the first job ended before the second could start"
    assert main(clean_args(smoke_run, src, out)) == 2
    assert f"pid {first.pid}" in capsys.readouterr().err
    stdout, stderr = first.communicate(timeout=300)
    assert first.returncode == 0, stderr
    assert set(_statuses(out).values()) == {"done"}  # no good file marked 'error' by the other job
    assert "cleaned 25 of 25 inputs" in stdout


def test_wait_starts_when_the_running_job_ends(smoke_run: Path, tmp_path: Path) -> None:
    src, out = tmp_path / "in", tmp_path / "out"
    _inputs(src, n=2)
    holder = _hold_lock(out, 2.0)
    started = time.monotonic()
    assert main(clean_args(smoke_run, src, out, 1, "--wait")) == 0
    assert time.monotonic() - started >= 1.0 and holder.wait(timeout=30) == 0
    assert set(_statuses(out).values()) == {"done"}


def test_a_lock_left_by_a_killed_job_does_not_block_the_resume(smoke_run: Path, tmp_path: Path) -> None:
    src, out = tmp_path / "in", tmp_path / "out"
    _inputs(src, n=2)
    holder = _hold_lock(out, 60)
    os.kill(holder.pid, signal.SIGKILL)
    holder.wait()
    assert (out / ".reflect" / "lock").exists()  # the file stays; the lock went with the process
    assert main(clean_args(smoke_run, src, out)) == 0
    assert set(_statuses(out).values()) == {"done"}


def test_a_state_folder_that_is_a_file_is_one_line(
    smoke_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src, out = tmp_path / "in", tmp_path / "out"
    _inputs(src, n=1)
    out.mkdir()
    (out / ".reflect").write_text("not a folder")
    assert main(clean_args(smoke_run, src, out)) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and str(out / ".reflect") in err[0] and "is a file" in err[0]
