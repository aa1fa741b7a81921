"""TensorRT build settings and the engine cache (no TensorRT import needed).

An engine is only valid for the GPU model and TensorRT version that built it, so the cache key is
the sha256 of: the GPU name, the TensorRT version, the ONNX file's sha256 and the build settings
(:class:`EngineSpec`, with the calibration cache's content rather than its path).
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from reflect.errors import ConfigError
from reflect.utils.atomic import atomic_write_bytes, atomic_write_text

PRECISIONS = ("fp32", "fp16", "int8")
#: "@first_conv", "@last_conv" and "@norm" select layers by role; other entries are fnmatch
#: patterns on TensorRT layer names (which follow the ONNX node names).
DEFAULT_FP16_LAYERS = ("@first_conv", "@last_conv", "@norm")
Shape3 = tuple[int, int, int]  # (batch, height, width)


@dataclass(frozen=True)
class EngineSpec:
    """How to build an engine. Shapes are (batch, height, width) of the ``input`` tensor."""

    precision: str = "fp16"
    min_shape: Shape3 = (1, 64, 64)
    opt_shape: Shape3 = (1, 256, 256)
    max_shape: Shape3 = (4, 1024, 1024)
    fp16_layers: tuple[str, ...] = DEFAULT_FP16_LAYERS  # int8 only
    workspace_mb: int = 4096
    calib_dir: str = ""
    calib_cache: str = ""
    calib_max_batches: int = 32

    def validate(self) -> None:
        if self.precision not in PRECISIONS:
            raise ConfigError(f"unknown precision '{self.precision}'; valid: {', '.join(PRECISIONS)}")
        if not all(
            1 <= a <= b <= c for a, b, c in zip(self.min_shape, self.opt_shape, self.max_shape, strict=True)
        ):
            raise ConfigError(
                f"profile shapes must satisfy 1 <= min <= opt <= max per axis, got "
                f"min {self.min_shape}, opt {self.opt_shape}, max {self.max_shape}"
            )
        if self.precision == "int8" and not self.calib_dir and not Path(self.calib_cache or "-").is_file():
            raise ConfigError(
                "int8 needs --calib DIR (a folder of real crops) or an existing --calib-cache file"
            )

    def cache_fields(self) -> dict[str, Any]:
        """What changes the engine (the calibration cache's content, not its path)."""
        d = asdict(self)
        d.pop("calib_cache")
        if self.calib_cache and Path(self.calib_cache).is_file():
            d["calib_cache_sha256"] = hashlib.sha256(Path(self.calib_cache).read_bytes()).hexdigest()
        return d


def engine_cache_key(onnx_sha256: str, gpu: str, trt_version: str, spec: EngineSpec) -> str:
    blob = json.dumps(
        {"onnx": onnx_sha256, "gpu": gpu, "tensorrt": trt_version, "spec": spec.cache_fields()},
        sort_keys=True,
        default=list,
    )
    return hashlib.sha256(blob.encode()).hexdigest()[:32]


class EngineCache:
    """``<root>/<key>.engine`` plus ``<key>.json`` (what it was built from), written atomically."""

    def __init__(self, root: str | Path | None = None) -> None:
        default = Path(os.environ.get("REFLECT_CACHE_DIR", Path.home() / ".cache" / "reflect")) / "tensorrt"
        self.root = Path(root) if root is not None else default

    def path(self, key: str) -> Path:
        return self.root / f"{key}.engine"

    def get(self, key: str) -> bytes | None:
        p = self.path(key)
        return p.read_bytes() if p.is_file() and p.stat().st_size > 0 else None

    def put(self, key: str, engine: bytes, info: dict[str, Any]) -> Path:
        atomic_write_bytes(self.path(key), engine)
        atomic_write_text(self.path(key).with_suffix(".json"), json.dumps(info, indent=2, default=list))
        return self.path(key)
