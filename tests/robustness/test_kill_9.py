"""kill -9 of `reflect clean` and of `reflect train`, three times in a row: no process outlives it, and
a resume still equals an uninterrupted run (outputs byte for byte, final weights bit for bit), with no
temporary file left."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from pipelines.batch_clean.runner import CleanOptions, run_clean
from reflect.utils.atomic import TMP_SUFFIX
from tests.pipelines.conftest import write_video
from tests.robustness.bad_inputs import snapshot
from tests.robustness.processes import CHILD_ENV, REPO, alive, children, clean_command, decoders, steps_logged


def test_kill_9_leaves_no_process_and_resume_is_exact(smoke_run: Path, tmp_path: Path) -> None:
    src = tmp_path / "in"
    src.mkdir()
    rng = np.random.default_rng(5)
    for i in range(30):
        Image.fromarray(rng.integers(0, 255, (32, 40, 3), dtype=np.uint8)).save(src / f"im{i:02d}.png")
    for k in range(2):
        write_video(src / f"clip{k}.avi", 600, seed=k)  # several seconds of work: time to kill it mid-job
    reference = tmp_path / "reference"
    run_clean(CleanOptions(str(smoke_run), str(src), str(reference), progress=False))

    out = tmp_path / "out"
    env = CHILD_ENV
    cmd = clean_command(smoke_run, src, out, workers=2)
    for attempt in range(3):
        proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 120
        kids: list[int] = []
        while time.monotonic() < deadline and proc.poll() is None and len(decoders(kids)) < 1:
            kids = children(proc.pid)
            time.sleep(0.05)
        if proc.poll() == 0 and attempt >= 2:
            break  # an idle machine finished the last part before the third kill: two kills happened
        assert proc.poll() is None and decoders(kids), "the job ended before its decoders could be seen"
        time.sleep(0.3 + 0.4 * attempt)  # later and later: the decoders fill the pipe and block on it
        kids = children(proc.pid)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and any(alive(k) for k in kids):
            time.sleep(0.1)
        assert not [k for k in kids if alive(k)], "a child process outlived its killed parent"

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
    env = CHILD_ENV
    cmd = clean_command(smoke_run, src, out, workers=2)
    proc = subprocess.Popen(
        cmd, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    deadline = time.monotonic() + 120
    seen: list[int] = []
    while time.monotonic() < deadline and proc.poll() is None and len(seen) < 2:
        seen = decoders(children(proc.pid))
        time.sleep(0.05)
    assert len(seen) == 2, "the job ended before its decoders could be seen"
    time.sleep(0.2)
    os.kill(seen[0], signal.SIGKILL)  # as a decoder library crashing would (no Python handler runs)
    output, _ = proc.communicate(timeout=300)  # the job goes on with a fresh decoder and ends
    assert not alive(seen[0])
    assert proc.returncode in (0, 1), output
    assert "Traceback" not in output
    crashed = [ln for ln in output.splitlines() if "decoder process crashed" in ln]
    assert len(crashed) <= 1, output  # the input it was decoding (if its 'start' got out) is named once
    again = run_clean(CleanOptions(str(smoke_run), str(src), str(out), progress=False, retry_errors=True))
    assert again.done == again.total == 121 and not again.errors


def test_decoders_killed_in_the_middle_of_a_message_do_not_stall_the_job(
    smoke_run: Path, tmp_path: Path
) -> None:
    """The main process stopped (SIGSTOP) while decoders send frames larger than a pipe's buffer, both
    decoders killed, the main process continued: with one queue shared by all decoders, the half-sent
    message locked it for good and the job hung; each decoder's own pipe only ends."""
    src = tmp_path / "in"
    src.mkdir()
    rng = np.random.default_rng(8)
    for i in range(20):
        Image.fromarray(rng.integers(0, 255, (32, 40, 3), dtype=np.uint8)).save(src / f"im{i:02d}.png")
    for k in range(2):
        write_video(
            src / f"clip{k}.avi", 120, size=(320, 240), seed=k
        )  # 0.9 MB chunks: writes block mid-message
    out = tmp_path / "out"
    env = CHILD_ENV
    cmd = clean_command(smoke_run, src, out, workers=2)
    proc = subprocess.Popen(
        cmd, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        deadline = time.monotonic() + 120
        seen: list[int] = []
        while time.monotonic() < deadline and proc.poll() is None and len(seen) < 2:
            seen = decoders(children(proc.pid))
            time.sleep(0.05)
        assert len(seen) == 2, "the job ended before its decoders could be seen"
        time.sleep(0.5)
        os.kill(proc.pid, signal.SIGSTOP)
        time.sleep(1.0)  # the decoders fill their pipes and block in the middle of a message
        for pid in seen:
            os.kill(pid, signal.SIGKILL)
        time.sleep(0.2)
        os.kill(proc.pid, signal.SIGCONT)
        output, _ = proc.communicate(timeout=120)  # a stalled job fails here
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode in (0, 1), output
    assert "Traceback" not in output
    assert len([ln for ln in output.splitlines() if "decoder process crashed" in ln]) <= 2, output
    again = run_clean(CleanOptions(str(smoke_run), str(src), str(out), progress=False, retry_errors=True))
    assert again.done == again.total == 22 and not again.errors


def test_kill_9_of_train_three_times_resumes_to_identical_weights(tmp_path: Path) -> None:
    from reflect.checkpoint import list_checkpoints, load_checkpoint
    from reflect.config import load_config
    from reflect.train import train

    overrides = [f"out_dir={tmp_path}", "train.steps=12", "train.checkpoint_every=4", "train.sample_every=3"]
    reference = train(load_config(REPO / "configs" / "smoke.yaml", [*overrides, "name=reference"])).run_dir

    run = tmp_path / "killed"
    env = CHILD_ENV
    start = [
        sys.executable,
        "-m",
        "reflect",
        "train",
        str(REPO / "configs" / "smoke.yaml"),
        *overrides,
        "name=killed",
    ]
    resume = [sys.executable, "-m", "reflect", "train", "--resume", str(run)]
    rng = random.Random(9)
    # before the first checkpoint, then between the later ones; a random moment within the step
    for attempt, (low, high) in enumerate([(1, 3), (5, 7), (9, 11)]):
        target = rng.randint(low, high)
        proc = subprocess.Popen(
            start if attempt == 0 else resume,
            cwd=REPO,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + 120
        while (
            time.monotonic() < deadline
            and proc.poll() is None
            and len(steps_logged(run / "metrics.jsonl")) < target
        ):
            time.sleep(0.01)
        assert proc.poll() is None, (
            f"training ended before the kill: {proc.stderr.read() if proc.stderr else ''}"
        )
        time.sleep(rng.uniform(0.0, 0.2))
        kids = children(proc.pid)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        assert not [k for k in kids if alive(k)], "a child process outlived the killed training"

    done = subprocess.run(resume, cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    want = load_checkpoint(list_checkpoints(reference)[-1])
    got = load_checkpoint(list_checkpoints(run)[-1])
    assert got["step"] == want["step"] == 12
    assert want["model"].keys() == got["model"].keys()
    for key, value in want["model"].items():
        assert torch.equal(got["model"][key], value), key
    assert steps_logged(run / "metrics.jsonl") == list(range(1, 13))  # each step exactly once
    assert not [p for p in run.rglob("*") if TMP_SUFFIX in p.name]


def test_a_metrics_line_cut_by_a_kill_does_not_stop_the_resume(tmp_path: Path) -> None:
    from reflect.train.logger import RunLogger

    metrics = tmp_path / "metrics.jsonl"
    metrics.write_text(
        "".join(json.dumps({"step": s, "loss": 0.5}) + "\n" for s in range(1, 6)) + '{"step": 6, "lo'
    )
    RunLogger(tmp_path, tensorboard=False).truncate_after(4)  # what a resume from step 4 does
    assert steps_logged(metrics) == [1, 2, 3, 4] and metrics.read_text().endswith("\n")
