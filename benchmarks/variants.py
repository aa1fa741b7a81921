"""Every registered variant side by side at its reference configuration (the Config defaults).

Prints one table and writes JSON: parameters (the A->B translator, i.e. the modules
``translate`` runs; the generator and discriminator param groups; everything), MACs of one
translation, seconds per training iteration (the real trainer's ``train_step``: discriminator and
generator updates) and seconds per translation, each the median of ``--iters`` timed runs after
one warm-up.

    .venv/bin/python benchmarks/variants.py                       # 256 px, CPU
    .venv/bin/python benchmarks/variants.py --device cuda --iters 20 --json out.json
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import nn

from reflect import registry
from reflect.config import build_config
from reflect.data.datasets import build_dataset
from reflect.train.trainer import Trainer
from reflect.utils.atomic import atomic_write_text
from reflect.utils.flops import count_flops, count_params
from reflect.variants.base import Variant

# Published generator sizes, for the "reference" column (None: no figure to compare with).
REFERENCE_M = {
    "cyclegan": 11.378,
    "nicegan": 8.1,
    "unit": 11.1,
    "discogan": None,
    "pggan": None,
    "stargan": 8.43,
    "dunit": None,
}


def model_overrides(name: str, size: int) -> dict[str, Any]:
    """Config changes a variant needs to be measured at ``size``: PG-GAN trains at its final
    resolution, fully grown (no schedule), so its training iteration is the one that costs most."""
    if name == "pggan":
        return {"resolution": size, "stabilise_steps": 0, "fade_steps": 0}
    return {}


def translate_fn(model: Variant, x: torch.Tensor) -> Callable[[], torch.Tensor]:
    """One A -> B translation; instance-aware variants (dunit) get ``max_instances`` face boxes of a
    quarter of the frame each (the detector is not part of the generator and is not timed)."""
    slots = int(getattr(model.cfg, "max_instances", 0))
    if not slots:
        return lambda: model.translate(x)
    n, h, w = x.shape[0], x.shape[-2], x.shape[-1]
    box = torch.tensor([w * 0.3, h * 0.25, w * 0.55, h * 0.5], device=x.device)
    boxes = torch.stack(
        [box + torch.tensor([w * 0.2 * k, 0, w * 0.2 * k, 0], device=x.device) for k in range(slots)]
    )
    count = torch.full((n,), slots, dtype=torch.long, device=x.device)
    return lambda: model.translate(x, boxes=boxes.expand(n, -1, -1), count=count)  # type: ignore[call-arg]


def translator_params(model: Variant, x: torch.Tensor) -> int:
    """Parameters of the modules that ``model.translate(x)`` runs (A -> B), each counted once."""
    run = translate_fn(model, x)
    ran: list[nn.Module] = []
    hooks = [m.register_forward_hook(lambda m, i, o: ran.append(m)) for m in model.modules()]
    try:
        with torch.no_grad():
            run()
    finally:
        for h in hooks:
            h.remove()
    params = {id(p): p.numel() for m in ran for p in m.parameters(recurse=False)}
    return sum(params.values())


def median_seconds(fn: Callable[[], object], iters: int, device: torch.device) -> float:
    def sync() -> None:
        if device.type == "cuda":
            torch.cuda.synchronize(device)

    fn()  # warm-up
    sync()
    times = []
    for _ in range(iters):
        t0 = time.perf_counter()
        fn()
        sync()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def measure(name: str, size: int, iters: int, device: str, out_dir: Path) -> dict[str, Any]:
    cfg = build_config(
        {
            "name": name,
            "out_dir": str(out_dir),
            "model": {"variant": name, **model_overrides(name, size)},
            "data": {"kind": "toy", "load_size": size, "crop_size": size, "num_workers": 0, "max_images": 4},
            "train": {"progress": False, "tensorboard": False, "device": device, "sample_every": 0},
        }
    )
    trainer = Trainer(cfg)
    model, dev = trainer.model, trainer.device
    sample = build_dataset(cfg.data, cfg.seed)[0]
    batch = {k: v.unsqueeze(0) if torch.is_tensor(v) else v for k, v in sample.items()}
    groups = model.param_groups()
    d_params = [p for g in model.discriminator_groups for p in groups.get(g, [])]
    g_params = [p for g, ps in groups.items() if g not in model.discriminator_groups for p in ps]
    x = torch.rand(1, 3, size, size, device=dev) * 2 - 1

    model.eval()
    n_translator = translator_params(model, x)
    macs = count_flops(translate_fn(model, x)) // 2
    with torch.no_grad():
        t_translate = median_seconds(translate_fn(model, x), iters, dev)
    t_train = median_seconds(lambda: trainer.train_step(batch), iters, dev)
    return {
        "variant": name,
        "translator_params": n_translator,
        "generator_params": sum(p.numel() for p in g_params),
        "discriminator_params": sum(p.numel() for p in d_params),
        "total_params": count_params(model),
        "reference_generator_M": REFERENCE_M.get(name),
        "translate_gmacs": macs / 1e9,
        "s_per_train_iter": t_train,
        "s_per_translation": t_translate,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--variants", nargs="*", default=None, help="default: every registered variant")
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--iters", type=int, default=3)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, default=0, help="torch intra-op threads (0: torch's default)")
    ap.add_argument("--json", default="benchmarks/results/variants.json")
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    names = args.variants or registry.names()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in names:
            rows.append(measure(name, args.size, args.iters, args.device, Path(tmp)))
            print(f"measured {name}", flush=True)
    machine = (
        torch.cuda.get_device_name() if args.device.startswith("cuda") else platform.processor() or "cpu"
    )
    header = f"{'variant':<10} {'translator':>11} {'ref. G':>7} {'G group':>9} {'D group':>9} {'total':>9} {'GMACs':>7} {'s/iter':>8} {'s/transl':>9}"
    print(
        f"\n{args.size}x{args.size}, batch 1, {args.device} ({machine}, {torch.get_num_threads()} threads), median of {args.iters}"
    )
    print(header)
    for r in rows:
        ref = f"{r['reference_generator_M']:.3f}M" if r["reference_generator_M"] else "-"
        print(
            f"{r['variant']:<10} {r['translator_params'] / 1e6:>10.3f}M {ref:>7} {r['generator_params'] / 1e6:>8.2f}M "
            f"{r['discriminator_params'] / 1e6:>8.2f}M {r['total_params'] / 1e6:>8.2f}M {r['translate_gmacs']:>7.2f} "
            f"{r['s_per_train_iter']:>8.3f} {r['s_per_translation']:>9.4f}"
        )
    meta = {
        "size": args.size,
        "iters": args.iters,
        "device": args.device,
        "machine": machine,
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
    }
    atomic_write_text(args.json, json.dumps({"meta": meta, "rows": rows}, indent=2))
    print(f"\nwrote {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
