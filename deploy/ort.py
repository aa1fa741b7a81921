"""ONNX Runtime backend of the :class:`~deploy.translator.Translator` interface.

Session settings are chosen, not left to chance:

* ``intra_op_num_threads``: the cores this process may use (``threads=0``), or what is given;
  a generator is one long chain of convolutions, so ``inter_op_num_threads=1`` and sequential
  execution (parallel execution of independent nodes has nothing to overlap);
* ``graph_optimization_level``: ``all`` (layout transforms and Conv+activation fusions); the
  export parity check runs with the same level, so its tolerance covers these rewrites;
* providers: CPU, or CUDA first when ``device`` names a GPU and the CUDA provider is installed
  (inputs that already live on the GPU are bound in place with I/O binding; this path has not
  run on this project's CPU-only build machines).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import torch

from deploy.errors import BackendUnavailable
from deploy.export import BOXES, COUNT, INPUT, OUTPUT, TARGET_INDEX, load_onnx
from deploy.translator import Translator
from reflect.errors import ConfigError

OPT_LEVELS = ("disable", "basic", "extended", "all")


def available_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


class OrtTranslator(Translator):
    """Runs an ONNX file written by :func:`deploy.export.export_onnx`."""

    backend = "onnxruntime"

    def __init__(
        self,
        path: str | Path,
        *,
        target: str | None = None,
        device: str = "cpu",
        threads: int = 0,
        optimization: str = "all",
    ) -> None:
        import onnxruntime as ort

        self.path = Path(path)
        model = load_onnx(self.path)  # clear error naming the file when it is truncated
        self.metadata = {p.key: p.value for p in model.metadata_props}
        self.domains = tuple(json.loads(self.metadata.get("domains", '["A", "B"]')))
        inputs = [i.name for i in model.graph.input]
        if INPUT not in inputs:
            raise ConfigError(f"ONNX model {self.path} has inputs {inputs}; reflect models have '{INPUT}'")
        self.multidomain = TARGET_INDEX in inputs
        # an instance-aware graph (dunit) gets no boxes here (count 0): its global path runs
        self.box_slots = int(self.metadata.get("box_slots") or 0) if BOXES in inputs else 0
        self.target = self._resolve_target(target)
        if optimization not in OPT_LEVELS:
            raise ConfigError(
                f"unknown graph optimisation level '{optimization}'; valid: {', '.join(OPT_LEVELS)}"
            )
        level = ort.GraphOptimizationLevel
        opts = ort.SessionOptions()
        opts.graph_optimization_level = {
            "disable": level.ORT_DISABLE_ALL,
            "basic": level.ORT_ENABLE_BASIC,
            "extended": level.ORT_ENABLE_EXTENDED,
            "all": level.ORT_ENABLE_ALL,
        }[optimization]
        self.threads = threads if threads > 0 else available_cores()
        opts.intra_op_num_threads = self.threads
        opts.inter_op_num_threads = 1
        opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        self.device = torch.device(device)
        if self.device.type == "cuda":
            if "CUDAExecutionProvider" not in ort.get_available_providers():
                raise BackendUnavailable(
                    "onnxruntime here has no CUDA provider (install onnxruntime-gpu); use --device cpu"
                )
            providers: list[Any] = [
                ("CUDAExecutionProvider", {"device_id": self.device.index or 0}),
                "CPUExecutionProvider",
            ]
        else:
            providers = ["CPUExecutionProvider"]
        self.session = ort.InferenceSession(model.SerializeToString(), opts, providers=providers)
        self.optimization = optimization

    def _resolve_target(self, target: str | None) -> str | None:
        if self.multidomain:
            if target is None:
                raise ConfigError(
                    f"ONNX model {self.path} is multi-domain: pass a target, one of {', '.join(self.domains)}"
                )
            if target not in self.domains:
                raise ConfigError(f"unknown target domain '{target}'; valid: {', '.join(self.domains)}")
            return target
        exported = self.metadata.get("target") or self.domains[-1]
        if target is not None and target != exported:
            raise ConfigError(
                f"ONNX model {self.path} translates to '{exported}', not '{target}'; "
                f"export again with --target {target}"
            )
        return exported

    def _feeds(self, n: int) -> dict[str, np.ndarray]:
        feeds: dict[str, np.ndarray] = {}
        if self.box_slots:
            feeds |= {BOXES: np.zeros((n, self.box_slots, 4), np.float32), COUNT: np.zeros((n,), np.int64)}
        if not self.multidomain:
            return feeds
        assert self.target is not None
        return feeds | {TARGET_INDEX: np.full((n,), self.domains.index(self.target), dtype=np.int64)}

    def run(self, x: torch.Tensor) -> torch.Tensor:
        """(N, 3, H, W) float in [-1, 1] -> same, on ``x``'s device."""
        if x.is_cuda and self.device.type == "cuda":
            return self._run_bound(x)
        arr = x.detach().to("cpu", torch.float32).contiguous().numpy()
        out = self.session.run([OUTPUT], {INPUT: arr, **self._feeds(arr.shape[0])})[0]
        return torch.from_numpy(out).to(x.device)

    def _run_bound(self, x: torch.Tensor) -> torch.Tensor:
        """GPU tensors in, GPU tensor out, no host copies (ORT I/O binding on torch memory)."""
        x = x.detach().float().contiguous()
        y = torch.empty_like(x)
        dev_id = x.device.index or 0
        binding = self.session.io_binding()
        binding.bind_input(INPUT, "cuda", dev_id, np.float32, tuple(x.shape), x.data_ptr())
        for name, value in self._feeds(x.shape[0]).items():
            binding.bind_cpu_input(name, value)
        binding.bind_output(OUTPUT, "cuda", dev_id, np.float32, tuple(y.shape), y.data_ptr())
        torch.cuda.current_stream(x.device).synchronize()  # ORT runs on its own stream
        self.session.run_with_iobinding(binding)
        return y

    def describe(self) -> dict[str, Any]:
        return {
            **super().describe(),
            "model": str(self.path),
            "providers": self.session.get_providers(),
            "threads": self.threads,
            "optimization": self.optimization,
            "variant": self.metadata.get("variant", ""),
        }
