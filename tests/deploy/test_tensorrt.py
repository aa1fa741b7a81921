"""TensorRT: our builder's calls against a recording fake, the calibrator, the cache; the real
thing only where TensorRT and a GPU exist (never on this project's build machines)."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest
import torch

from deploy.calibration import CalibrationImages, fit_crop, make_entropy_calibrator
from deploy.errors import BackendUnavailable, ModelFileError
from deploy.tensorrt import EngineCache, EngineSpec, build_engine
from reflect.data.io import write_image
from reflect.errors import ConfigError
from tests.deploy.fake_tensorrt import make_fake_tensorrt

HAVE_TRT = importlib.util.find_spec("tensorrt") is not None


@pytest.fixture()
def crops(tmp_path):
    rng = np.random.default_rng(0)
    folder = tmp_path / "crops"
    for i in range(5):
        write_image(folder / f"c{i}.png", rng.integers(0, 256, (40 + i, 50, 3), dtype=np.uint8))
    return folder


def test_fp16_build_profile_flags_and_cache(exported, tmp_path) -> None:
    trt = make_fake_tensorrt()
    spec = EngineSpec(
        precision="fp16", min_shape=(1, 64, 64), opt_shape=(2, 128, 128), max_shape=(4, 512, 512)
    )
    cache = EngineCache(tmp_path / "cache")
    engine, key = build_engine(exported.onnx, spec, cache=cache, gpu="NVIDIA Fake 80GB", trt=trt)
    ((network, config),) = trt.builds
    assert config.profiles[0].shapes == {"input": ((1, 3, 64, 64), (2, 3, 128, 128), (4, 3, 512, 512))}
    assert config.flags == {"FP16"} and config.pools == {"WORKSPACE": 4096 << 20}
    assert all(layer.precision is None for layer in network.layers)
    assert cache.path(key).read_bytes() == engine and cache.path(key).with_suffix(".json").is_file()
    # same GPU, version, ONNX and settings: served from the cache, no second build
    assert build_engine(exported.onnx, spec, cache=cache, gpu="NVIDIA Fake 80GB", trt=trt) == (engine, key)
    assert len(trt.builds) == 1
    # any of GPU, TensorRT version, ONNX content or settings changes the key
    other_onnx = tmp_path / "other.onnx"
    other_onnx.write_bytes(exported.onnx.read_bytes().replace(b"cyclegan", b"cycleGAN"))
    keys = {
        build_engine(exported.onnx, spec, cache=cache, gpu="NVIDIA Other", trt=trt)[1],
        build_engine(
            exported.onnx, spec, cache=cache, gpu="NVIDIA Fake 80GB", trt=make_fake_tensorrt("10.4.0")
        )[1],
        build_engine(other_onnx, spec, cache=cache, gpu="NVIDIA Fake 80GB", trt=trt)[1],
        build_engine(
            exported.onnx, EngineSpec(precision="fp32"), cache=cache, gpu="NVIDIA Fake 80GB", trt=trt
        )[1],
    }
    assert len(keys) == 4 and key not in keys


def test_int8_keeps_listed_layers_in_fp16(exported, crops, tmp_path) -> None:
    trt = make_fake_tensorrt()
    spec = EngineSpec(
        precision="int8",
        opt_shape=(2, 64, 64),
        min_shape=(1, 32, 32),
        calib_dir=str(crops),
        calib_cache=str(tmp_path / "calib.cache"),
    )
    build_engine(exported.onnx, spec, gpu="NVIDIA Fake", trt=trt, device="cpu")
    ((network, config),) = trt.builds
    assert config.flags == {"FP16", "INT8", "OBEY"}
    assert config.calibration_profile is config.profiles[0]
    assert isinstance(config.int8_calibrator, trt.IInt8EntropyCalibrator2)
    assert config.int8_calibrator.get_batch_size() == 2
    kept = [layer for layer in network.layers if layer.precision == "float16"]
    convs = [layer for layer in network.layers if layer.type in ("CONVOLUTION", "DECONVOLUTION")]
    norms = [layer for layer in network.layers if layer.type == "NORMALIZATION"]
    assert {id(layer) for layer in kept} == {id(convs[0]), id(convs[-1])} | {id(n) for n in norms}
    assert all(layer.output_types == {0: "float16"} for layer in kept)

    trt = make_fake_tensorrt()
    relu = next(layer.name for layer in network.layers if "relu" in layer.name)
    build_engine(
        exported.onnx,
        EngineSpec(**{**spec.__dict__, "fp16_layers": (relu,)}),
        gpu="NVIDIA Fake",
        trt=trt,
        device="cpu",
    )
    ((network, _),) = trt.builds
    assert [layer.name for layer in network.layers if layer.precision == "float16"] == [relu]


def test_calibrator_feeds_torch_buffers_and_caches(crops, tmp_path) -> None:
    trt = make_fake_tensorrt()
    images = CalibrationImages(crops, batch_size=2, height=24, width=32)
    assert len(images) == 2  # 5 crops -> two full batches of 2
    cache = tmp_path / "calib.cache"
    calib = make_entropy_calibrator(trt, images, cache, device="cpu")
    assert calib.read_calibration_cache() is None
    for _ in range(2):
        (ptr,) = calib.get_batch(["input"])
        buf = calib._buffers["input"]
        assert ptr == buf.data_ptr() and buf.shape == (2, 3, 24, 32)
        assert buf.min() >= -1 and buf.max() <= 1 and buf.dtype == torch.float32
    assert calib.get_batch(["input"]) is None
    calib.write_calibration_cache(memoryview(b"scales"))
    assert make_entropy_calibrator(trt, None, cache, device="cpu").read_calibration_cache() == b"scales"


def test_fit_crop_gives_exact_size() -> None:
    for shape in [(40, 50, 3), (300, 90, 3), (10, 10, 3)]:
        assert fit_crop(np.zeros(shape, np.uint8), 24, 32).shape == (24, 32, 3)


def test_spec_and_calibration_errors(tmp_path) -> None:
    with pytest.raises(ConfigError, match="min <= opt <= max"):
        EngineSpec(min_shape=(1, 512, 512), opt_shape=(1, 256, 256)).validate()
    with pytest.raises(ConfigError, match="int8 needs --calib"):
        EngineSpec(precision="int8").validate()
    with pytest.raises(ConfigError, match="unknown precision"):
        EngineSpec(precision="int4").validate()
    with pytest.raises(ConfigError, match="does not exist"):
        CalibrationImages(tmp_path / "nope", batch_size=1, height=8, width=8)


def test_truncated_onnx_is_named_before_tensorrt_sees_it(exported, tmp_path) -> None:
    bad = tmp_path / "cut.onnx"
    bad.write_bytes(exported.onnx.read_bytes()[:3000])
    trt = make_fake_tensorrt()
    with pytest.raises(ModelFileError, match="cut.onnx"):
        build_engine(bad, EngineSpec(), gpu="NVIDIA Fake", trt=trt)
    assert trt.builds == []


@pytest.mark.skipif(HAVE_TRT, reason="TensorRT is installed here")
def test_missing_tensorrt_is_a_clear_error(exported) -> None:
    from deploy.tensorrt import TrtTranslator

    with pytest.raises(BackendUnavailable, match="TensorRT is not installed"):
        TrtTranslator(exported.onnx)


@pytest.mark.gpu
@pytest.mark.skipif(not HAVE_TRT, reason="TensorRT is not installed (not installable on the build machines)")
def test_real_engine_matches_onnxruntime(exported, tmp_path) -> None:
    from deploy.ort import OrtTranslator
    from deploy.tensorrt import TrtTranslator

    spec = EngineSpec(precision="fp32", min_shape=(1, 32, 32), opt_shape=(1, 64, 64), max_shape=(2, 128, 128))
    trt_t = TrtTranslator(exported.onnx, spec=spec, cache=EngineCache(tmp_path), device="cuda")
    x = torch.rand(2, 3, 67, 45, device="cuda") * 2 - 1
    got = trt_t.translate(x).cpu()
    want = OrtTranslator(exported.onnx).translate(x.cpu())
    assert (got - want).abs().max().item() < 1e-3
