"""reflect export [--checkpoint C] --format onnx|tensorrt|safetensors --out F [--fp16 | --int8 --calib D]"""

from __future__ import annotations

import argparse

HELP = (
    "export a trained generator to ONNX (with a torch parity check), a TensorRT engine, or a "
    "generator file (.safetensors, the bundled model's format)"
)
FORMATS = ("onnx", "tensorrt", "safetensors", "generator")  # generator: another name for safetensors


def _shape3(text: str) -> tuple[int, int, int]:
    try:
        b, h, w = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not BATCHxHEIGHTxWIDTH (e.g. 1x256x256)") from None
    return b, h, w


def add_arguments(p: argparse.ArgumentParser) -> None:
    from reflect.commands.translate import add_model_argument

    add_model_argument(
        p,
        "checkpoint file, run folder (newest checkpoint) or generator file (.safetensors)",
        first="--checkpoint",
    )
    p.add_argument(
        "--format",
        choices=FORMATS,
        default="onnx",
        help="artefact to write (default onnx); safetensors (alias generator): the generator weights "
        "(EMA when the run kept them) and the config, loadable anywhere a checkpoint is",
    )
    p.add_argument("--out", required=True, help="output file (.onnx, .engine for tensorrt, .safetensors)")
    p.add_argument(
        "--target",
        help="export one direction / target domain (multi-domain variants default to "
        "a graph with a target_index input; two-domain ones translate A->B)",
    )
    p.add_argument("--opset", type=int, default=18, help="ONNX opset (17 or newer; default 18)")
    p.add_argument(
        "--tolerance", type=float, default=1e-4, help="largest allowed |torch - onnxruntime| (1e-4)"
    )
    p.add_argument("--no-ema", action="store_true", help="export the raw generator, not its EMA weights")
    p.add_argument(
        "--meta",
        action="append",
        metavar="KEY=VALUE",
        help="safetensors: extra metadata to store in the file (repeatable)",
    )
    g = p.add_argument_group("tensorrt")
    prec = g.add_mutually_exclusive_group()
    prec.add_argument("--fp16", action="store_true", help="FP16 engine (the default for tensorrt)")
    prec.add_argument("--int8", action="store_true", help="INT8 engine calibrated on --calib crops")
    prec.add_argument("--fp32", action="store_true", help="FP32 engine")
    g.add_argument("--calib", help="folder of real window crops for INT8 calibration")
    g.add_argument("--calib-cache", help="calibration cache file (read when present, written otherwise)")
    g.add_argument(
        "--fp16-layers",
        nargs="*",
        default=None,
        help="INT8: layers kept in FP16: @first_conv @last_conv @norm or name patterns (default: all three roles)",
    )
    g.add_argument("--min-shape", type=_shape3, default=(1, 64, 64), help="profile minimum NxHxW (1x64x64)")
    g.add_argument(
        "--opt-shape", type=_shape3, default=(1, 256, 256), help="profile optimum NxHxW (1x256x256)"
    )
    g.add_argument(
        "--max-shape", type=_shape3, default=(4, 1024, 1024), help="profile maximum NxHxW (4x1024x1024)"
    )
    g.add_argument("--workspace-mb", type=int, default=4096, help="builder workspace in MiB")
    g.add_argument("--cache-dir", help="engine cache folder (default ~/.cache/reflect/tensorrt)")
    g.add_argument("--device", default="cuda", help="GPU to build for (cuda or cuda:N)")


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from deploy.export import export_checkpoint
    from reflect.bundled import model_or_bundled
    from reflect.errors import ConfigError

    if args.meta and args.format not in ("safetensors", "generator"):
        raise ConfigError("--meta is for --format safetensors; ONNX files get their metadata from the model")
    from reflect.utils.paths import writable_folder

    model = model_or_bundled(args.model, "--checkpoint")
    out = Path(args.out)
    if out.is_dir():
        raise ConfigError(f"--out {out} is a folder; give a file name (e.g. {out / 'model.onnx'})")
    writable_folder(out.parent, "--out folder")  # a read-only folder or a path under a file: one line, first
    if args.format in ("safetensors", "generator"):
        from deploy.model_file import export_generator_file, parse_meta

        path, meta = export_generator_file(model, out, use_ema=not args.no_ema, meta=parse_meta(args.meta))
        size = path.stat().st_size / 2**20
        print(
            f"exported {path} ({meta['variant']}, EMA {meta['ema']}, from {meta['checkpoint']} "
            f"step {meta['step'] or '?'}, {size:.1f} MiB)"
        )
        return 0
    spec = None
    if args.format == "tensorrt":
        from deploy.engine_cache import DEFAULT_FP16_LAYERS, EngineSpec
        from deploy.tensorrt import gpu_name, import_tensorrt

        precision = "int8" if args.int8 else "fp32" if args.fp32 else "fp16"
        spec = EngineSpec(
            precision=precision,
            min_shape=args.min_shape,
            opt_shape=args.opt_shape,
            max_shape=args.max_shape,
            fp16_layers=tuple(args.fp16_layers) if args.fp16_layers is not None else DEFAULT_FP16_LAYERS,
            workspace_mb=args.workspace_mb,
            calib_dir=args.calib or "",
            calib_cache=args.calib_cache or "",
        )
        spec.validate()
        import_tensorrt()  # fail before the (slow) ONNX export when TensorRT or the GPU is missing
        gpu_name(args.device)
        onnx_out = out.with_suffix(".onnx")
    else:
        onnx_out = out
    result = export_checkpoint(
        model,
        onnx_out,
        target=args.target,
        use_ema=not args.no_ema,
        opset=args.opset,
        tolerance=args.tolerance,
    )
    meta = result.metadata
    print(
        f"exported {result.path} ({meta['variant']}, opset {meta['opset']}, EMA {meta['ema']}, "
        f"{result.nodes_before} -> {result.nodes_after} nodes after simplification)"
    )
    diffs = ", ".join(f"{k}: {v:.2e}" for k, v in result.parity.items())
    print(f"parity torch vs onnxruntime, max |diff|: {diffs} (tolerance {result.tolerance:g}) OK")
    if spec is not None:
        from deploy.tensorrt import EngineCache, export_engine

        engine = export_engine(onnx_out, out, spec, cache=EngineCache(args.cache_dir), device=args.device)
        print(f"TensorRT {spec.precision} engine {engine} (profile {spec.min_shape}..{spec.max_shape})")
    return 0
