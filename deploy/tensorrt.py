"""TensorRT engines from exported ONNX files, cached, and a runtime on torch device buffers.

Written against the TensorRT 10 Python API: ``Builder`` + ``OnnxParser`` network, one
optimisation profile (min/opt/max frame shapes), ``BuilderFlag.FP16``, ``BuilderFlag.INT8`` with
an entropy calibrator (:mod:`deploy.calibration`) and a list of layers kept in FP16 under
``OBEY_PRECISION_CONSTRAINTS`` (GAN generators lose colour fidelity when the first and last
convolutions or the normalisation layers are quantised). Engines are cached under a key made of
the GPU name, the TensorRT version, the ONNX file's sha256 and the build settings.

The runtime uses ``set_tensor_address`` + ``execute_async_v3`` on a ``torch.cuda.Stream`` with
torch-allocated buffers (no pycuda). TensorRT is not installable on this project's build machines,
so this module has only been exercised there against a mocked ``tensorrt`` (our own calls); it has
not yet run on a GPU.
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import logging
from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch

from deploy.engine_cache import EngineCache, EngineSpec, engine_cache_key
from deploy.errors import BackendUnavailable, ModelFileError
from deploy.export import INPUT, OUTPUT, TARGET_INDEX, load_onnx
from deploy.translator import Translator
from reflect.errors import ConfigError, ReflectError
from reflect.utils.atomic import atomic_write_bytes, atomic_write_text

log = logging.getLogger(__name__)
__all__ = [
    "EngineCache",
    "EngineSpec",
    "TrtTranslator",
    "build_engine",
    "engine_cache_key",
    "export_engine",
    "gpu_name",
    "import_tensorrt",
    "select_fp16_layers",
]


def import_tensorrt() -> Any:
    try:
        import tensorrt
    except ImportError:
        raise BackendUnavailable(
            "TensorRT is not installed (its wheels come from NVIDIA's package index); "
            "use the onnxruntime backend or --format onnx"
        ) from None
    return tensorrt


def gpu_name(device: str | torch.device = "cuda") -> str:
    if not torch.cuda.is_available():
        raise BackendUnavailable("TensorRT needs a CUDA GPU and this machine has none")
    return torch.cuda.get_device_name(torch.device(device))


def select_fp16_layers(network: Any, trt: Any, patterns: tuple[str, ...]) -> list[int]:
    """Indices of the network layers named by ``patterns`` (see :data:`DEFAULT_FP16_LAYERS`)."""
    layers = [network.get_layer(i) for i in range(network.num_layers)]
    convs = [
        i
        for i, layer in enumerate(layers)
        if layer.type in (trt.LayerType.CONVOLUTION, trt.LayerType.DECONVOLUTION)
    ]
    chosen: set[int] = set()
    for pat in patterns:
        if pat == "@first_conv":
            chosen.update(convs[:1])
        elif pat == "@last_conv":
            chosen.update(convs[-1:])
        elif pat == "@norm":
            chosen.update(i for i, layer in enumerate(layers) if layer.type == trt.LayerType.NORMALIZATION)
        else:
            chosen.update(i for i, layer in enumerate(layers) if fnmatch.fnmatchcase(layer.name, pat))
    return sorted(chosen)


def _profile_shapes(name: str, spec: EngineSpec) -> tuple[tuple[int, ...], ...]:
    if name == TARGET_INDEX:
        return tuple((s[0],) for s in (spec.min_shape, spec.opt_shape, spec.max_shape))
    return tuple((b, 3, h, w) for b, h, w in (spec.min_shape, spec.opt_shape, spec.max_shape))


def build_engine(
    onnx_path: str | Path,
    spec: EngineSpec,
    *,
    cache: EngineCache | None = None,
    gpu: str | None = None,
    device: str = "cuda",
    trt: Any = None,
) -> tuple[bytes, str]:
    """Build (or take from ``cache``) a serialized engine for ``onnx_path``; returns (engine, key)."""
    spec.validate()
    trt = trt if trt is not None else import_tensorrt()
    model = load_onnx(onnx_path)  # a truncated file is reported by name before TensorRT sees it
    meta = {p.key: p.value for p in model.metadata_props}
    data = Path(onnx_path).read_bytes()
    key = engine_cache_key(hashlib.sha256(data).hexdigest(), gpu or gpu_name(device), trt.__version__, spec)
    if cache is not None and (hit := cache.get(key)) is not None:
        log.info("tensorrt: engine cache hit %s", cache.path(key))
        return hit, key
    logger = trt.Logger(trt.Logger.WARNING)
    builder = trt.Builder(logger)
    network = builder.create_network(0)  # TensorRT 10: explicit batch is the only mode
    parser = trt.OnnxParser(network, logger)
    if not parser.parse(data):
        errors = "; ".join(str(parser.get_error(i)) for i in range(parser.num_errors))
        raise ModelFileError(f"TensorRT cannot parse ONNX model {onnx_path}: {errors[:500]}")
    config = builder.create_builder_config()
    config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, spec.workspace_mb << 20)
    profile = builder.create_optimization_profile()
    inputs = [network.get_input(i) for i in range(network.num_inputs)]
    for tensor in inputs:
        profile.set_shape(tensor.name, *_profile_shapes(tensor.name, spec))
    config.add_optimization_profile(profile)
    if spec.precision in ("fp16", "int8"):
        config.set_flag(trt.BuilderFlag.FP16)
    if spec.precision == "int8":
        from deploy.calibration import CalibrationImages, make_entropy_calibrator

        config.set_flag(trt.BuilderFlag.INT8)
        b, h, w = spec.opt_shape
        images = (
            CalibrationImages(
                spec.calib_dir, batch_size=b, height=h, width=w, max_batches=spec.calib_max_batches
            )
            if spec.calib_dir
            else None
        )
        cache_file = spec.calib_cache or f"{onnx_path}.calib"
        n_domains = len(json.loads(meta.get("domains", '["A", "B"]')))
        config.int8_calibrator = make_entropy_calibrator(
            trt,
            images,
            cache_file,
            batch_size=b,
            device=device,
            n_domains=n_domains,
            input_dtypes={t.name: _torch_dtype(trt, t.dtype) for t in inputs},
        )
        config.set_calibration_profile(profile)
        kept = select_fp16_layers(network, trt, spec.fp16_layers)
        for i in kept:
            layer = network.get_layer(i)
            layer.precision = trt.float16
            for j in range(layer.num_outputs):
                layer.set_output_type(j, trt.float16)
        config.set_flag(trt.BuilderFlag.OBEY_PRECISION_CONSTRAINTS)
        log.info("tensorrt: %d of %d layers kept in FP16", len(kept), network.num_layers)
    serialized = builder.build_serialized_network(network, config)
    if serialized is None:
        raise ReflectError(f"TensorRT failed to build an engine from {onnx_path} (see its log above)")
    engine = bytes(serialized)
    if cache is not None:
        cache.put(
            key,
            engine,
            {"onnx": str(onnx_path), "spec": asdict(spec), "metadata": meta, "tensorrt": trt.__version__},
        )
    return engine, key


def export_engine(
    onnx_path: str | Path,
    out: str | Path,
    spec: EngineSpec,
    *,
    cache: EngineCache | None = None,
    device: str = "cuda",
) -> Path:
    """Write an engine to ``out`` and the ONNX metadata (domains, target...) next to it as JSON."""
    engine, key = build_engine(
        onnx_path, spec, cache=cache if cache is not None else EngineCache(), device=device
    )
    out = Path(out)
    atomic_write_bytes(out, engine)
    meta = {p.key: p.value for p in load_onnx(onnx_path).metadata_props}
    sidecar = {"metadata": meta, "spec": asdict(spec), "cache_key": key, "onnx": str(onnx_path)}
    atomic_write_text(out.with_suffix(out.suffix + ".json"), json.dumps(sidecar, indent=2, default=list))
    return out


def _torch_dtype(trt: Any, dt: Any) -> torch.dtype:
    table = {
        trt.float32: torch.float32,
        trt.float16: torch.float16,
        trt.int32: torch.int32,
        trt.int64: torch.int64,
        trt.int8: torch.int8,
        trt.bool: torch.bool,
    }
    return table[dt]


class TrtTranslator(Translator):
    """Runs a serialized engine (``.engine``/``.plan``), or builds one (cached) from an ``.onnx``."""

    backend = "tensorrt"

    def __init__(
        self,
        path: str | Path,
        *,
        target: str | None = None,
        device: str = "cuda",
        spec: EngineSpec | None = None,
        cache: EngineCache | None = None,
    ) -> None:
        trt = import_tensorrt()
        self.trt, self.path = trt, Path(path)
        self.device = torch.device("cuda" if device == "cpu" else device)  # a CPU run makes no sense here
        gpu_name(self.device)
        if self.path.suffix.lower() == ".onnx":
            data, _ = build_engine(
                self.path, spec or EngineSpec(), cache=cache or EngineCache(), device=str(self.device)
            )
            meta = {p.key: p.value for p in load_onnx(self.path).metadata_props}
        else:
            if not self.path.is_file() or self.path.stat().st_size == 0:
                raise ModelFileError(f"TensorRT engine {self.path} does not exist or is empty")
            data = self.path.read_bytes()
            side = self.path.with_suffix(self.path.suffix + ".json")
            meta = json.loads(side.read_text())["metadata"] if side.is_file() else {}
        self.domains = tuple(json.loads(meta.get("domains", '["A", "B"]')))
        self.runtime = trt.Runtime(trt.Logger(trt.Logger.WARNING))
        self.engine = self.runtime.deserialize_cuda_engine(data)
        if self.engine is None:
            raise ModelFileError(
                f"TensorRT engine {self.path} could not be deserialised (truncated, or built "
                "by another TensorRT version or for another GPU)"
            )
        self.context = self.engine.create_execution_context()
        names = [self.engine.get_tensor_name(i) for i in range(self.engine.num_io_tensors)]
        self.dtypes = {n: _torch_dtype(trt, self.engine.get_tensor_dtype(n)) for n in names}
        self.multidomain = TARGET_INDEX in names
        if self.multidomain and target not in self.domains:
            raise ConfigError(
                f"engine {self.path} is multi-domain: pass a target, one of {', '.join(self.domains)}"
            )
        self.target = target if self.multidomain else (meta.get("target") or self.domains[-1])
        self.profile = self.engine.get_tensor_profile_shape(INPUT, 0)  # (min, opt, max)
        self.stream = torch.cuda.Stream(self.device)

    def run(self, x: torch.Tensor) -> torch.Tensor:
        """(N, 3, H, W) float in [-1, 1] -> same, on ``x``'s device; the engine runs on its own stream."""
        lo, _, hi = self.profile
        if not all(a <= s <= b for a, s, b in zip(lo, x.shape, hi, strict=True)):
            raise ConfigError(
                f"input shape {tuple(x.shape)} is outside the engine's profile {tuple(lo)}..{tuple(hi)}"
            )
        src = x.device
        xin = x.detach().to(self.device, self.dtypes[INPUT]).contiguous()
        ctx, producer = self.context, torch.cuda.current_stream(self.device)
        ctx.set_input_shape(INPUT, tuple(xin.shape))
        ctx.set_tensor_address(INPUT, xin.data_ptr())
        keep = [xin]
        if self.multidomain:
            idx = torch.full(
                (xin.shape[0],),
                self.domains.index(self.target),
                device=self.device,
                dtype=self.dtypes[TARGET_INDEX],
            )
            ctx.set_input_shape(TARGET_INDEX, tuple(idx.shape))
            ctx.set_tensor_address(TARGET_INDEX, idx.data_ptr())
            keep.append(idx)
        out = torch.empty(tuple(ctx.get_tensor_shape(OUTPUT)), dtype=self.dtypes[OUTPUT], device=self.device)
        ctx.set_tensor_address(OUTPUT, out.data_ptr())
        self.stream.wait_stream(producer)  # inputs were written on the caller's stream
        if not ctx.execute_async_v3(self.stream.cuda_stream):
            raise ReflectError(
                f"TensorRT engine {self.path} failed to enqueue a batch of shape {tuple(xin.shape)}"
            )
        for t in (*keep, out):
            t.record_stream(self.stream)  # the caching allocator must not reuse them early
        producer.wait_stream(self.stream)  # the caller's later work waits for the engine
        return out.float().to(src)

    def describe(self) -> dict[str, Any]:
        return {
            **super().describe(),
            "model": str(self.path),
            "tensorrt": self.trt.__version__,
            "profile": [list(s) for s in self.profile],
        }
