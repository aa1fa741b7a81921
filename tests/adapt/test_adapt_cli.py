"""`reflect adapt` end to end on a toy site: output file, exact resume, one-line refusals."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from reflect.checkpoint import load_checkpoint
from reflect.cli import main

TINY = ["--size", "64", "--batch-size", "2", "--workers", "0"]


def adapt(site: Path, model: Path, out: Path, *extra: str) -> int:
    return main(["adapt", "--site", str(site), "--from", str(model), "--out", str(out), *TINY, *extra])


def test_adapt_writes_a_generator_file_that_translate_opens(toy_site, tiny_remover, tmp_path, capsys):
    run = tmp_path / "run"
    assert adapt(toy_site, tiny_remover, run, "--steps", "3", "--report-crops", "3") == 0
    out = capsys.readouterr().out
    assert "adapted 3 steps" in out and "adapters alone" in out and "report.html" in out
    adapted, adapter = run / "adapted.safetensors", run / "adapter.safetensors"
    # the merged file is a plain remover file: the same tensors as the base, no adapter left in it
    assert set(load_file(str(adapted))) == set(load_file(str(tiny_remover)))
    assert all(".lora_" in k for k in load_file(str(adapter)))
    assert adapter.stat().st_size < adapted.stat().st_size / 5
    assert (run / "report.html").is_file() and (run / "site_report.json").is_file()
    cleaned = tmp_path / "cleaned"
    assert (
        main(["translate", "--model", str(adapted), "--input", str(toy_site), "--output", str(cleaned)]) == 0
    )
    assert sorted(p.name for p in cleaned.iterdir()) == sorted(p.name for p in toy_site.iterdir())
    onnx = tmp_path / "adapted.onnx"  # and it exports, parity checked by the exporter
    assert main(["export", "--checkpoint", str(adapted), "--format", "onnx", "--out", str(onnx)]) == 0


def _weights(run: Path) -> dict[str, torch.Tensor]:
    return load_checkpoint(run)["model"]


def test_resume_after_a_stop_equals_an_uninterrupted_run(toy_site, tiny_remover, tmp_path):
    straight, split = tmp_path / "straight", tmp_path / "split"
    assert adapt(toy_site, tiny_remover, straight, "--steps", "4", "--report-crops", "0") == 0
    # stopped after step 2 (its checkpoint), then continued: as a kill -9 after that checkpoint leaves it
    assert adapt(toy_site, tiny_remover, split, "--steps", "2", "--report-crops", "0") == 0
    assert main(["adapt", "--resume", str(split), "--report-crops", "0", "train.steps=4"]) == 0
    a, b = _weights(straight), _weights(split)
    assert load_checkpoint(split)["step"] == 4
    for k in a:
        torch.testing.assert_close(a[k], b[k], atol=1e-6, rtol=0, msg=k)
    merged_a, merged_b = (
        load_file(str(straight / "adapted.safetensors")),
        load_file(str(split / "adapted.safetensors")),
    )
    for k in merged_a:
        torch.testing.assert_close(merged_a[k], merged_b[k], atol=1e-6, rtol=0, msg=k)
    # the same command again continues the run (here: already finished) instead of starting over
    assert adapt(toy_site, tiny_remover, split, "--steps", "4", "--report-crops", "0") == 0
    assert load_checkpoint(split)["step"] == 4


def test_a_folder_without_images_is_one_line_naming_it(tiny_remover, tmp_path, capsys):
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "notes.txt").write_text("no crops here")
    assert adapt(empty, tiny_remover, tmp_path / "run", "--steps", "2") == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and str(empty) in err[0] and "holds no images" in err[0], err
    assert not (tmp_path / "run").exists()


def test_an_adversarial_method_without_clean_images_is_refused_before_any_work(
    toy_site, tiny_remover, tmp_path, capsys
):
    assert adapt(toy_site, tiny_remover, tmp_path / "run", "--method", "cyclegan", "--steps", "2") == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--clean" in err[0], err
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("method", ["cyclegan", "unit"])
def test_each_method_trains_with_clean_images(toy_site, tiny_remover, tmp_path, method):
    run = tmp_path / method
    assert (
        adapt(
            toy_site,
            tiny_remover,
            run,
            "--method",
            method,
            "--clean",
            str(toy_site),
            "--steps",
            "2",
            "--report-crops",
            "0",
        )
        == 0
    )
    ckpt = load_checkpoint(run)
    assert {"generator", "discriminator"} <= set(ckpt["optimizers"])
    assert (run / "adapted.safetensors").is_file()


def test_a_minutes_budget_becomes_a_saved_step_count(toy_site, tiny_remover, tmp_path):
    from reflect.config import load_yaml

    run = tmp_path / "run"
    assert adapt(toy_site, tiny_remover, run, "--minutes", "0.05", "--report-crops", "0") == 0
    steps = load_yaml(run / "config.yaml")["train"]["steps"]
    assert steps >= 4 and load_checkpoint(run)["step"] == steps  # the probe's 4 steps, then the rest
    # a run killed before its timing set the step count is timed again when continued
    (run / "budget.json").write_text('{"minutes": 0.02}')
    assert main(["adapt", "--resume", str(run), "--report-crops", "0"]) == 0
    assert (
        load_yaml(run / "budget.json")["steps"]
        == load_yaml(run / "config.yaml")["train"]["steps"]
        >= steps + 4
    )


def test_a_bad_file_in_the_site_is_one_line_and_left_out(toy_site, tiny_remover, tmp_path, caplog):
    import shutil

    site = tmp_path / "site"
    shutil.copytree(toy_site, site)
    (site / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    assert adapt(site, tiny_remover, tmp_path / "run", "--steps", "1", "--report-crops", "0") == 0
    errors = [r.getMessage() for r in caplog.records if r.levelname == "ERROR"]
    assert len(errors) == 1 and "broken.png" in errors[0], errors


def test_kill_9_then_the_same_command_again_ends_at_the_uninterrupted_weights(
    toy_site, tiny_remover, tmp_path
):
    import os
    import signal
    import subprocess
    import sys
    import time

    from tests.conftest import REPO

    def command(out: Path) -> list[str]:
        return [
            sys.executable,
            "-m",
            "reflect",
            "adapt",
            "--site",
            str(toy_site),
            "--from",
            str(tiny_remover),
            "--out",
            str(out),
            *TINY,
            "--steps",
            "8",
            "--report-crops",
            "0",
            "train.checkpoint_every=2",
        ]

    env = os.environ | {"OMP_NUM_THREADS": "1"}
    straight, killed = tmp_path / "straight", tmp_path / "killed"
    subprocess.run(command(straight), check=True, env=env, cwd=REPO, capture_output=True)
    proc = subprocess.Popen(
        command(killed), env=env, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 120
    while (
        proc.poll() is None
        and time.monotonic() < deadline
        and not (killed / "checkpoints" / "step_000000004.pt").exists()
    ):
        time.sleep(0.05)
    if proc.poll() is None:
        os.kill(proc.pid, signal.SIGKILL)  # mid-run, after a checkpoint
    was_killed = (
        proc.wait() == -signal.SIGKILL
    )  # else it finished first: the resume below then has nothing to do
    subprocess.run(
        command(killed), check=True, env=env, cwd=REPO, capture_output=True
    )  # the same command again
    assert load_checkpoint(killed)["step"] == 8
    assert was_killed or proc.returncode == 0
    a, b = _weights(straight), _weights(killed)
    for k in a:
        torch.testing.assert_close(a[k], b[k], atol=1e-6, rtol=0, msg=k)
