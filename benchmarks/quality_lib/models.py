"""The model a quality benchmark measures: opened once (a checkpoint, run folder, generator file,
``.onnx`` file, or ``identity``), optionally followed by face enhancement, its speed through ONNX
Runtime, and the machine it ran on."""

from __future__ import annotations

import os
import platform
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np


def machine(threads: int) -> dict[str, Any]:
    cpu = platform.processor() or platform.machine()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        cpu = next(
            (
                ln.split(":", 1)[1].strip()
                for ln in cpuinfo.read_text().splitlines()
                if ln.startswith("model name")
            ),
            cpu,
        )
    return {
        "cpu": cpu,
        "cores": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "torch_threads": threads,
        "python": platform.python_version(),
        "load_avg": [round(v, 2) for v in os.getloadavg()] if hasattr(os, "getloadavg") else None,
    }


@dataclass
class Model:
    name: str
    translate: Callable[[np.ndarray], Any]  # uint8 frames (N, H, W, 3) -> same
    source: Any = None  # the .onnx path, or (variant, config) to export; None: the identity


def open_model(name: str, threads: int) -> Model:
    """The model to measure, loaded once (a checkpoint's variant also serves the ONNX export)."""
    if name == "identity":
        return Model("identity (no-op)", lambda x: x.copy())
    from reflect.loader import identify, load_variant

    ref = identify(name or None)
    if not ref.runs_on_torch:
        from deploy.loader import load_translator

        return Model(str(ref.path), load_translator(ref.path, threads=threads).translate, ref.path)
    from deploy.translator import TorchTranslator

    variant, cfg = load_variant(ref)
    return Model(str(ref.path), TorchTranslator(variant).translate, (variant, cfg))


def at_work_size(model: Model, work_size: int) -> Model:
    """``model`` run at a working size, each frame as ``reflect translate --work-size`` runs it
    (:func:`reflect.inference.at_work_size`)."""
    from reflect.inference import at_work_size as scaled

    def translate(frames: np.ndarray) -> np.ndarray:
        return np.stack(
            [scaled(lambda f: np.asarray(model.translate(f[None]))[0], x, work_size) for x in frames]
        )

    return Model(f"{model.name} at --work-size {work_size}", translate, model.source)


def enhanced(model: Model, face_model: str | None) -> Model:
    """``model`` followed by face enhancement (detector: MTCNN on the cleaned image)."""
    from deploy.enhance import EnhancingTranslator
    from deploy.translator import Translator
    from reflect.face_enhance import FaceEnhancer
    from reflect.utils.images import to_image, to_tensor

    class _Base(Translator):
        backend = "benchmark"

        def run(self, x: Any) -> Any:
            return to_tensor(np.asarray(model.translate(to_image(x))))

    wrapped = EnhancingTranslator(_Base(), FaceEnhancer.load(face_model))
    return Model(
        f"{model.name} + faces ({face_model or 'bundled face model'})", wrapped.translate, model.source
    )


def onnx_speed(source: Any, size: int, threads: int, runs: int) -> dict[str, Any]:
    """Frames/s through ONNX Runtime of an .onnx file, or of (variant, cfg) exported to a temporary one."""
    import torch

    from deploy.ort import OrtTranslator

    with tempfile.TemporaryDirectory() as tmp:
        path = source
        if not isinstance(source, Path):
            from deploy.export import export_onnx

            path = export_onnx(source[0], Path(tmp) / "model.onnx", cfg=source[1]).path
        runner = OrtTranslator(path, threads=threads)
        x = torch.rand(1, 3, size, size) * 2 - 1
        for _ in range(3):
            runner.run(x)
        times = []
        for _ in range(runs):
            t0 = time.perf_counter()
            runner.run(x)
            times.append(time.perf_counter() - t0)
    median = statistics.median(times)
    return {
        "backend": "onnxruntime",
        "size": size,
        "batch": 1,
        "threads": threads,
        "runs": runs,
        "median_s": round(median, 4),
        "frames_per_s": round(1 / median, 3),
    }
