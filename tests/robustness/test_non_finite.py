"""Non-finite numbers and weights never get through: YAML ``.inf``/``.nan`` in a config, a model file
holding NaN (refused at load, naming the tensor: it would write black images), weights that become
NaN during training (training stops, nothing of that step is saved), and an export that fails its
parity check (no file left). Also the config's other one-liners: ``1e-4`` on the command line is a
number, a run name is not a path, a binary file is not a config; a checkpoint that cannot be saved
(a full disk) is one line and the run resumes.
"""

from __future__ import annotations

import errno
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import load_file, save_file

import reflect.train.trainer as trainer_module
from reflect.checkpoint import list_checkpoints, load_checkpoint, save_checkpoint
from reflect.cli import main
from reflect.config import load_config
from reflect.errors import ConfigError, TrainingDiverged
from reflect.train.trainer import Trainer
from tests.bundled.tiny import tiny_generator_file
from tests.conftest import smoke_overrides

SMOKE = Path(__file__).resolve().parents[2] / "configs" / "smoke.yaml"


def _one_line(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    return err[0]


# ---- configs -------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("section", "line", "key"),
    [
        ("model", "  lr: .inf", "model.lr"),
        ("data", "  paired_fraction: .nan", "data.paired_fraction"),
        ("loss_weights", "  cycle_a: -.inf", "loss_weights.cycle_a"),
    ],
)
def test_non_finite_yaml_numbers_are_refused_naming_the_key(
    section: str, line: str, key: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = SMOKE.read_text()
    text = (
        text.replace(f"\n{section}:\n", f"\n{section}:\n{line}\n")
        if f"\n{section}:\n" in text
        else (text + f"{section}:\n{line}\n")
    )
    cfg = tmp_path / "bad.yaml"
    cfg.write_text(text)
    assert main(["train", str(cfg), f"out_dir={tmp_path / 'runs'}"]) == 2
    err = _one_line(capsys)
    assert key in err and "not a finite number" in err
    assert not (tmp_path / "runs").exists()


def test_exponent_numbers_on_the_command_line_are_numbers() -> None:
    assert load_config(SMOKE, ["model.lr=1e-4", "train.grad_clip=5E+0"]).model.lr == pytest.approx(1e-4)
    with pytest.raises(ConfigError, match="model.lr"):
        load_config(SMOKE, ["model.lr=inf"])


@pytest.mark.parametrize("name", ["../../etc/evil", "a/b", "..", ""])
def test_a_run_name_is_not_a_path(name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["train", str(SMOKE), f"out_dir={tmp_path / 'runs'}", f"name={name}"]) == 2
    assert "must be a run name, not a path" in _one_line(capsys)
    assert not list(tmp_path.rglob("config.yaml"))


def test_a_binary_file_is_not_a_config(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = tmp_path / "model.bin"
    cfg.write_bytes(bytes(range(256)) * 4)
    assert main(["train", str(cfg)]) == 2
    err = _one_line(capsys)
    assert str(cfg) in err and "not a text file" in err


# ---- model files ---------------------------------------------------------------------------------
@pytest.fixture
def photos(tmp_path: Path) -> Path:
    folder = tmp_path / "photos"
    folder.mkdir()
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (32, 32, 3), dtype=np.uint8)).save(
        folder / "a.png"
    )
    return folder


def _poisoned_generator_file(tmp_path: Path) -> tuple[Path, str]:
    path = tiny_generator_file(tmp_path / "tiny.safetensors")
    from safetensors import safe_open

    with safe_open(str(path), "pt") as f:
        meta = f.metadata()
    tensors = load_file(str(path))
    name = sorted(k for k in tensors if k.endswith("weight"))[3]
    tensors[name][0] = math.nan
    save_file(tensors, str(path), metadata=meta)
    return path, name


