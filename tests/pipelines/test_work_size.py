"""The working size (``--work-size``, reflect.work_size): every job runs a model at the scale it trained
at, by default, and adds its correction, scaled back up, to the full-size window."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from deploy.translator import Translator, WorkSizeTranslator, with_work_size
from pipelines.batch_clean.runner import CleanOptions, job_paths, run_clean
from reflect import registry
from reflect.errors import ConfigError
from reflect.generator_file import save_generator
from reflect.inference import at_work_size
from reflect.loader import identify
from reflect.work_size import check_work_size, model_scale, training_scale
from tests.specs import tiny_config

ROOT = Path(__file__).resolve().parents[2]
SCALE = 32  # the tiny model's recorded training size


class _Shift(Translator):
    """Darkens by a smooth ramp (a stand-in for a reflection removed) and records what it was given."""

    def __init__(self) -> None:
        self.seen: list[tuple[int, int]] = []

    def run(self, x: torch.Tensor) -> torch.Tensor:
        self.seen.append((x.shape[-2], x.shape[-1]))
        ramp = torch.linspace(0.0, 0.3, x.shape[-1]).view(1, 1, 1, -1)
        return x - ramp


@pytest.fixture(scope="module")
def scaled_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny remover's generator file whose config says it trained on 32 px synthetic renders."""
    cfg = tiny_config("remover", overrides=["data.kind=synthetic", f"data.synth={{size: {SCALE}}}"])
    torch.manual_seed(0)
    variant = registry.get("remover")(cfg.model)
    with torch.no_grad():  # a model that does something: the zero-initialised head made non-zero
        for p in variant.g.parameters():
            p.add_(torch.randn_like(p) * 0.05)
    path = tmp_path_factory.mktemp("scaled") / "tiny.safetensors"
    save_generator(variant, cfg, path)
    return path


def _photo(h: int, w: int, seed: int = 0) -> np.ndarray:
    """Fine texture over a smooth gradient: what a working size must keep."""
    rng = np.random.default_rng(seed)
    grad = np.linspace(40, 200, w, dtype=np.float32)[None, :, None].repeat(h, 0).repeat(3, 2)
    return np.clip(grad + rng.normal(0, 20, (h, w, 3)), 0, 255).astype(np.uint8)


def test_large_frames_run_at_the_working_size_and_keep_their_texture():
    base = _Shift()
    t = WorkSizeTranslator(base, 64)
    frames = np.stack([_photo(200, 100, s) for s in range(3)])
    out = t.translate(frames)
    assert base.seen == [(64, 32)] and out.shape == frames.shape  # the model saw the small frame only
    # the output is the input less the (smooth) correction: every pixel's texture is kept
    expected = frames.astype(np.float32) - np.linspace(0, 0.3, 100)[None, None, :, None] * 127.5
    assert np.abs(out.astype(np.float32) - np.clip(expected, 0, 255)).max() <= 3
    # frames no larger than the working size go through as they are; 0 is no wrapper at all
    small = frames[:, :64, :40]
    np.testing.assert_array_equal(t.translate(small), base.translate(small))
    assert base.seen[-1] == (64, 40)
    assert with_work_size(base, 0) is base
    assert t.model_input_size(200, 100) == (64, 32) and t.model_input_size(50, 60) == (50, 60)


def test_batch_and_single_image_forms_agree():
    """`reflect clean` (a batch of tensors) and `reflect translate` (one image, in bands) give the same
    picture within rounding: the same scaling both ways."""
    base = _Shift()
    image = _photo(300, 220, 3)
    batch = WorkSizeTranslator(base, 96).translate(image[None])[0]
    single = at_work_size(lambda im: base.translate(im[None])[0], image, 96)
    assert np.abs(batch.astype(int) - single.astype(int)).max() <= 2


def test_model_files_record_their_training_size(scaled_model: Path, tiny_model: Path):
    assert model_scale(identify(None)) == 256  # the bundled remover: 256 px renders
    assert model_scale(identify(scaled_model)) == SCALE
    assert model_scale(identify(tiny_model)) == 0  # toy images: no known scale, frames as they are
    assert model_scale(identify(ROOT / "reflect/bundled/reflect-face.safetensors")) == 0  # face chips
    assert training_scale({"data": {"kind": "unpaired", "load_size": 286}}) == 0


def test_onnx_export_records_the_working_size(scaled_model: Path, tmp_path: Path):
    from deploy.loader import load_translator

    out = tmp_path / "tiny.onnx"
    subprocess.run(
        [sys.executable, "-m", "reflect", "export", "--checkpoint", str(scaled_model), "--out", str(out)],
        check=True,
        capture_output=True,
        cwd=ROOT,
    )
    assert model_scale(identify(out)) == SCALE
    ort = load_translator(out)
    assert ort.metadata["work_size"] == str(SCALE)  # type: ignore[attr-defined]


