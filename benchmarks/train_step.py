"""Seconds per training iteration: the trainer side by side with a reference-style loop.

    .venv/bin/python benchmarks/train_step.py [--repeats 5] [--warmup 1] [--only cyclegan-128]
                                              [--levers] [--json out.json]

Rows (batch 1, LSGAN, fp32 unless a lever says otherwise): CycleGAN ResNet-9 at 256 px and
ResNet-6 at 128 px (the paper's settings, pool 50) and NICE-GAN and UNIT at ``--small`` px, each
against the loop its authors' code runs (``benchmarks/reference_loops.py``). Both sides are built
from the same seed in one process and timed **interleaved** (ref, ours, ours, ref, ...), so a
machine shared with other work slows both alike; the table gives the median of ``--repeats``
iterations after ``--warmup``, the ratio (reference s / our s: > 1 means we are faster), FLOPs per
iteration counted by ``torch.utils.flop_counter`` and the achieved share of this machine's
matmul rate (a large fp32 matmul, measured at start). ``--levers`` adds rows that switch one
trainer setting at a time against the default trainer (CycleGAN 128 px).
"""

from __future__ import annotations

import argparse
import copy
import json
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch.utils.flop_counter import FlopCounterMode

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks.reference_loops import LOOPS  # noqa: E402
from reflect.config import load_config  # noqa: E402
from reflect.train import Trainer  # noqa: E402

Runner = Callable[[dict[str, torch.Tensor]], Any]


def matmul_gflops(dtype: torch.dtype = torch.float32, n: int = 2048, tries: int = 5) -> float:
    """The best rate of an n x n matmul on this machine (GFLOP/s), the peak the shares refer to."""
    a, b = torch.randn(n, n, dtype=dtype), torch.randn(n, n, dtype=dtype)
    a @ b
    best = float("inf")
    for _ in range(tries):
        t0 = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - t0)
    return 2 * n**3 / best / 1e9


def make_trainer(variant: str, size: int, tmp: str, overrides: list[str]) -> Trainer:
    cfg = load_config(REPO / "configs" / f"{variant}.yaml", [
        "data.kind=toy", f"data.load_size={size}", f"data.crop_size={size}", "data.num_workers=0",
        f"out_dir={tmp}", "train.progress=false", "train.tensorboard=false", "train.device=cpu",
        "train.steps=1000000", "train.checkpoint_every=1000000", "train.sample_every=0", *overrides,
    ])
    torch.manual_seed(0)
    return Trainer(cfg)


def flops_of(run: Runner, batch: dict[str, torch.Tensor]) -> int:
    with FlopCounterMode(display=False) as fc:
        run(batch)
    return int(fc.get_total_flops())


def race(runners: dict[str, Runner], batches: list[dict[str, torch.Tensor]], warmup: int) -> dict[str, dict[str, float]]:
    """Time the runners interleaved, alternating who goes first; FLOPs from the first iteration."""
    names = list(runners)
    times: dict[str, list[float]] = {n: [] for n in names}
    flops = {n: flops_of(runners[n], batches[0]) for n in names}  # also the first warm-up
    for i, batch in enumerate(batches[1:]):
        order = names if i % 2 == 0 else names[::-1]
        for n in order:
            t0 = time.perf_counter()
            runners[n](batch)
            dt = time.perf_counter() - t0
            if i >= warmup - 1:
                times[n].append(dt)
    return {n: {"s_per_iter": statistics.median(times[n]), "min_s": min(times[n]), "flops": flops[n],
                "n": len(times[n])} for n in names}


