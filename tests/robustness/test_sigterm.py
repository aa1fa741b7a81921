"""SIGTERM (what `kill`, systemd and container runtimes send) stops `reflect clean` and `reflect train`
as Ctrl-C does: one line, exit 143, no temporary file left, and the job or run resumes."""

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
from tests.robustness.processes import CHILD_ENV, REPO, alive, children, clean_command, decoders, steps_logged

ENV = CHILD_ENV


def _terminate(proc: subprocess.Popen[str]) -> tuple[int, str, list[int]]:
    kids = children(proc.pid)
    os.kill(proc.pid, signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    return proc.returncode, err, kids


def _partial_video(out: Path) -> bool:
    """The job is writing the video's output (its temporary file exists)."""
    return out.is_dir() and any(p.name.startswith(".clip.") and TMP_SUFFIX in p.name for p in out.iterdir())


def test_sigterm_of_clean_is_one_line_and_the_job_resumes(smoke_run: Path, tmp_path: Path) -> None:
    src, out = tmp_path / "in", tmp_path / "out"
    src.mkdir()
    rng = np.random.default_rng(1)
    for i in range(6):
        Image.fromarray(rng.integers(0, 255, (32, 40, 3), dtype=np.uint8)).save(src / f"im{i}.png")
    # ~3 s of frames on an idle core: stopped as soon as the video's partial output appears, not after a
    # fixed sleep (a 600-frame clip took 0.8 s, and a sleep of 1 s let the job finish first on CI)
    write_video(src / "clip.avi", 2400)
    cmd = clean_command(smoke_run, src, out, workers=1)
    proc = subprocess.Popen(
        cmd, cwd=REPO, env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None and not _partial_video(out):
        time.sleep(0.01)
    assert proc.poll() is None, "the job ended before it could be stopped"
    assert decoders(children(proc.pid)), "no decoder was running mid-video"
    rc, err, kids = _terminate(proc)
    assert rc == 143 and "Traceback" not in err
    assert err.strip().splitlines()[-1] == "reflect clean: terminated (SIGTERM)"
    time.sleep(0.5)
    assert not [k for k in kids if alive(k)], "a decoder outlived its terminated parent"
    assert not [p for p in out.rglob("*") if TMP_SUFFIX in p.name]
    summary = run_clean(CleanOptions(str(smoke_run), str(src), str(out), progress=False, workers=1))
    assert summary.done == summary.total == 7


def test_sigterm_of_train_is_one_line_and_the_run_resumes(tmp_path: Path) -> None:
    run = tmp_path / "run"
    start = [
        sys.executable,
        "-m",
        "reflect",
        "train",
        str(REPO / "configs" / "smoke.yaml"),
        f"out_dir={tmp_path}",
        "name=run",
        "train.steps=16",
        "train.checkpoint_every=2",
    ]
    proc = subprocess.Popen(
        start, cwd=REPO, env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    deadline = time.monotonic() + 120
    while (
        time.monotonic() < deadline and proc.poll() is None and len(steps_logged(run / "metrics.jsonl")) < 5
    ):
        time.sleep(0.01)
    assert proc.poll() is None, "training ended before it could be stopped"
    rc, err, _ = _terminate(proc)
    assert rc == 143 and "Traceback" not in err
    assert err.strip().splitlines()[-1] == "reflect train: terminated (SIGTERM)"
    assert not [p for p in run.rglob("*") if TMP_SUFFIX in p.name]
    done = subprocess.run(
        [sys.executable, "-m", "reflect", "train", "--resume", str(run)],
        cwd=REPO,
        env=ENV,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert steps_logged(run / "metrics.jsonl")[-1] == 16
