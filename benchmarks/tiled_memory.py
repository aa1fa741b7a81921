"""Peak memory of tiled translation: `reflect translate --memory-mb M` on a SIZE x SIZE frame.

    .venv/bin/python benchmarks/tiled_memory.py [--size 9000] [--memory-mb 200] [--model M]

Runs the command in a child process and reads its peak resident memory (``ru_maxrss``), next to
the same command on a 256 x 256 frame (the process itself: Python, torch, the model). What tiling
adds beyond that baseline and the frame's own uint8 buffers (decoded input and output, 3 bytes a
pixel each) is the working memory the ``--memory-mb`` budget bounds.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

REPO = Path(__file__).resolve().parents[1]


def _frame(path: Path, size: int) -> None:
    """A smooth frame with some texture (JPEG, as a camera writes), built row band by row band."""
    y = np.linspace(0, 255, size, dtype=np.float32)[:, None]
    x = np.linspace(0, 255, size, dtype=np.float32)[None, :]
    rgb = np.stack(
        [
            np.broadcast_to(x, (size, size)),
            np.broadcast_to(y, (size, size)),
            np.broadcast_to((x + y) / 2, (size, size)),
        ],
        axis=-1,
    ).astype(np.uint8)
    Image.fromarray(rgb).save(path, quality=90)


def _run(args: list[str]) -> tuple[float, float]:
    """Seconds and peak RSS (MiB) of ``reflect ARGS`` in a child process."""
    env = os.environ | {"PYTHONPATH": str(REPO)}
    t0 = time.perf_counter()
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    done = subprocess.run(
        [sys.executable, "-m", "reflect", *args], cwd=REPO, env=env, capture_output=True, text=True
    )
    if done.returncode != 0:
        raise SystemExit(f"reflect {' '.join(args)} failed ({done.returncode}): {done.stderr[-2000:]}")
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    if peak <= before:
        raise RuntimeError(
            "the large frame's peak did not exceed the baseline's: measure it in a fresh process"
        )
    return time.perf_counter() - t0, peak / 1024


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--size", type=int, default=9000)
    p.add_argument("--memory-mb", type=float, default=200.0)
    p.add_argument("--model", help="default: the bundled model")
    a = p.parse_args()
    model = ["--checkpoint", a.model] if a.model else []
    with tempfile.TemporaryDirectory() as tmp:
        big, small = Path(tmp) / "big", Path(tmp) / "small"
        big.mkdir()
        small.mkdir()
        _frame(big / "frame.jpg", a.size)
        _frame(small / "frame.jpg", 256)
        _, base = _run(
            [
                "translate",
                *model,
                "--input",
                str(small),
                "--output",
                f"{tmp}/o2",
                "--memory-mb",
                str(a.memory_mb),
            ]
        )  # first: ru_maxrss is the largest child's so far
        seconds, peak = _run(
            [
                "translate",
                *model,
                "--input",
                str(big),
                "--output",
                f"{tmp}/o1",
                "--memory-mb",
                str(a.memory_mb),
            ]
        )
    frame_mb = a.size * a.size * 3 / 2**20
    result = {
        "size": a.size,
        "memory_mb": a.memory_mb,
        "seconds": round(seconds, 1),
        "peak_rss_mb": round(peak),
        "baseline_rss_mb": round(base),
        "frame_uint8_mb": round(frame_mb),
        "working_mb": round(peak - base - 2 * frame_mb),
    }
    print(json.dumps(result))
    print(
        f"{a.size}x{a.size} frame, --memory-mb {a.memory_mb:g}: peak {peak:.0f} MiB = process {base:.0f} + "
        f"input and output {2 * frame_mb:.0f} + working {result['working_mb']} MiB "
        f"({result['working_mb'] / a.memory_mb:.2f}x the budget), {seconds:.0f} s"
    )


if __name__ == "__main__":
    main()
