"""A decoder that hangs on one input (never returns) costs that input, not the job: it is killed after
the job's decode timeout, the input is recorded as bad input with one line, and a fresh decoder goes on."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from pipelines.batch_clean.decode import HANG_FOR_TESTS
from reflect.cli import main
from tests.robustness.bad_inputs import snapshot
from tests.robustness.processes import CHILD_ENV, REPO, clean_args


def test_a_hanging_decoder_is_killed_and_the_job_goes_on(smoke_run: Path, tmp_path: Path) -> None:
    src = tmp_path / "in"
    src.mkdir()
    rng = np.random.default_rng(7)
    names = [f"im{i}.png" for i in range(6)] + ["stuck.png"]
    for name in names:
        Image.fromarray(rng.integers(0, 255, (32, 40, 3), dtype=np.uint8)).save(src / name)
    before = snapshot(src)
    out = tmp_path / "out"
    argv = clean_args(smoke_run, src, out, 2, "--decode-timeout", "2")
    env = CHILD_ENV | {HANG_FOR_TESTS: "stuck"}
    # its decoders never return from stuck.png; a subprocess, so that a job that hangs fails the test
    res = subprocess.run(
        [sys.executable, "-m", "reflect", *argv],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert res.returncode == 1, res.stderr  # some input failed
    printed = res.stdout
    lines = [ln for ln in printed.splitlines() if "stuck.png" in ln]
    assert len(lines) == 1 and "hung" in lines[0] and "killed" in lines[0], printed
    assert "cleaned 6 of 7 inputs" in printed, printed
    assert sorted(p.name for p in out.glob("*.png")) == sorted(n for n in names if n != "stuck.png")
    assert "Traceback" not in res.stderr
    assert snapshot(src) == before

    # a decoder that no longer hangs: --retry-errors finishes the job
    assert main([*argv, "--retry-errors"]) == 0
    assert (out / "stuck.png").is_file()


def test_the_decode_timeout_must_be_positive(
    smoke_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "in").mkdir()
    Image.fromarray(np.zeros((32, 32, 3), np.uint8)).save(tmp_path / "in" / "a.png")
    assert (
        main(
            [
                "clean",
                "--model",
                str(smoke_run),
                "--input",
                str(tmp_path / "in"),
                "--output",
                str(tmp_path / "out"),
                "--decode-timeout",
                "0",
            ]
        )
        == 2
    )
    assert "--decode-timeout" in capsys.readouterr().err
