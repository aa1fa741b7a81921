"""Does bf16 autocast train like fp32 here? The same run twice, losses and outputs side by side.

    .venv/bin/python benchmarks/amp_equivalence.py [--config configs/cyclegan.yaml] [--steps 120] [--size 128]

Both runs start from one seed and see the same batches (toy data unless ``--data-kind`` says otherwise);
only ``train.amp`` differs (``none`` vs ``bf16``); a third fp32 run with another seed is the yardstick
(GAN losses of two fp32 runs wander apart too). Printed: each loss averaged over the last half of
each run, relative differences to the fp32 run, seconds per iteration, and how far apart the trained
generators' outputs are on the batch after the last step (PSNR of one against the other).
A short run says whether bf16 follows the fp32 trajectory, not what a long run reaches.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from reflect.config import load_config  # noqa: E402
from reflect.train import Trainer  # noqa: E402


def run(
    config: Path, amp: str, seed: int, args: argparse.Namespace, tmp: str
) -> tuple[Trainer, list[dict[str, float]], float]:
    cfg = load_config(
        config,
        [
            f"seed={seed}",
            f"data.kind={args.data_kind}",
            f"data.load_size={args.size}",
            f"data.crop_size={args.size}",
            "data.num_workers=0",
            f"out_dir={tmp}",
            f"name=amp_{amp}_{seed}",
            f"train.amp={amp}",
            f"train.steps={args.steps}",
            "train.decay_steps=0",
            "train.log_every=1",
            "train.sample_every=0",
            "train.checkpoint_every=1000000",
            "train.progress=false",
            "train.tensorboard=false",
            "train.device=cpu",
            *args.override,
        ],
    )
    torch.manual_seed(seed)
    trainer = Trainer(cfg)
    t0 = time.perf_counter()
    trainer.fit()
    return trainer, trainer.history, (time.perf_counter() - t0) / args.steps


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", default=str(REPO / "configs" / "cyclegan.yaml"))
    ap.add_argument("--steps", type=int, default=120)
    ap.add_argument("--size", type=int, default=128)
    ap.add_argument("--data-kind", default="toy")
    ap.add_argument("override", nargs="*", help="extra config overrides, e.g. model.n_blocks=6")
    args = ap.parse_args(argv)
    # fp32 with another seed is the yardstick: how far two fp32 runs land apart anyway
    plan = {"fp32": ("none", 0), "bf16": ("bf16", 0), "fp32 seed 1": ("none", 1)}
    runs = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, (amp, seed) in plan.items():
            runs[name] = run(Path(args.config), amp, seed, args, tmp)
        held = next(runs["fp32"][0].batches())  # the batch after the last step
        x = held["A"][:4] if "A" in held else held["image"][:4]
        with torch.no_grad():
            outs = {name: t.model.eval().translate(x) for name, (t, _, _) in runs.items()}

    def apart(a: str, b: str) -> float:  # PSNR of one output against the other, [-1, 1] -> [0, 1]
        mse = float((outs[a] - outs[b]).pow(2).mean()) / 4
        return 10 * torch.log10(torch.tensor(1 / max(mse, 1e-12))).item()

    half = args.steps // 2
    keys = [k for k in runs["fp32"][1][-1] if k not in ("step", "lr", "it_per_s", "data_wait_s")]
    print(
        f"{Path(args.config).name} at {args.size} px, {args.steps} steps each (fp32 and bf16: same seed and "
        f"batches); mean of steps {half + 1}-{args.steps}; rel. diff against the fp32 run"
    )
    print(f"{'loss':<16}{'fp32':>10}{'bf16':>10}{'fp32 seed 1':>13}{'bf16 diff':>11}{'seed-1 diff':>13}")
    for k in keys:
        m = {n: statistics.fmean(r[k] for r in runs[n][1][half:] if k in r) for n in plan}
        rel = {n: (m[n] - m["fp32"]) / max(abs(m["fp32"]), 1e-12) for n in plan}
        print(
            f"{k:<16}{m['fp32']:>10.4f}{m['bf16']:>10.4f}{m['fp32 seed 1']:>13.4f}{rel['bf16']:>10.1%}"
            f"{rel['fp32 seed 1']:>12.1%}"
        )
    print(
        f"s/iteration: fp32 {runs['fp32'][2]:.3f}, bf16 {runs['bf16'][2]:.3f} "
        f"({runs['fp32'][2] / runs['bf16'][2]:.2f}x); outputs on the next batch, PSNR apart: "
        f"fp32 vs bf16 {apart('fp32', 'bf16'):.1f} dB, fp32 vs fp32 seed 1 {apart('fp32', 'fp32 seed 1'):.1f} dB"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
