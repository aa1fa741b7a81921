"""The ONNX Runtime translator against the torch one, through the shared Translator interface."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from deploy.errors import BackendUnavailable, ModelFileError
from deploy.loader import load_translator
from deploy.ort import OrtTranslator
from deploy.translator import TorchTranslator
from reflect.errors import ConfigError


@pytest.fixture(scope="module")
def pair(exported):
    from reflect.loader import load_variant

    variant, _ = load_variant(exported.run_dir, use_ema=True)
    return TorchTranslator(variant), OrtTranslator(exported.onnx, threads=1)


def test_float_frames_match_torch(pair) -> None:
    torch_t, ort_t = pair
    x = torch.rand(3, 3, 67, 45) * 2 - 1
    got, want = ort_t.translate(x), torch_t.translate(x)
    assert got.shape == x.shape and got.dtype == torch.float32
    assert (got - want).abs().max().item() < 1e-4


def test_uint8_frames_match_torch(pair) -> None:
    torch_t, ort_t = pair
    frames = np.random.default_rng(0).integers(0, 256, (2, 37, 50, 3), dtype=np.uint8)
    got, want = ort_t.translate(frames), torch_t.translate(frames)
    assert got.shape == frames.shape and got.dtype == np.uint8
    assert np.abs(got.astype(int) - want.astype(int)).max() <= 1  # rounding at .5 may flip


def test_session_settings_are_explicit(exported) -> None:
    t = OrtTranslator(exported.onnx, threads=1, optimization="basic")
    info = t.describe()
    assert info["backend"] == "onnxruntime" and info["threads"] == 1 and info["optimization"] == "basic"
    assert info["providers"] == ["CPUExecutionProvider"] and info["target"] == "B"
    with pytest.raises(ConfigError, match="optimisation level"):
        OrtTranslator(exported.onnx, optimization="turbo")


def test_auto_backend_for_onnx_files(exported, pair) -> None:
    """An .onnx file opens on ONNX Runtime by default, and translates as the torch model does."""
    auto = load_translator(exported.onnx, threads=1)
    assert auto.describe()["backend"] == "onnxruntime"
    x = torch.rand(2, 3, 40, 36) * 2 - 1
    assert (auto.translate(x) - pair[0].translate(x)).abs().max().item() < 1e-4


def test_wrong_direction_is_refused(exported) -> None:
    with pytest.raises(ConfigError, match="export again with --target A"):
        OrtTranslator(exported.onnx, target="A")


def test_cuda_without_provider_says_so(exported) -> None:
    import onnxruntime as ort

    if "CUDAExecutionProvider" in ort.get_available_providers():
        pytest.skip("this onnxruntime has the CUDA provider")
    with pytest.raises(BackendUnavailable, match="no CUDA provider"):
        OrtTranslator(exported.onnx, device="cuda")


def test_truncated_file_through_the_translator(exported, tmp_path) -> None:
    bad = tmp_path / "half.onnx"
    bad.write_bytes(exported.onnx.read_bytes()[:5000])
    with pytest.raises(ModelFileError, match="half.onnx"):
        OrtTranslator(bad)


def test_load_translator_refuses_mismatched_files(exported) -> None:
    with pytest.raises(ConfigError, match="reflect export --checkpoint"):
        load_translator(exported.run_dir, backend="onnxruntime")
    with pytest.raises(ConfigError, match="torch backend needs a training checkpoint"):
        load_translator(exported.onnx, backend="torch")