def versus_reference(variant: str, size: int, overrides: list[str], args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        trainer = make_trainer(variant, size, tmp, overrides)
        reference_model = copy.deepcopy(trainer.model)
        data = trainer.batches()
        batches = [next(data) for _ in range(args.warmup + args.repeats)]
        ref_step = LOOPS[variant](reference_model)
        res = race({"reference": ref_step, "ours": trainer.train_step}, batches, args.warmup)
    return {"variant": variant, "size": size, "overrides": overrides, **{f"{k}_{n}": v for n, r in res.items() for k, v in r.items()}}


def lever(size: int, overrides: list[str], args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        base = make_trainer("cyclegan", size, tmp + "/a", ["model.n_blocks=6"])
        other = make_trainer("cyclegan", size, tmp + "/b", ["model.n_blocks=6", *overrides])
        data = base.batches()
        batches = [next(data) for _ in range(args.warmup + args.repeats)]
        run_other: Runner = other.train_step
        if "no-sync" in args.only_levers_tag:
            run_other = other._iteration
        res = race({"default": base.train_step, "lever": run_other}, batches, args.warmup)
    return {"variant": "cyclegan", "size": size, "overrides": overrides,
            **{f"{k}_{n}": v for n, r in res.items() for k, v in r.items()}}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--small", type=int, default=128, help="size for NICE-GAN and UNIT")
    ap.add_argument("--only", default="", help="comma list of rows: cyclegan-256,cyclegan-128,nicegan,unit")
    ap.add_argument("--levers", action="store_true")
    ap.add_argument("--json", default="benchmarks/results/train_step.json")
    args = ap.parse_args()
    args.only_levers_tag = ""
    peak = matmul_gflops()
    machine = f"{platform.processor() or platform.machine()}, {torch.get_num_threads()} threads, cpu"
    rows: list[dict[str, Any]] = []
    plan = {"cyclegan-256": ("cyclegan", 256, ["model.n_blocks=9"]), "cyclegan-128": ("cyclegan", 128, ["model.n_blocks=6"]),
            "nicegan": ("nicegan", args.small, []), "unit": ("unit", args.small, [])}
    wanted = [k for k in plan if not args.only or k in args.only.split(",")]
    print(f"{machine}; matmul peak {peak:.1f} GFLOP/s (fp32 2048^2); median of {args.repeats} after "
          f"{args.warmup} warm-up, interleaved", flush=True)
    print(f"{'row':<26}{'ref s':>9}{'ours s':>9}{'ratio':>7}{'ref GFLOP':>11}{'our GFLOP':>11}{'ref %pk':>9}{'our %pk':>9}")
    for key in wanted:
        variant, size, ov = plan[key]
        r = versus_reference(variant, size, ov, args)
        r["row"], r["ratio"] = key, r["s_per_iter_reference"] / r["s_per_iter_ours"]
        rows.append(r)
        share = {n: r[f"flops_{n}"] / r[f"s_per_iter_{n}"] / 1e9 / peak * 100 for n in ("reference", "ours")}
        print(f"{key + ' ' + str(size) + 'px':<26}{r['s_per_iter_reference']:>9.3f}{r['s_per_iter_ours']:>9.3f}"
              f"{r['ratio']:>7.2f}{r['flops_reference'] / 1e9:>11.1f}{r['flops_ours'] / 1e9:>11.1f}"
              f"{share['reference']:>8.1f}%{share['ours']:>8.1f}%", flush=True)
    if args.levers:
        print("\nlevers, one at a time (CycleGAN ResNet-6 128 px): default trainer vs the lever")
        print(f"{'lever':<40}{'default s':>11}{'lever s':>9}{'speed-up':>10}")
        for name, ov in LEVERS.items():
            args.only_levers_tag = name
            r = lever(128, ov, args)
            r["lever"], r["speedup"] = name, r["s_per_iter_default"] / r["s_per_iter_lever"]
            rows.append(r)
            print(f"{name:<40}{r['s_per_iter_default']:>11.3f}{r['s_per_iter_lever']:>9.3f}{r['speedup']:>10.2f}", flush=True)
    out = Path(args.json)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"machine": machine, "matmul_gflops": peak, "rows": rows}, indent=2))


#: one trainer setting switched at a time (the default trainer is the other side of each race)
LEVERS: dict[str, list[str]] = {
    "adam for-loop (PyTorch's CPU default)": ["train.adam=for-loop"],
    "adam foreach": ["train.adam=foreach"],
    "adam fused": ["train.adam=fused"],
    "channels_last": ["train.channels_last=true"],
    "threads=1": ["train.threads=1"],
    "no-sync: losses kept on the device": [],
    "amp bf16 (AMX on this CPU)": ["train.amp=bf16"],
    "torch.compile": ["train.compile=true"],
}


if __name__ == "__main__":
    main()
