"""reflect demo"""

from __future__ import annotations

import argparse

HELP = "the whole story on the bundled sample faces: synthesise window crops, clean them with the bundled model, evaluate, report"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", default="runs/demo", help="output folder (default runs/demo)")
    p.add_argument(
        "--train-demo-model",
        action="store_true",
        help="also train a small demo model (CycleGAN) with `reflect train` and report it beside the bundled one",
    )
    p.add_argument(
        "--steps", type=int, default=600, help="with --train-demo-model: its training steps (default 600)"
    )


def run(args: argparse.Namespace) -> int:
    from pipelines.demo import run_demo

    page = run_demo(args.out, steps=args.steps, train_demo_model=args.train_demo_model)
    print(f"report: {page.resolve()}")
    return 0
