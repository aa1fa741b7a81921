"""reflect evaluate [--checkpoint C] --data D (default model: the bundled one)"""

from __future__ import annotations

import argparse

HELP = "PSNR/SSIM (and face identity) of a model on a paired dataset, against the clean targets"


def add_arguments(p: argparse.ArgumentParser) -> None:
    from reflect.commands.translate import add_model_argument

    add_model_argument(
        p, "checkpoint file, run folder or generator file (.safetensors)", first="--checkpoint"
    )
    p.add_argument(
        "--data",
        required=True,
        help="paired dataset root (ROOT/<split>/input, target), e.g. from reflect synth",
    )
    p.add_argument("--split", default="test", help="which split (default test)")
    p.add_argument("--limit", type=int, default=0, help="evaluate the first N pairs only (0: all)")
    p.add_argument(
        "--identity",
        action="store_true",
        help="also face-identity similarity to the target (MTCNN + torch port of dlib's ResNet)",
    )
    p.add_argument("--target", help="multi-domain variants: the target domain (default: the clean one)")
    p.add_argument("--device", default="cpu", help="cpu or cuda (default cpu)")
    p.add_argument("--json", help="write the results here as JSON")


def run(args: argparse.Namespace) -> int:
    import json
    import logging
    import math
    import statistics
    from pathlib import Path

    from tqdm import tqdm

    from reflect.data.io import list_images, read_image
    from reflect.errors import ConfigError, ImageReadError
    from reflect.inference import translate_image
    from reflect.loader import identify, load_variant, require_torch
    from reflect.metrics import psnr, ssim
    from reflect.utils.atomic import atomic_write_text

    log = logging.getLogger("reflect.evaluate")
    root = Path(args.data) / args.split
    inputs = list_images(root / "input") if (root / "input").is_dir() else []
    if not inputs:
        raise ConfigError(
            f"{root}/input holds no images: --data must be a paired dataset (ROOT/<split>/input, target)"
        )
    if args.limit:
        inputs = inputs[: args.limit]
    domains: dict[str, str] = {}
    manifest = root / "manifest.jsonl"
    if manifest.is_file():
        for line in manifest.read_text().splitlines():
            if line.strip():
                rec = json.loads(line)
                domains[rec.get("name", "")] = rec.get("domain", "")
    ref = identify(args.model, "--checkpoint")
    require_torch(ref, "reflect evaluate")
    model = str(ref.run or ref.path)
    variant, _ = load_variant(ref, device=args.device)
    scorer = None
    if args.identity:
        from reflect.metrics.identity import IdentityScorer

        scorer = IdentityScorer()
    rows = []
    for path in tqdm(inputs, desc="evaluate", unit="img"):
        tpath = root / "target" / path.name
        try:
            x, t = read_image(path), read_image(tpath)
        except ImageReadError as e:
            log.error("%s (pair skipped)", e)
            continue
        if x.shape != t.shape:
            log.error("%s and %s differ in size (pair skipped)", path, tpath)
            continue
        y = translate_image(variant, x, target=args.target, device=args.device)
        row = {
            "name": path.name,
            "domain": domains.get(path.name, ""),
            "psnr_in": psnr(x, t),
            "psnr_out": psnr(y, t),
            "ssim_in": ssim(x, t),
            "ssim_out": ssim(y, t),
        }
        if scorer is not None:
            sims = scorer.score(t, {"in": x, "out": y})
            if sims is not None:
                row |= {"identity_in": sims["in"], "identity_out": sims["out"]}
        rows.append(row)
    if not rows:
        raise ConfigError(f"no readable pairs in {root}")

    def mean(key: str, sel: list[dict[str, float | str]]) -> float:
        vals = [float(r[key]) for r in sel if key in r and math.isfinite(float(r[key]))]
        return statistics.fmean(vals) if vals else float("nan")

    groups = {"all": rows} | {
        d: [r for r in rows if r["domain"] == d] for d in sorted({str(r["domain"]) for r in rows}) if d
    }
    keys = ["psnr_in", "psnr_out", "ssim_in", "ssim_out"] + (
        ["identity_in", "identity_out"] if scorer else []
    )
    summary = {g: {"n": len(sel), **{k: mean(k, sel) for k in keys}} for g, sel in groups.items()}
    print(f"{'set':<14}{'n':>5}" + "".join(f"{k:>14}" for k in keys))
    for g, s in summary.items():
        print(f"{g:<14}{s['n']:>5}" + "".join(f"{s[k]:>14.4f}" for k in keys))
    print("*_in: the glass input against the clean target (no cleaning); *_out: after cleaning")
    if args.json:
        atomic_write_text(
            args.json,
            json.dumps(
                {"checkpoint": model, "data": str(root), "summary": summary, "per_image": rows}, indent=1
            ),
        )
    return 0
