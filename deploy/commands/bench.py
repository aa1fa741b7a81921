"""reflect bench [--model M] --backend torch|onnxruntime|tensorrt --size HxW --batch N"""

from __future__ import annotations

import argparse

HELP = "measure latency (median, p99) and throughput of a model on one or more backends"


def add_arguments(p: argparse.ArgumentParser) -> None:
    from reflect.commands.translate import add_model_argument

    add_model_argument(
        p,
        "checkpoint / run folder, generator file (.safetensors), .onnx, .engine, or a "
        "registered variant name (random weights)",
    )
    p.add_argument(
        "--backend",
        default="auto",
        help="torch, onnxruntime, tensorrt, or a comma-separated list (default: by file type)",
    )
    p.add_argument("--size", default="256x256", help="frame size HxW (default 256x256)")
    p.add_argument("--batch", type=int, default=1, help="frames per batch (default 1)")
    p.add_argument("--warmup", type=int, default=3, help="untimed runs first (default 3)")
    p.add_argument("--iters", type=int, default=20, help="timed runs (default 20)")
    p.add_argument("--device", default="cpu", help="cpu or cuda")
    p.add_argument("--target", help="target domain (multi-domain models)")
    p.add_argument("--threads", type=int, default=0, help="onnxruntime intra-op threads (0: all cores)")
    p.add_argument("--channels-last", action="store_true", help="torch: channels_last memory format")
    p.add_argument("--compile", action="store_true", help="torch: torch.compile the generator")
    p.add_argument("--json", help="write the results as JSON to this file ('-' prints them)")


def run(args: argparse.Namespace) -> int:
    import json
    import sys
    import tempfile

    from deploy.bench import RESULT_COLUMNS, benchmark, format_table, parse_size, result_rows
    from deploy.loader import load_translator
    from reflect.bundled import model_or_bundled
    from reflect.utils.atomic import atomic_write_text

    h, w = parse_size(args.size)
    model = model_or_bundled(args.model)
    backends = [b.strip() for b in args.backend.split(",") if b.strip()]
    results = []
    with tempfile.TemporaryDirectory(prefix="reflect-bench-") as tmp:
        for backend in backends:
            translator = load_translator(
                model,
                backend,
                target=args.target,
                device=args.device,
                workdir=tmp,
                variant_names=True,
                threads=args.threads,
                channels_last=args.channels_last,
                compile=args.compile,
            )
            results.append(
                benchmark(
                    translator,
                    height=h,
                    width=w,
                    batch=args.batch,
                    warmup=args.warmup,
                    iters=args.iters,
                    device=args.device,
                )
            )
    rows = result_rows(results)
    payload = json.dumps({"model": model, "results": [r.to_dict() for r in results]}, indent=2, default=str)
    if args.json == "-":
        print(payload)
        return 0
    print(f"{model}: warm-up {args.warmup}, {args.iters} timed runs")
    print(format_table(rows, RESULT_COLUMNS))
    if args.json:
        atomic_write_text(args.json, payload)
        print(f"wrote {args.json}", file=sys.stderr)
    return 0
