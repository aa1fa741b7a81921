"""Seconds per CycleGAN training iteration, peak memory, generator parameters and MACs.

    .venv/bin/python benchmarks/train_step.py [--repeats 20] [--warmup 3] [--json out.json]

Configurations: ResNet-9 at 256 px and ResNet-6 at 128 px, batch 1 (the paper's settings).
One iteration = one discriminator step + one generator step through the real trainer.
Prints a table and writes JSON. Reports the median of ``--repeats`` timed iterations after warm-up.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import platform
import resource
import statistics
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import torch
from torch.utils.flop_counter import FlopCounterMode

from reflect.config import load_config
from reflect.train import Trainer

REPO = Path(__file__).resolve().parents[1]


def generator_cost(model: torch.nn.Module, size: int) -> tuple[int, float]:
    params = sum(p.numel() for p in model.g_ab.parameters())
    with torch.no_grad(), FlopCounterMode(display=False) as fc:
        model.g_ab(torch.zeros(1, 3, size, size))
    return params, fc.get_total_flops() / 2 / 1e9  # MACs = FLOPs / 2


def bench(n_blocks: int, size: int, repeats: int, warmup: int, device: str) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        cfg = load_config(REPO / "configs" / "cyclegan.yaml", [
            f"model.n_blocks={n_blocks}", "data.kind=toy", f"data.load_size={size}", f"data.crop_size={size}",
            "data.num_workers=1", f"out_dir={tmp}", "train.progress=false", "train.tensorboard=false",
            f"train.device={device}", "train.steps=1000000", "train.checkpoint_every=1000000", "train.sample_every=0",
        ])
        trainer = Trainer(cfg)
        params, gmacs = generator_cost(trainer.model, size)
        batches = trainer.batches()
        times = []
        if device.startswith("cuda"):
            torch.cuda.reset_peak_memory_stats()
        for i in range(warmup + repeats):
            batch = next(batches)
            if device.startswith("cuda"):
                torch.cuda.synchronize()
            t0 = time.perf_counter()
            trainer.train_step(batch)
            if device.startswith("cuda"):
                torch.cuda.synchronize()
            if i >= warmup:
                times.append(time.perf_counter() - t0)
        peak = (torch.cuda.max_memory_allocated() / 2**20 if device.startswith("cuda")
                else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    return {"n_blocks": n_blocks, "size": size, "s_per_iter": statistics.median(times),
            "p90_s": sorted(times)[int(0.9 * (len(times) - 1))], "peak_mib": peak,
            "gen_params_m": params / 1e6, "gen_gmacs": gmacs}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--json", default="benchmarks/results/train_step.json")
    args = ap.parse_args()
    # each configuration in a fresh process, so peak memory (max RSS on the CPU) is its own
    ctx = multiprocessing.get_context("spawn")
    rows = []
    for n_blocks, size in ((9, 256), (6, 128)):
        with ProcessPoolExecutor(1, mp_context=ctx) as pool:
            rows.append(pool.submit(bench, n_blocks, size, args.repeats, args.warmup, args.device).result())
    machine = f"{platform.processor() or platform.machine()}, {torch.get_num_threads()} threads, {args.device}"
    print(f"CycleGAN training iteration (batch 1), median of {args.repeats} after {args.warmup} warm-up; {machine}")
    print(f"{'generator':<12}{'px':>6}{'s/iter':>10}{'p90 s':>10}{'peak MiB':>10}{'G params M':>12}{'G GMACs':>10}")
    for r in rows:
        print(f"{'ResNet-' + str(r['n_blocks']):<12}{r['size']:>6}{r['s_per_iter']:>10.3f}{r['p90_s']:>10.3f}"
              f"{r['peak_mib']:>10.0f}{r['gen_params_m']:>12.3f}{r['gen_gmacs']:>10.2f}")
    print("peak memory: CUDA max allocated on GPU; process max RSS on CPU (includes the Python runtime)")
    out = Path(args.json)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"machine": machine, "rows": rows}, indent=2))


if __name__ == "__main__":
    main()
