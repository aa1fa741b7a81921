"""Pipeline throughput on this machine: batch cleaning vs pure translation, and the stream processor.

    .venv/bin/python benchmarks/pipelines.py [--model RUN_DIR] [--frames 24] [--repeats 3] [--json out.json]
        [--bound-ms 500] [--overload-seconds 20]

* batch: frames/s of ``reflect clean`` with 1 and 2 decoder processes on 640x360 frames (a video plus
  stills), and its ratio to the pure ``Translator.translate`` throughput of the same backend and batch
  size (1.0 = decoding and encoding fully hidden behind inference);
* stream: end-to-end fps and latency p50/p99 at 640x360, from a file (no drops) and from a live
  synthetic source at 15 fps (drops under overload);
* stream under 2x overload: a live synthetic source at twice the measured throughput (the larger of
  the stream's file fps and the pure translation fps), ``--max-latency-ms`` = ``--bound-ms``, written to
  an mp4: latency p50/p99/max over every frame written (capture to write), printed next to the bound,
  with the frames dropped as late and by full queues.

Without ``--model`` it trains the lightest model (configs/smoke.yaml: CycleGAN ngf 8, 2 res-blocks,
2 steps; weights do not matter for speed) in a subprocess. Medians of ``--repeats`` runs.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
W, H = 640, 360


def make_inputs(folder: Path, frames: int) -> None:
    rng = np.random.default_rng(0)
    base = cv2.resize(
        rng.integers(0, 255, (45, 80, 3), dtype=np.uint8), (W, H), interpolation=cv2.INTER_CUBIC
    )
    (folder / "cam").mkdir(parents=True)
    writer = cv2.VideoWriter(str(folder / "cam" / "clip.avi"), cv2.VideoWriter.fourcc(*"MJPG"), 25, (W, H))
    for i in range(frames // 2):
        writer.write(np.roll(base, 5 * i, axis=1))
    writer.release()
    for i in range(frames - frames // 2):
        cv2.imwrite(str(folder / "cam" / f"still{i:03d}.jpg"), np.roll(base, 7 * i, axis=0))


def bench(
    model: Path, frames: int, repeats: int, batch: int, bound_ms: float, overload_s: float
) -> dict[str, object]:
    from deploy.loader import load_translator
    from pipelines.batch_clean.runner import CleanOptions, run_clean
    from pipelines.stream.pipeline import StreamOptions, StreamPipeline
    from pipelines.stream.sinks import VideoFileSink
    from pipelines.stream.sources import SyntheticSource, open_source

    t = load_translator(model)
    x = np.random.default_rng(1).integers(0, 255, (batch, H, W, 3), dtype=np.uint8)
    t.translate(x)
    pure = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(max(1, frames // batch)):
            t.translate(x)
        pure.append(max(1, frames // batch) * batch / (time.perf_counter() - t0))
    res: dict[str, object] = {"translate_fps": statistics.median(pure)}
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "in"
        make_inputs(src, frames)
        for workers in (1, 2):
            fps = []
            for r in range(repeats):
                s = run_clean(
                    CleanOptions(
                        str(model),
                        str(src),
                        f"{tmp}/out{workers}_{r}",
                        workers=workers,
                        batch=batch,
                        progress=False,
                    )
                )
                fps.append(s.fps)
            res[f"batch_fps_{workers}w"] = statistics.median(fps)
            res[f"batch_over_translate_{workers}w"] = statistics.median(fps) / res["translate_fps"]  # type: ignore[operator]
        video = src / "cam" / "clip.avi"
        runs = [
            StreamPipeline(open_source(str(video)), t, [], StreamOptions(batch=batch)).run()
            for _ in range(repeats)
        ]
        res["stream_file_fps"] = statistics.median(r["frames_out"] / r["uptime_s"] for r in runs)
        res["stream_file_latency_ms"] = {
            q: statistics.median(r["latency_ms"]["end_to_end"][q] for r in runs) for q in ("p50", "p99")
        }
        live = StreamPipeline(
            SyntheticSource(W, H, fps=15, seconds=10), t, [], StreamOptions(batch=batch, max_latency_ms=2000)
        ).run()
        res["stream_live15_fps"] = live["fps"]
        res["stream_live15_dropped"] = f"{live['dropped']}/{live['frames_in']}"
        res["stream_live15_latency_ms"] = live["latency_ms"]["end_to_end"]
        rate = 2 * max(res["stream_file_fps"], res["translate_fps"])  # type: ignore[call-overload]
        log = Path(tmp) / "overload.jsonl"
        over = StreamPipeline(
            SyntheticSource(W, H, fps=rate, seconds=overload_s),
            t,
            [VideoFileSink(Path(tmp) / "overload.mp4", rate)],
            StreamOptions(batch=batch, max_latency_ms=bound_ms),
            results=log,
        ).run()
        lat = np.array([json.loads(x)["latency_ms"] for x in log.read_text().splitlines()])
        res["stream_overload2x"] = {
            "source_fps": round(rate, 2),
            "bound_ms": bound_ms,
            "frames_in": over["frames_in"],
            "frames_out": over["frames_out"],
            "late": over["late"],
            "dropped_by_queues": over["dropped"] - over["late"],
            "out_fps": over["fps"],
            "latency_ms": {
                "p50": round(float(np.percentile(lat, 50)), 1),
                "p99": round(float(np.percentile(lat, 99)), 1),
                "max": round(float(lat.max()), 1),
            }
            if len(lat)
            else None,
        }
    return res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", help="run folder / checkpoint / .onnx (default: train the smoke model)")
    ap.add_argument("--frames", type=int, default=24)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--json", default="benchmarks/pipelines.json")
    ap.add_argument(
        "--bound-ms", type=float, default=500.0, help="the stream's --max-latency-ms under 2x overload"
    )
    ap.add_argument("--overload-seconds", type=float, default=20.0)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        model = Path(args.model) if args.model else None
        if model is None:
            subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "reflect",
                    "train",
                    "configs/smoke.yaml",
                    "train.steps=2",
                    f"out_dir={tmp}",
                    "train.progress=false",
                ],
                check=True,
                cwd=ROOT,
                capture_output=True,
            )
            model = Path(tmp) / "smoke"
        res = bench(model, args.frames, args.repeats, args.batch, args.bound_ms, args.overload_seconds)
    print(
        f"pipelines at {W}x{H}, batch {args.batch}, {args.frames} frames, median of {args.repeats} "
        "(CPU shared with other jobs: noisy)"
    )
    print(f"{'measure':34s} value")
    for k, v in res.items():
        if k != "stream_overload2x":
            print(f"{k:34s} {v if not isinstance(v, float) else round(v, 3)}")
    o: dict = res["stream_overload2x"]  # type: ignore[assignment]
    lat = o["latency_ms"] or {"p50": None, "p99": None, "max": None}
    print(
        f"\nstream under 2x overload ({o['source_fps']} fps in for {args.overload_seconds:g} s, batch {args.batch}, "
        "mp4 sink)"
    )
    print(
        "| latency bound | p99 (capture to write) | p50 | max | frames in | written | late | queue drops | fps out |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    print(
        f"| {o['bound_ms']:g} ms | {lat['p99']} ms | {lat['p50']} ms | {lat['max']} ms | {o['frames_in']} | "
        f"{o['frames_out']} | {o['late']} | {o['dropped_by_queues']} | {o['out_fps']} |"
    )
    Path(args.json).write_text(json.dumps(res, indent=2))
    print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