@pytest.mark.parametrize("command", ["translate", "clean", "stream"])
def test_a_generator_file_with_nan_is_refused_naming_the_tensor(
    command: str, tmp_path: Path, photos: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    model, name = _poisoned_generator_file(tmp_path)
    out = tmp_path / "out"
    args = {
        "translate": ["--input", str(photos), "--output", str(out)],
        "clean": ["--input", str(photos), "--output", str(out), "--no-progress"],
        "stream": ["--source", str(photos), "--sink", str(out)],
    }[command]
    assert main([command, "--model", str(model), *args]) == 2
    err = _one_line(capsys)
    assert name in err and "non-finite" in err and str(model) in err
    assert not out.exists()  # no black images, and no empty output folder (or OUTPUT/.reflect) either


def test_a_checkpoint_with_inf_is_refused_naming_the_tensor(
    smoke_run: Path, tmp_path: Path, photos: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ckpt = load_checkpoint(list_checkpoints(smoke_run)[-1])
    ckpt.pop("path", None)
    name = next(k for k in ckpt["model"] if k.startswith("g_ab.") and k.endswith("weight"))
    ckpt["model"][name][0] = math.inf
    bad = tmp_path / "bad.pt"
    save_checkpoint(bad, ckpt)
    rc = main(
        [
            "translate",
            "--checkpoint",
            str(bad),
            "--input",
            str(photos),
            "--output",
            str(tmp_path / "o"),
            "--no-ema",
        ]
    )
    assert rc == 2 and name in _one_line(capsys)


def test_a_shape_mismatched_generator_file_names_the_tensor(
    tmp_path: Path, photos: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tiny_generator_file(tmp_path / "tiny.safetensors")
    from safetensors import safe_open

    with safe_open(str(path), "pt") as f:
        meta = f.metadata()
    tensors = load_file(str(path))
    name = sorted(k for k in tensors if k.endswith("weight") and tensors[k].ndim == 4)[2]
    tensors[name] = torch.zeros(3, *tensors[name].shape[1:])
    save_file(tensors, str(path), metadata=meta)
    assert (
        main(
            ["translate", "--checkpoint", str(path), "--input", str(photos), "--output", str(tmp_path / "o")]
        )
        == 2
    )
    err = _one_line(capsys)
    assert name.split(".", 1)[1] in err and "size mismatch" in err


# ---- training ------------------------------------------------------------------------------------
def test_training_stops_when_a_weight_becomes_nan_and_saves_nothing_of_it(tmp_path: Path) -> None:
    cfg = load_config(SMOKE, smoke_overrides(tmp_path, "nan", 4, **{"train.checkpoint_every": 2}))
    with Trainer(cfg) as trainer:
        trainer.fit(until=2)
        weight = next(p for n, p in trainer.model.named_parameters() if n.startswith("g_ab."))
        with torch.no_grad():
            weight.view(-1)[0] = math.nan
        with pytest.raises(TrainingDiverged, match="no longer finite") as e:
            trainer.fit()
    assert "g_ab." in str(e.value) and "step_000000002.pt" in str(e.value)
    assert [p.name for p in list_checkpoints(cfg.run_dir)] == ["step_000000002.pt"]


def test_a_full_disk_while_saving_a_checkpoint_is_one_line_and_the_run_resumes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    real, saves = trainer_module.save_checkpoint, {"n": 0}

    def filling(path: Path, payload: dict) -> None:
        saves["n"] += 1
        if saves["n"] > 1:
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        real(path, payload)

    monkeypatch.setattr(trainer_module, "save_checkpoint", filling)
    args = smoke_overrides(tmp_path, "full", 4, **{"train.checkpoint_every": 2})
    assert main(["train", str(SMOKE), *args]) == 2
    err = _one_line(capsys)
    assert "No space left on device" in err and "step_000000002.pt is intact" in err and "--resume" in err
    monkeypatch.setattr(trainer_module, "save_checkpoint", real)  # space freed
    assert main(["train", "--resume", str(tmp_path / "full")]) == 0
    assert list_checkpoints(tmp_path / "full")[-1].name == "step_000000004.pt"


# ---- export --------------------------------------------------------------------------------------
def test_a_failed_parity_check_leaves_no_file(tmp_path: Path) -> None:
    from deploy.errors import ParityError
    from deploy.export import export_onnx
    from tests.deploy.test_export import ExportLiar

    with pytest.raises(ParityError, match="nothing was written"):
        export_onnx(ExportLiar(), tmp_path / "liar.onnx", parity_sizes=[(1, 20, 20)])
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("where", ["under a file", "a folder"])
def test_export_out_that_cannot_be_written_is_one_line(
    where: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    model = tiny_generator_file(tmp_path / "tiny.safetensors")
    (tmp_path / "file.txt").write_text("x")
    out = tmp_path / "file.txt" / "m.onnx" if where == "under a file" else tmp_path
    assert main(["export", "--checkpoint", str(model), "--format", "onnx", "--out", str(out)]) == 2
    assert "--out" in _one_line(capsys)


def test_export_into_a_read_only_folder_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import shutil
    import subprocess

    model = tiny_generator_file(tmp_path / "tiny.safetensors")
    disk = tmp_path / "ro"
    disk.mkdir()
    mounted = (
        shutil.which("mount") is not None
        and subprocess.run(
            ["mount", "-t", "tmpfs", "-o", "ro,size=64k", "tmpfs", str(disk)], capture_output=True
        ).returncode
        == 0
    )
    if not mounted:
        pytest.skip("cannot mount a read-only tmpfs here (needs root on Linux)")
    try:
        for fmt, name in (("onnx", "m.onnx"), ("safetensors", "g.safetensors")):
            assert (
                main(["export", "--checkpoint", str(model), "--format", fmt, "--out", str(disk / name)]) == 2
            )
            assert "not writable" in _one_line(capsys)
    finally:
        subprocess.run(["umount", "-l", str(disk)], capture_output=True)
