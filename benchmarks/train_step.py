"""Seconds per training iteration: the trainer side by side with a reference-style loop.

    .venv/bin/python benchmarks/train_step.py [--repeats 5] [--warmup 1] [--only cyclegan-128]
                                              [--levers] [--json out.json]

Rows (batch 1, LSGAN, fp32 unless a lever says otherwise): CycleGAN ResNet-9 at 256 px and
ResNet-6 at 128 px (the paper's settings, pool 50) and NICE-GAN and UNIT at ``--small`` px, each
against the loop its authors' code runs (``benchmarks/reference_loops.py``). Both sides are built
from the same seed in one process and timed **interleaved** (ref, ours, ours, ref, ...), so a
machine shared with other work slows both alike; the table gives the median of ``--repeats``
iterations after ``--warmup``, the ratio (reference s / our s: > 1 means we are faster; "paired":
the median of the per-repeat ratios, steadier when the load changes), FLOPs per
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

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks.reference_loops import LOOPS  # noqa: E402
from reflect.config import load_config  # noqa: E402
from reflect.train import Trainer  # noqa: E402
from reflect.utils.flops import count_flops  # noqa: E402

Runner = Callable[[dict[str, torch.Tensor]], Any]


def matmul_gflops(dtype: torch.dtype = torch.float32, n: int = 2048, tries: int = 20) -> float:
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
    cfg = load_config(
        REPO / "configs" / f"{variant}.yaml",
        [
            "data.kind=toy",
            f"data.load_size={size}",
            f"data.crop_size={size}",
            "data.num_workers=0",
            f"out_dir={tmp}",
            "train.amp=none",
            "train.progress=false",
            "train.tensorboard=false",
            "train.device=cpu",
            "train.steps=1000000",
            "train.checkpoint_every=1000000",
            "train.sample_every=0",
            *overrides,
        ],
    )
    torch.manual_seed(0)
    return Trainer(cfg)


def flops_of(run: Runner, batch: dict[str, torch.Tensor]) -> int:
    return count_flops(lambda: run(batch), grad=True)


def race(
    runners: dict[str, Runner], batches: list[dict[str, torch.Tensor]], warmup: dict[str, int], repeats: int
) -> dict[str, dict[str, float]]:
    """Warm each runner up on its own (FLOPs counted on its first iteration), then time them
    interleaved, alternating who goes first, on the same batches."""
    names = list(runners)
    # the compiled trainer does the same arithmetic as "ours"; compiling under the counter's
    # dispatch mode is not what we time, so it warms up plainly
    flops = {n: flops_of(runners[n], batches[0]) for n in names if "compiled" not in n}
    for n in names:
        if "compiled" in n:
            runners[n](batches[0])
            flops[n] = flops["ours"]
    for n in names:
        for i in range(warmup[n] - 1):
            runners[n](batches[1 + i % (len(batches) - 1)])
    times: dict[str, list[float]] = {n: [] for n in names}
    for i in range(repeats):
        batch = batches[-1 - i % (len(batches) - 1)]
        for n in names if i % 2 == 0 else names[::-1]:
            t0 = time.perf_counter()
            runners[n](batch)
            times[n].append(time.perf_counter() - t0)
    return {
        n: {
            "s_per_iter": statistics.median(times[n]),
            "min_s": min(times[n]),
            "flops": flops[n],
            "times": times[n],
        }
        for n in names
    }  # type: ignore[dict-item]


def versus_reference(
    key: str, variant: str, size: int, overrides: list[str], args: argparse.Namespace
) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        trainer = make_trainer(variant, size, tmp + "/a", overrides)
        runners: dict[str, Runner] = {
            "reference": LOOPS[variant](copy.deepcopy(trainer.model)),
            "ours": trainer.train_step,
        }
        warmup = {"reference": args.warmup, "ours": args.warmup}
        if key in args.compile.split(","):
            compiled = make_trainer(variant, size, tmp + "/b", [*overrides, "train.compile=true"])
            runners["compiled"], warmup["compiled"] = (
                compiled.train_step,
                args.warmup + 2,
            )  # compiling takes minutes
        if key in args.amp.split(","):  # bf16 autocast (AMX on CPUs that have it): a precision lever
            runners["bf16"] = make_trainer(
                variant, size, tmp + "/c", [*overrides, "train.amp=bf16"]
            ).train_step
            warmup["bf16"] = args.warmup
            if key in args.compile.split(","):
                both = make_trainer(
                    variant, size, tmp + "/d", [*overrides, "train.amp=bf16", "train.compile=true"]
                )
                runners["bf16_compiled"], warmup["bf16_compiled"] = both.train_step, args.warmup + 2
        data = trainer.batches()
        batches = [next(data) for _ in range(args.warmup + args.repeats)]
        res = race(runners, batches, warmup, args.repeats)
    return {
        "row": key,
        "variant": variant,
        "size": size,
        "overrides": overrides,
        **{f"{k}_{n}": v for n, r in res.items() for k, v in r.items()},
    }


default_threads = torch.get_num_threads()


def _with_threads(run: Runner, n: int) -> Runner:
    def wrapped(batch: dict[str, torch.Tensor]) -> Any:
        torch.set_num_threads(n)
        try:
            return run(batch)
        finally:
            torch.set_num_threads(default_threads)

    return wrapped


def lever(overrides: list[str], sync: bool, args: argparse.Namespace) -> dict[str, Any]:
    """The default trainer against one with ``overrides`` (``sync=False``: losses left on the device)."""
    size = args.lever_size
    with tempfile.TemporaryDirectory() as tmp:
        base = make_trainer("cyclegan", size, tmp + "/a", ["model.n_blocks=6"])
        other = make_trainer("cyclegan", size, tmp + "/b", ["model.n_blocks=6", *overrides])
        data = base.batches()
        batches = [next(data) for _ in range(args.warmup + args.repeats)]
        run_other: Runner = other.train_step if sync else other.iteration
        threads = [int(o.split("=")[1]) for o in overrides if o.startswith("train.threads=")]
        if threads:  # a process-wide setting: switch it around the lever's iterations only
            torch.set_num_threads(default_threads)
            run_other = _with_threads(run_other, threads[0])
        res = race(
            {"default": base.train_step, "lever": run_other},
            batches,
            {"default": args.warmup, "lever": args.warmup},
            args.repeats,
        )
    return {
        "variant": "cyclegan",
        "size": size,
        "overrides": overrides,
        **{f"{k}_{n}": v for n, r in res.items() for k, v in r.items()},
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--small", type=int, default=128, help="size for NICE-GAN and UNIT")
    ap.add_argument("--only", default="", help="comma list of rows: cyclegan-256,cyclegan-128,nicegan,unit")
    ap.add_argument(
        "--compile", default="cyclegan-128", help="rows that also time the trainer with train.compile=true"
    )
    ap.add_argument(
        "--amp",
        default="",
        help="rows that also time the trainer with train.amp=bf16 "
        "(and bf16 + compile where --compile names the row)",
    )
    ap.add_argument("--levers", action="store_true")
    ap.add_argument("--lever-size", type=int, default=128)
    ap.add_argument("--only-levers", default="", help="comma list of words picking lever rows")
    ap.add_argument("--json", default="benchmarks/results/train_step.json")
    ap.add_argument(
        "--threads", type=int, default=0, help="torch threads for every loop (0: PyTorch's choice)"
    )
    args = ap.parse_args()
    if args.threads > 0:  # on a machine shared with other work, 1 thread avoids OpenMP stalls
        torch.set_num_threads(args.threads)
    global default_threads
    default_threads = torch.get_num_threads()
    peak = matmul_gflops()
    peak_bf16 = matmul_gflops(torch.bfloat16) if args.amp else None
    machine = f"{platform.processor() or platform.machine()}, {torch.get_num_threads()} threads, cpu"
    rows: list[dict[str, Any]] = []
    plan = {
        "cyclegan-128": ("cyclegan", 128, ["model.n_blocks=6"]),
        "nicegan": ("nicegan", args.small, []),
        "unit": ("unit", args.small, []),
        "cyclegan-256": ("cyclegan", 256, ["model.n_blocks=9"]),
    }
    wanted = [k for k in plan if not args.only or k in args.only.split(",")]
    print(
        f"{machine}; matmul peak {peak:.1f} GFLOP/s (fp32 2048^2)"
        + (f", {peak_bf16:.1f} GFLOP/s (bf16; the share of bf16 rows)" if peak_bf16 else "")
        + f"; median of {args.repeats} after {args.warmup} warm-up, interleaved",
        flush=True,
    )
    print(
        f"{'row':<20}{'loop':<22}{'s/iter':>9}{'min s':>8}{'vs ref':>8}{'paired':>8}{'GFLOP/iter':>12}{'% of peak':>10}"
    )
    for key in wanted:
        variant, size, ov = plan[key]
        r = versus_reference(key, variant, size, ov, args)
        rows.append(r)
        for n in ("reference", "ours", "compiled", "bf16", "bf16_compiled"):
            if f"s_per_iter_{n}" not in r:
                continue
            s_it, fl = r[f"s_per_iter_{n}"], r[f"flops_{n}"]
            r[f"ratio_{n}"] = r["s_per_iter_reference"] / s_it
            # each repeat times both loops back to back: their ratio cancels slow changes of load
            r[f"paired_ratio_{n}"] = statistics.median(
                a / b for a, b in zip(r["times_reference"], r[f"times_{n}"], strict=True)
            )
            label = {
                "reference": "reference-style",
                "ours": "trainer",
                "compiled": "trainer, compile",
                "bf16": "trainer, bf16",
                "bf16_compiled": "trainer, bf16+compile",
            }[n]
            top = peak_bf16 if n.startswith("bf16") and peak_bf16 else peak
            print(
                f"{key + ' ' + str(size) + 'px':<20}{label:<22}{s_it:>9.2f}{r[f'min_s_{n}']:>8.2f}"
                f"{r[f'ratio_{n}']:>7.2f}x{r[f'paired_ratio_{n}']:>7.2f}x{fl / 1e9:>12.1f}{fl / s_it / 1e9 / top * 100:>9.1f}%",
                flush=True,
            )
    if args.levers:
        print(
            f"\nlevers, one at a time (CycleGAN ResNet-6 {args.lever_size} px): default trainer vs the lever"
        )
        print(f"{'lever':<40}{'default s':>11}{'lever s':>9}{'speed-up':>10}")
        for name, (ov, sync) in LEVERS.items():
            if args.only_levers and not any(w in name for w in args.only_levers.split(",")):
                continue
            r = lever(ov, sync, args)
            r["lever"], r["speedup"] = name, r["s_per_iter_default"] / r["s_per_iter_lever"]
            rows.append(r)
            print(
                f"{name:<40}{r['s_per_iter_default']:>11.3f}{r['s_per_iter_lever']:>9.3f}{r['speedup']:>10.2f}",
                flush=True,
            )
    late = matmul_gflops()  # a second look: on a shared machine one measurement can catch a busy moment
    if late > peak:
        print(f"matmul peak measured again at the end: {late:.1f} GFLOP/s (the shares above use {peak:.1f})")
    out = Path(args.json)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(
        json.dumps(
            {
                "machine": machine,
                "matmul_gflops": peak,
                "matmul_gflops_bf16": peak_bf16,
                "matmul_gflops_end": late,
                "rows": rows,
            },
            indent=2,
        )
    )


#: one trainer setting switched at a time: name -> (overrides, losses read back every step)
LEVERS: dict[str, tuple[list[str], bool]] = {
    "adam for-loop (PyTorch's CPU default)": (["train.adam=for-loop"], True),
    "adam foreach": (["train.adam=foreach"], True),
    "channels_last": (["train.channels_last=true"], True),
    "threads=1": (["train.threads=1"], True),
    "no host sync: losses read at log steps": ([], False),
    "amp bf16 (AMX on this CPU)": (["train.amp=bf16"], True),
}  # torch.compile: the main table's "trainer, compile" rows

if __name__ == "__main__":
    main()
