"""Inference backends side by side: torch eager, torch channels_last and ONNX Runtime on this CPU.

    .venv/bin/python benchmarks/backends.py [--iters 3] [--size 256] [--json benchmarks/results/backends.json]

Models: CycleGAN's ResNet-9 generator (Zhu et al. 2017; paper defaults, random weights: speed does
not depend on the values) and the lightest registered variant's generator (fewest FLOPs per
frame at the paper defaults). Each at ``--size`` px, batch 1 and 4. Reported per row: median and
p99 latency of ``--iters`` timed runs after one warm-up, frames/s, the ratio to torch eager, and the
achieved GFLOP/s (FLOPs counted with ``torch.utils.flop_counter.FlopCounterMode``) as a share of
this machine's measured large-matrix-multiply GFLOP/s, i.e. how close each backend gets to what
the CPU can do on the friendliest workload. Prints a table and writes JSON.

On a CPU shared with other jobs the share is noisy: the matmul reference is re-measured before
every row and the larger value kept, and a share above 100% means the row ran in a quieter moment
than any reference measurement. The machine, core count and both matmul figures go in the JSON.
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
import time
from pathlib import Path
from typing import Any

import torch

from deploy.bench import benchmark, format_table
from deploy.export import export_onnx
from deploy.loader import random_variant
from deploy.ort import OrtTranslator, available_cores
from deploy.translator import TorchTranslator
from reflect import registry
from reflect.utils.atomic import atomic_write_text
from reflect.utils.flops import count_flops
from reflect.variants.base import Variant

REPO = Path(__file__).resolve().parents[1]


def _best_gflops(fn: Any, flops: float, repeats: int) -> float:
    fn()
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return flops / best / 1e9


def matmul_gflops(n: int = 2048, repeats: int = 15) -> dict[str, float]:
    """Float32 GFLOP/s of an n x n matrix product (2 n^3 FLOPs) with torch (MKL here) and with
    ONNX Runtime (MLAS), best of ``repeats`` each: the best run is the one least disturbed by
    other processes. The larger of the two is taken as what this CPU can do."""
    import numpy as np
    import onnx
    import onnxruntime as ort
    from onnx import TensorProto, helper

    a, b = torch.randn(n, n), torch.randn(n, n)
    out = {"torch_mm": _best_gflops(lambda: torch.mm(a, b), 2 * n**3, repeats)}
    io = [helper.make_tensor_value_info(k, TensorProto.FLOAT, [n, n]) for k in ("a", "b", "c")]
    graph = helper.make_graph([helper.make_node("MatMul", ["a", "b"], ["c"])], "mm", io[:2], io[2:])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = available_cores()
    sess = ort.InferenceSession(model.SerializeToString(), opts, providers=["CPUExecutionProvider"])
    feeds = {"a": a.numpy(), "b": np.ascontiguousarray(b.numpy())}
    out["onnxruntime_matmul"] = _best_gflops(lambda: sess.run(None, feeds), 2 * n**3, repeats)
    onnx.checker.check_model(model)
    out["peak"] = max(out.values())
    return out


def frame_flops(variant: Variant, size: int) -> int:
    return count_flops(lambda: variant.export_module(None)(torch.zeros(1, 3, size, size)))


def pick_lightest(size: int) -> tuple[str, int] | None:
    """The registered variant (other than cyclegan) with the fewest generator FLOPs per frame."""
    costs = []
    for name in registry.names():
        if name == "cyclegan":
            continue
        variant = random_variant(name)
        if len(variant.domains) != 2:  # multi-domain: the default target needs no extra input
            continue
        costs.append((frame_flops(variant, size), name))
    if not costs:
        return None
    flops, name = min(costs)
    return name, flops


def quick_peak(n: int = 2048, repeats: int = 6) -> float:
    """torch large-matmul GFLOP/s right now (the CPU is shared: what is available changes)."""
    a, b = torch.randn(n, n), torch.randn(n, n)
    return _best_gflops(lambda: torch.mm(a, b), 2 * n**3, repeats)


def run_model(name: str, size: int, iters: int, workdir: Path, peak: float) -> list[dict[str, Any]]:
    """Rows for one model. ``of_peak`` divides by the larger of ``peak`` (measured at start-up)
    and a matmul measured just before the row, so a quiet spell is not scored against a busy one."""
    variant = random_variant(name)
    flops = frame_flops(variant, size)
    params = sum(p.numel() for p in variant.export_module(None).parameters())
    onnx_path = workdir / f"{name}.onnx"
    parity = export_onnx(variant, onnx_path, parity_sizes=[(1, 67, 45), (1, size + 12, size + 20)])
    backends = {
        "torch eager": lambda: TorchTranslator(variant),
        "torch channels_last": lambda: TorchTranslator(random_like(variant), channels_last=True),
        "onnxruntime": lambda: OrtTranslator(onnx_path),
    }
    rows: list[dict[str, Any]] = []
    for batch in (1, 4):
        eager_fps = None
        for label, make in backends.items():
            row_peak = max(peak, quick_peak())
            r = benchmark(
                make(),
                height=size,
                width=size,
                batch=batch,
                warmup=1,
                iters=iters if batch == 1 else max(2, iters // 2),
            )
            eager_fps = eager_fps or r.fps
            achieved = flops * r.fps / 1e9
            rows.append(
                {
                    "model": name,
                    "params_M": params / 1e6,
                    "gflop_per_frame": flops / 1e9,
                    "backend": label,
                    "batch": batch,
                    "median_ms": r.median_ms,
                    "p99_ms": r.p99_ms,
                    "fps": r.fps,
                    "vs_eager": r.fps / eager_fps,
                    "gflops": achieved,
                    "matmul_peak": row_peak,
                    "of_peak": achieved / row_peak,
                    "onnx_max_abs_diff": parity.max_abs_diff,
                }
            )
            print(f"  {name:10s} {label:20s} batch {batch}: {r.fps:7.2f} frames/s", flush=True)
    return rows


def random_like(variant: Variant) -> Variant:
    """A copy with the same weights (channels_last converts parameters in place)."""
    clone = random_variant(variant.name)
    clone.load_state_dict(variant.state_dict())
    return clone


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--iters", type=int, default=3, help="timed runs at batch 1 (batch 4: about half)")
    ap.add_argument("--json", default=str(REPO / "benchmarks" / "results" / "backends.json"))
    args = ap.parse_args()
    torch.manual_seed(0)
    mm = matmul_gflops()
    peak = mm["peak"]
    machine = {
        "cpu": platform.processor() or platform.machine(),
        "cores": available_cores(),
        "torch_threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "matmul_gflops": mm,
        "note": "shared CPU: other jobs may be running; timings are noisy",
    }
    print(f"machine: {machine}")
    lightest = pick_lightest(args.size)
    names = ["cyclegan"] + ([lightest[0]] if lightest else [])
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in names:
            rows += run_model(name, args.size, args.iters, Path(tmp), peak)
    cols = [
        ("model", "model", ""),
        ("gflop_per_frame", "GFLOP/frame", ".1f"),
        ("backend", "backend", ""),
        ("batch", "batch", "d"),
        ("median_ms", "median ms", ".1f"),
        ("p99_ms", "p99 ms", ".1f"),
        ("fps", "frames/s", ".2f"),
        ("vs_eager", "x eager", ".2f"),
        ("gflops", "GFLOP/s", ".1f"),
        ("of_peak", "of matmul peak", ".0%"),
    ]
    print(
        f"\n{args.size}x{args.size}; large-matmul GFLOP/s: torch {mm['torch_mm']:.1f}, onnxruntime "
        f"{mm['onnxruntime_matmul']:.1f} -> peak {peak:.1f} ({machine['cores']} cores, shared: noisy)"
    )
    print(format_table(rows, cols))
    atomic_write_text(args.json, json.dumps({"machine": machine, "size": args.size, "rows": rows}, indent=2))
    print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
