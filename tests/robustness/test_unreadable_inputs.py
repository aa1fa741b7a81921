"""Input folders that cannot be read are named and counted, never skipped without a word; an input
with nothing readable is an error. A folder holding a symlink loop is translated (the loop is not an
image). Bad numbers on the command line are one line.

Root reads any folder whatever its mode, so "permission denied" is simulated (``os.scandir`` raises
for the blocked folders) on top of ``chmod 000``, which alone covers other users.
"""

from __future__ import annotations

import errno
import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from pipelines.batch_clean.runner import job_paths
from reflect.cli import main
from tests.bundled.tiny import tiny_generator_file
from tests.robustness.processes import clean_args


def _image(path: Path, seed: int = 0) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.random.default_rng(seed).integers(0, 255, (32, 40, 3), dtype=np.uint8)).save(path)


@pytest.fixture
def block(monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """``block(folder)``: listing ``folder`` fails with EACCES, as for a user without permission."""
    blocked: list[Path] = []
    real = os.scandir

    def scandir(path: object = ".") -> object:
        p = os.fsdecode(path)  # type: ignore[arg-type]
        if Path(p).resolve() in blocked:
            raise PermissionError(errno.EACCES, "Permission denied", p)
        return real(p)

    monkeypatch.setattr(os, "scandir", scandir)
    yield lambda folder: (blocked.append(folder.resolve()), folder.chmod(0))
    for folder in blocked:
        folder.chmod(0o755)


@pytest.fixture
def model(tmp_path: Path) -> Path:
    return tiny_generator_file(tmp_path / "tiny.safetensors")


def test_clean_names_and_counts_an_unreadable_subfolder(
    model: Path,
    tmp_path: Path,
    block: Any,
    capsys: pytest.CaptureFixture[str],
) -> None:
    src, out = tmp_path / "in", tmp_path / "out"
    _image(src / "a.png")
    _image(src / "locked" / "b.png", 1)
    block(src / "locked")
    assert main(clean_args(model, src, out)) == 1  # not 0: something was not cleaned
    printed = capsys.readouterr().out
    assert "cleaned 1 of 1 inputs" in printed and "1 unreadable folder(s)" in printed
    assert f"unreadable: {src / 'locked'} (Permission denied)" in printed
    summary = json.loads(job_paths(out)[1].read_text())
    assert summary["unreadable"] == [f"{src / 'locked'} (Permission denied)"]


def test_clean_of_an_unreadable_input_is_an_error(
    model: Path,
    tmp_path: Path,
    block: Any,
    capsys: pytest.CaptureFixture[str],
) -> None:
    src, out = tmp_path / "in", tmp_path / "out"
    _image(src / "a.png")
    block(src)
    assert main(clean_args(model, src, out)) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "can be read" in err[0] and str(src) in err[0] and "Permission denied" in err[0]


def test_translate_names_an_unreadable_subfolder_and_writes_the_rest(
    model: Path,
    tmp_path: Path,
    block: Any,
    capsys: pytest.CaptureFixture[str],
) -> None:
    src, out = tmp_path / "in", tmp_path / "out"
    _image(src / "a.png")
    _image(src / "locked" / "b.png", 1)
    block(src / "locked")
    assert main(["translate", "--checkpoint", str(model), "--input", str(src), "--output", str(out)]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and str(src / "locked") in err and "could not be read" in err
    assert (out / "a.png").is_file()


def test_translate_of_an_unreadable_folder_is_one_line(
    model: Path,
    tmp_path: Path,
    block: Any,
    capsys: pytest.CaptureFixture[str],
) -> None:
    src = tmp_path / "in"
    _image(src / "a.png")
    block(src)
    assert (
        main(["translate", "--checkpoint", str(model), "--input", str(src), "--output", str(tmp_path / "o")])
        == 2
    )
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "can be read" in err[0] and str(src) in err[0]


def test_translate_over_a_folder_with_a_symlink_loop(model: Path, tmp_path: Path) -> None:
    src, out = tmp_path / "in", tmp_path / "out"
    _image(src / "a.png")
    (src / "loop1.png").symlink_to("loop2.png")
    (src / "loop2.png").symlink_to("loop1.png")
    (src / "self").symlink_to(".")
    rc = main(["translate", "--checkpoint", str(model), "--input", str(src), "--output", str(out)])
    assert (out / "a.png").is_file()
    assert rc == 2  # the two loop links are named as unreadable images, not a RuntimeError


@pytest.mark.parametrize(
    ("flag", "value"),
    [
        ("--tile", "7"),
        ("--memory-mb", "nan"),
        ("--memory-mb", "inf"),
        ("--work-size", "8"),
        ("--work-size", "-1"),
    ],
)
def test_bad_translate_numbers_are_one_line(
    flag: str, value: str, model: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src = tmp_path / "in"
    _image(src / "a.png")
    rc = main(
        [
            "translate",
            "--checkpoint",
            str(model),
            "--input",
            str(src),
            "--output",
            str(tmp_path / "o"),
            flag,
            value,
        ]
    )
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1 and flag in err[0], err
