"""reflect demo"""

from __future__ import annotations

import argparse

HELP = "the whole story on the bundled sample faces: synthesise, train a small demo model, clean, evaluate, report"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", default="runs/demo", help="output folder (default runs/demo)")
    p.add_argument("--steps", type=int, default=600, help="training steps of the small demo model (default 600: about 2 minutes on a 2-core CPU)")


def run(args: argparse.Namespace) -> int:
    from pipelines.demo import run_demo

    page = run_demo(args.out, steps=args.steps)
    print(f"report: {page.resolve()}")
    return 0