@pytest.mark.parametrize("value", ["16", "-1", "large", "31"])
def test_bad_work_size_is_one_line(value):
    with pytest.raises(ConfigError, match=rf"^--work-size {value}: give auto .* at least 32 px$"):
        check_work_size(value)


def _job(model: Path, src: Path, out: Path, **kw) -> CleanOptions:
    return CleanOptions(str(model), str(src), str(out), progress=False, workers=1, **kw)


def test_clean_runs_at_the_models_size_records_it_and_refuses_another_on_resume(
    scaled_model: Path, tmp_path: Path
):
    src = tmp_path / "in"
    src.mkdir()
    image = _photo(96, 128, 5)
    cv2.imwrite(str(src / "window.png"), image[..., ::-1])
    auto, native = tmp_path / "auto", tmp_path / "native"
    assert run_clean(_job(scaled_model, src, auto)).done == 1
    assert run_clean(_job(scaled_model, src, native, work_size=0)).done == 1
    a = cv2.imread(str(auto / "window.png"))[..., ::-1].astype(np.float32)
    n = cv2.imread(str(native / "window.png"))[..., ::-1].astype(np.float32)
    # at its 32 px working size the model's change is smooth: the texture of the input survives
    # (its change has far less fine detail than the same model run at full size)
    fine = lambda im: np.abs(im - cv2.GaussianBlur(im, (0, 0), 2)).mean()  # noqa: E731
    assert fine(a - image) < 0.5 * fine(n - image)
    settings = json.loads(_settings(job_paths(auto)[0]))
    assert settings["work_size"] == SCALE and "work_size" not in json.loads(_settings(job_paths(native)[0]))
    # the same job resumed with another working size is refused, naming it
    with pytest.raises(ConfigError, match=r"work_size differ"):
        run_clean(_job(scaled_model, src, auto, work_size=0))
    # translate gives the same picture as clean (the single-image form of the same arithmetic)
    t_out = tmp_path / "translated"
    subprocess.run(
        [sys.executable, "-m", "reflect", "translate", "--checkpoint", str(scaled_model), "--input",
         str(src / "window.png"), "--output", str(t_out)],
        check=True,
        capture_output=True,
        cwd=ROOT,
    )  # fmt: skip
    t = cv2.imread(str(t_out / "window.png"))[..., ::-1].astype(np.float32)
    assert np.abs(t - a).max() <= 3


def _settings(db: Path) -> str:
    import sqlite3

    with sqlite3.connect(db) as conn:
        return str(conn.execute("SELECT value FROM job WHERE key='settings'").fetchone()[0])


def test_stream_runs_at_the_models_size(scaled_model: Path, tmp_path: Path, capsys):
    from deploy.loader import load_translator
    from reflect.cli import main

    video = tmp_path / "in.avi"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter.fourcc(*"MJPG"), 10.0, (128, 96))
    for i in range(3):
        writer.write(_photo(96, 128, i)[..., ::-1])
    writer.release()
    cap = cv2.VideoCapture(str(video))
    first = cap.read()[1][..., ::-1].copy()  # the frame as the stream decodes it
    cap.release()
    out = tmp_path / "frames"
    assert main(["stream", "--model", str(scaled_model), "--source", str(video), "--sink", str(out)]) == 0
    got = cv2.imread(str(sorted(out.iterdir())[0]))[..., ::-1].astype(np.float32)
    model = load_translator(scaled_model)
    at_size = WorkSizeTranslator(model, SCALE).translate(first[None])[0].astype(np.float32)
    native = model.translate(first[None])[0].astype(np.float32)
    # the sink's JPEG aside, the stream's frame is the model at its working size, not at full size
    assert np.abs(got - at_size).mean() < 0.5 * np.abs(got - native).mean()
    bad = ["stream", "--model", str(scaled_model), "--source", str(video), "--sink", str(out)]
    assert main([*bad, "--work-size", "8"]) != 0  # a bad value: one line, before any source opens
    assert "--work-size 8: give auto" in capsys.readouterr().err


def test_a_truncated_checkpoint_is_one_line_before_any_work(tiny_model: Path, tmp_path: Path):
    """Reading the training size must not turn a damaged file into a traceback: the loader's line names it."""
    from reflect.checkpoint import list_checkpoints
    from reflect.errors import ReflectError

    cut = tmp_path / "cut.pt"
    cut.write_bytes(list_checkpoints(tiny_model)[-1].read_bytes()[:5000])
    src = tmp_path / "in"
    src.mkdir()
    cv2.imwrite(str(src / "a.png"), _photo(40, 40))
    with pytest.raises(ReflectError, match=rf"^checkpoint {cut} is corrupt or truncated"):
        run_clean(_job(cut, src, tmp_path / "out"))
    assert not (tmp_path / "out").exists()
