"""One loader for every --model / --checkpoint: each kind of model file opens and is named in one
line; anything else (garbage, an empty file, a truncated ONNX model, a folder without checkpoints)
is one line naming the path, exit code 2, no traceback, in every command that takes a model."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest

from deploy.loader import load_translator
from reflect.cli import main
from reflect.errors import CheckpointError
from reflect.loader import identify, load_variant
from tests.bundled.tiny import tiny_generator_file
from tests.robustness.bad_inputs import make_good_inputs, snapshot


@pytest.fixture(scope="module")
def models(smoke_run: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """One file of each kind a command accepts, all of the same tiny CycleGAN."""
    from deploy.export import export_checkpoint
    from reflect.checkpoint import list_checkpoints

    folder = tmp_path_factory.mktemp("model_files")
    export_checkpoint(smoke_run, folder / "model.onnx")
    checkpoint = folder / "renamed.bin"  # the kind is read from the bytes, not the name
    checkpoint.write_bytes(list_checkpoints(smoke_run)[-1].read_bytes())
    return {
        "checkpoint": checkpoint,
        "run": smoke_run,
        "generator": tiny_generator_file(folder / "gen.safetensors"),
        "onnx": folder / "model.onnx",
    }


@pytest.mark.parametrize(
    ("name", "kind", "label"),
    [
        ("checkpoint", "checkpoint", "training checkpoint"),
        ("run", "checkpoint", "newest in run folder"),
        ("generator", "generator", "generator file"),
        ("onnx", "onnx", "ONNX model"),
    ],
)
def test_each_kind_opens_and_is_named_in_one_line(
    models: dict[str, Path], name: str, kind: str, label: str, caplog: pytest.LogCaptureFixture
) -> None:
    ref = identify(models[name])
    assert ref.kind == kind
    with caplog.at_level(logging.INFO, logger="reflect"):
        translator = load_translator(models[name])
    said = [r.getMessage() for r in caplog.records if r.getMessage().startswith("model: ")]
    assert len(said) == 1 and label in said[0] and str(ref.path) in said[0], said
    frames = np.random.default_rng(0).integers(0, 255, (2, 32, 32, 3), dtype=np.uint8)
    out = translator.translate(frames)
    assert isinstance(out, np.ndarray) and out.shape == frames.shape and out.dtype == np.uint8
    assert translator.backend == ("onnxruntime" if kind == "onnx" else "torch")


def test_torch_only_loading_refuses_an_onnx_model_by_name(models: dict[str, Path]) -> None:
    with pytest.raises(CheckpointError, match=r"model\.onnx is an ONNX model.*run folder"):
        load_variant(models["onnx"])


def _bad_models(folder: Path, onnx: Path) -> dict[str, tuple[Path, str]]:
    """name -> (a path given as the model, words its one line must hold)."""
    folder.mkdir()
    rng = np.random.default_rng(3)
    garbage = folder / "random.pt"
    garbage.write_bytes(b"\x17" + rng.integers(0, 256, 4095, dtype=np.uint8).tobytes())
    empty = folder / "empty.pt"
    empty.touch()
    cut = folder / "cut.onnx"
    data = onnx.read_bytes()
    cut.write_bytes(data[: len(data) // 2])
    no_run = folder / "not_a_run"
    (no_run / "checkpoints").mkdir(parents=True)
    (no_run / "config.yaml").write_text("name: x\n")
    photo = folder / "model.safetensors"
    photo.write_bytes(b"\xff\xd8\xff\xe0" + bytes(200))
    page = folder / "weights.pt"
    page.write_text("<!DOCTYPE html><html><body>Sign in to download</body></html>")
    return {
        "garbage": (garbage, "is not a model file: it looks like binary data"),
        "empty": (empty, "is empty"),
        "truncated_onnx": (cut, "ONNX"),
        "folder_without_checkpoints": (no_run, "without checkpoints"),
        "jpeg": (photo, "looks like a JPEG image"),
        "html": (page, "looks like an HTML page"),
    }


COMMANDS = ["translate", "clean", "export", "bench", "evaluate", "stream"]


def _argv(command: str, model: Path, photos: Path, out: Path) -> list[str]:
    io = ["--input", str(photos), "--output", str(out)]
    return {
        "translate": ["translate", "--checkpoint", str(model), *io],
        "clean": ["clean", "--model", str(model), *io, "--no-progress"],
        "export": ["export", "--checkpoint", str(model), "--format", "onnx", "--out", str(out / "m.onnx")],
        "bench": ["bench", "--model", str(model), "--size", "32x32", "--iters", "1", "--warmup", "0"],
        "evaluate": ["evaluate", "--checkpoint", str(model), "--data", str(photos.parent / "pairs")],
        "stream": [
            "stream",
            "--model",
            str(model),
            "--source",
            "synthetic://32x32?fps=5&seconds=1",
            "--sink",
            str(out / "s.mp4"),
        ],
    }[command]


@pytest.mark.parametrize("command", COMMANDS)
def test_a_bad_model_is_one_line_naming_it(
    command: str, models: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    photos = tmp_path / "in"
    make_good_inputs(photos)
    pairs = tmp_path / "pairs" / "test"
    for sub in ("input", "target"):
        make_good_inputs(pairs / sub)
    before = snapshot(photos)
    bad = _bad_models(tmp_path / "bad", models["onnx"])
    capsys.readouterr()
    for name, (path, words) in bad.items():
        out = tmp_path / f"out_{name}"
        rc = main(_argv(command, path, photos, out))
        err = [ln for ln in capsys.readouterr().err.splitlines() if ln.strip() and not ln.startswith("INFO")]
        assert rc == 2, (name, err)
        assert len(err) == 1, (name, err)
        assert str(path) in err[0] and "Traceback" not in err[0], (name, err[0])
        if not (name == "truncated_onnx" and command in ("translate", "export", "evaluate")):
            assert words in err[0], (name, err[0])
        else:  # torch-only commands refuse it for being ONNX, before reading it
            assert "is an ONNX model" in err[0], err[0]
        written = (
            [p for p in out.rglob("*") if p.is_file() and ".reflect" not in p.parts] if out.exists() else []
        )
        assert not written, f"{name}: {command} wrote {written}"
    assert snapshot(photos) == before


def test_garbage_named_in_words(tmp_path: Path) -> None:
    text = tmp_path / "notes.pt"
    text.write_text("model: cyclegan\nsteps: 10\n")
    with pytest.raises(
        CheckpointError,
        match=r"notes\.pt is not a model file: it looks like a text file \(it starts 'model: cyclegan",
    ):
        identify(text)
    blob = tmp_path / "blob.onnx"
    blob.write_bytes(bytes(range(1, 64)))
    with pytest.raises(CheckpointError, match=r"blob\.onnx is not a model file"):
        identify(blob)


def test_init_from_takes_a_generator_file_and_says_what_it_got(
    models: dict[str, Path], tmp_path: Path
) -> None:
    from reflect.config import load_config
    from reflect.registry import get
    from reflect.train.state import init_generators
    from tests.conftest import REPO

    variant = get("cyclegan")(load_config(REPO / "configs" / "smoke.yaml").model)
    with pytest.raises(
        CheckpointError,
        match=r"train\.init_from: .*renamed\.bin is a training checkpoint; it takes a "
        r"generator file \(make one with `reflect export",
    ):
        init_generators(variant, models["checkpoint"])
    page = tmp_path / "init.safetensors"
    page.write_text("<html><body>404</body></html>")
    with pytest.raises(
        CheckpointError, match=r"init\.safetensors is not a model file: it looks like an HTML page"
    ):
        init_generators(variant, page)
    init_generators(variant, models["generator"])  # the kind it takes
