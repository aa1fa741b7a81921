"""One clear line instead of a traceback: bad checkpoints, bad output folders, a corrupt job database."""

from __future__ import annotations

import os
from pathlib import Path, PurePosixPath

import pytest
import torch

from reflect.checkpoint import list_checkpoints, load_checkpoint, save_checkpoint
from reflect.cli import main
from tests.robustness.bad_inputs import make_good_inputs, snapshot


def _fails_with_one_line(argv: list[str], capsys: pytest.CaptureFixture[str], *words: str) -> str:
    assert main(argv) == 2
    err = [ln for ln in capsys.readouterr().err.splitlines() if ln.strip()]
    assert len(err) == 1, err
    for w in words:
        assert w in err[0], err[0]
    assert "Traceback" not in err[0] and "weights_only=False" not in err[0]
    return err[0]


def _altered(smoke_run: Path, tmp_path: Path, change: dict[str, object]) -> Path:
    ckpt = load_checkpoint(list_checkpoints(smoke_run)[-1])
    ckpt.pop("path")
    for key, value in change.items():
        if key.startswith("model."):
            ckpt["config"]["model"][key.split(".", 1)[1]] = value
        else:
            ckpt[key] = value
    out = tmp_path / "altered.pt"
    save_checkpoint(out, {k: v for k, v in ckpt.items() if k not in ("format", "version")})
    return out


@pytest.fixture()
def photos(tmp_path: Path) -> Path:
    make_good_inputs(tmp_path / "in")
    return tmp_path / "in"


@pytest.mark.parametrize("command", ["translate", "clean"])
def test_random_bytes_are_not_a_checkpoint(
    command: str, photos: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "model.pt"
    bad.write_bytes(os.urandom(4096).replace(b"\x80", b"\x81", 1).lstrip(b"PK\x80") or b"x")
    flag = "--checkpoint" if command == "translate" else "--model"
    _fails_with_one_line(
        [command, flag, str(bad), "--input", str(photos), "--output", str(tmp_path / "o")],
        capsys,
        str(bad),
        "is not a model file",
    )


def test_pickle_payload_is_refused_naming_the_object(
    photos: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    evil = tmp_path / "evil.pt"
    torch.save({"format": "reflect-checkpoint", "payload": PurePosixPath("x")}, evil)  # needs pickle code
    line = _fails_with_one_line(
        ["translate", "--checkpoint", str(evil), "--input", str(photos), "--output", str(tmp_path / "o")],
        capsys,
        str(evil),
        "refused",
        "pickle",
    )
    assert "pathlib.PurePosixPath" in line


def test_shape_mismatch_names_the_layer(
    smoke_run: Path, photos: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ckpt = _altered(smoke_run, tmp_path, {"model.ngf": 16})  # the config says 16, the weights have 8
    _fails_with_one_line(
        ["translate", "--checkpoint", str(ckpt), "--input", str(photos), "--output", str(tmp_path / "o")],
        capsys,
        str(ckpt),
        "size mismatch for g_",
        "weight",
    )


def test_variant_that_disagrees_with_the_config(
    smoke_run: Path, photos: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ckpt = _altered(smoke_run, tmp_path, {"variant": "unit"})
    _fails_with_one_line(
        ["translate", "--checkpoint", str(ckpt), "--input", str(photos), "--output", str(tmp_path / "o")],
        capsys,
        str(ckpt),
        "'unit'",
        "'cyclegan'",
    )


@pytest.mark.parametrize("command", ["translate", "clean"])
def test_output_that_is_an_existing_file(
    command: str, smoke_run: Path, photos: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "out.png"
    target.write_bytes(b"keep me")
    flag = "--checkpoint" if command == "translate" else "--model"
    _fails_with_one_line(
        [command, flag, str(smoke_run), "--input", str(photos), "--output", str(target)],
        capsys,
        str(target),
        "existing file",
    )
    assert target.read_bytes() == b"keep me"


def _read_only_folder(tmp_path: Path) -> Path:
    if os.geteuid() != 0:
        folder = tmp_path / "ro"
        folder.mkdir()
        folder.chmod(0o555)
        return folder
    kernel = Path("/sys/kernel")  # root writes anywhere a mode allows; sysfs refuses new files even to root
    try:
        (kernel / "reflect-probe").touch()
    except OSError:
        return kernel
    pytest.skip("no folder here refuses root's writes")


@pytest.mark.parametrize("command", ["translate", "clean"])
def test_read_only_output_folder(
    command: str, smoke_run: Path, photos: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = _read_only_folder(tmp_path)
    flag = "--checkpoint" if command == "translate" else "--model"
    _fails_with_one_line(
        [command, flag, str(smoke_run), "--input", str(photos), "--output", str(folder)],
        capsys,
        str(folder),
        "not writable",
    )


def test_corrupt_job_database(
    smoke_run: Path, photos: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    (out / ".reflect").mkdir(parents=True)
    db = out / ".reflect" / "job.sqlite"
    db.write_bytes(b"this is not SQLite" * 100)
    before = snapshot(photos)
    _fails_with_one_line(
        ["clean", "--model", str(smoke_run), "--input", str(photos), "--output", str(out), "--no-progress"],
        capsys,
        str(db),
        "not readable",
    )
    assert snapshot(photos) == before
