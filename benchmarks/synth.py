"""Synthesis throughput: samples/s at 256x256, rendering only and rendering + writing PNGs.

    .venv/bin/python benchmarks/synth.py [--count 1000] [--faces ../shared/data/faces] [--json out.json]

Faces: the real photos when the folder exists (detected once), otherwise drawn faces. Prints a
table (median of --repeats runs) and writes JSON. Target: >= 50 samples/s on 2 cores.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> int:
    from reflect.utils.paths import shared_data

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--count", type=int, default=1000)  # enough to amortise worker start-up (~2 s)
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--faces", default=str(shared_data("faces")))
    ap.add_argument("--json", default="benchmarks/synth.json")
    args = ap.parse_args()

    import cv2

    from data_tools.synth.run import synthesize
    from reflect.data.synth.config import synth_config_from_dict
    from reflect.data.synth.generator import Synthesizer

    cfg = synth_config_from_dict({"size": args.size})
    tmp = Path(tempfile.mkdtemp(prefix="synth-bench-"))
    if Path(args.faces).is_dir():
        from reflect.data.synth.faces import load_face_bank

        faces, kind = load_face_bank(args.faces, cache=tmp / "faces_index.json"), "real photos"
    else:
        from tests.data_tools.conftest import fake_face

        faces, kind = [fake_face(n, k) for k, n in enumerate("abcdef")], "drawn faces"
    cores = len(os.sched_getaffinity(0))
    rows = []

    cv2.setNumThreads(1)
    synth = Synthesizer(cfg)
    synth.render(0, faces[0])  # load the reflection photos
    times = []
    for _ in range(args.repeats):
        t = time.perf_counter()
        for i in range(args.count):
            synth.render(i, faces[i % len(faces)], faces[(i + 1) % len(faces)] if i % 3 == 0 else None)
        times.append(time.perf_counter() - t)
    rows.append(("render only, 1 process", args.count / statistics.median(times)))
    for workers in sorted({1, cores}):
        times = []
        for r in range(args.repeats):
            t = time.perf_counter()
            synthesize(faces, tmp / f"w{workers}_{r}", args.count, cfg, workers=workers, progress=False)
            times.append(time.perf_counter() - t)
        rows.append((f"render + write PNG, {workers} worker(s)", args.count / statistics.median(times)))

    print(
        f"synthesis at {args.size}x{args.size}, {args.count} samples, {kind}, {cores} cores, median of {args.repeats}"
    )
    print(f"{'setting':<36} {'samples/s':>10}")
    for name, rate in rows:
        print(f"{name:<36} {rate:>10.1f}")
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(
        json.dumps(
            {
                "size": args.size,
                "count": args.count,
                "faces": kind,
                "cores": cores,
                "samples_per_s": dict(rows),
            },
            indent=1,
        )
        + "\n"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
