"""Does the face-instance branch keep identity better? DUNIT vs UNIT on the same budget.

Trains ``unit`` and ``dunit`` with one recipe (same seed, data order, steps, widths; dunit adds only
its instance branch and its instance losses: consistency, instance-level reconstruction and, with
``--sup``, instance-level supervision at the faces) on windshield pairs rendered on the fly from the TRAIN identities of
``--faces``, then translates held-out samples (TEST identities, another seed) and measures the dlib
distance (torch port of dlib's ResNet, Euclidean between 128-d descriptors; dlib's same-person
threshold is 0.6) between each driver's face in the output and in the clean target, at the
synthesiser's boxes. DUNIT gets the synthesiser's boxes at translate time too (no detector).

    .venv/bin/python benchmarks/dunit_identity.py --steps 300 --size 128 --dim 16 --eval 48

``--ablate`` also trains dunit with its instance losses but no fusion (UNIT + instance losses), to tell
what the fusion itself adds. A tiny budget on a CPU says whether the branch helps early in training,
not what a full run reaches.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import torch
from torchvision.ops import roi_align

from reflect.config import build_config
from reflect.data.synthetic import SyntheticDataset
from reflect.faces.embedders import make_embedder
from reflect.train.trainer import Trainer
from reflect.utils.atomic import atomic_write_text
from reflect.utils.paths import shared_data


def recipe(
    variant: str,
    args: argparse.Namespace,
    out_dir: Path,
    split: str,
    seed: int,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    model: dict[str, Any] = {
        "variant": variant,
        "dim": args.dim,
        "ndf": args.dim,
        "n_res": 2,
        "num_scales": 2,
        "n_layers_d": 3,
        "lambda_sup": args.sup,
    }
    if variant == "dunit":
        model |= {
            "face_detector": "none",
            "roi_size": 8,
            "n_inst_res": 1,
            "lambda_inst": args.inst,
            "lambda_inst_rec": args.inst_rec,
            "lambda_inst_sup": args.inst_sup,
        } | (extra or {})
    return {
        "name": f"bench_{variant}",
        "seed": seed,
        "out_dir": str(out_dir),
        "model": model,
        "data": {
            "kind": "synthetic",
            "faces": [args.faces],
            "faces_split": split,
            "load_size": args.size,
            "crop_size": args.size,
            "batch_size": args.batch,
            "num_workers": args.workers,
            "synth": {"size": args.size},
        },
        "train": {
            "steps": args.steps,
            "decay_steps": 0,
            "log_every": 50,
            "sample_every": 0,
            "checkpoint_every": 10**9,
            "progress": False,
            "tensorboard": False,
            "device": "cpu",
            "amp": args.amp,
        },
    }


def face_chips(images: torch.Tensor, boxes: torch.Tensor, side: int, margin: float = 0.15) -> torch.Tensor:
    """Square crops (side x side) around (N, 4) boxes of (N, 3, H, W) images, one box per image."""
    cx, cy = (boxes[:, 0] + boxes[:, 2]) / 2, (boxes[:, 1] + boxes[:, 3]) / 2
    half = torch.maximum(boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]) * (0.5 + margin)
    rois = torch.stack([torch.arange(len(boxes)).float(), cx - half, cy - half, cx + half, cy + half], 1)
    return roi_align(images.float(), rois, (side, side), spatial_scale=1.0, sampling_ratio=2, aligned=True)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--faces", default=str(shared_data("portraits")))
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--size", type=int, default=128)
    ap.add_argument("--dim", type=int, default=16)
    ap.add_argument("--eval", type=int, default=48, help="held-out samples")
    ap.add_argument(
        "--sup",
        type=float,
        default=0.0,
        help="lambda_sup for both (the synthesiser's clean target; 0: unpaired, as the papers)",
    )
    ap.add_argument(
        "--inst", type=float, default=1.0, help="dunit's instance-consistency weight (0: the branch alone)"
    )
    ap.add_argument(
        "--inst-rec", type=float, default=10.0, help="dunit's instance-level reconstruction weight (0: off)"
    )
    ap.add_argument(
        "--inst-sup",
        type=float,
        default=1.0,
        help="dunit's instance-level supervised weight (with --sup > 0; 0: off)",
    )
    ap.add_argument(
        "--ablate",
        action="store_true",
        help="also train dunit without the fusion (its instance losses only: UNIT + instance losses)",
    )
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--workers", type=int, default=0, help="data loader processes (rendering is CPU work)")
    ap.add_argument(
        "--amp", default="none", choices=["none", "bf16"], help="bf16 autocast for both (AMX CPUs)"
    )
    ap.add_argument("--json", default="benchmarks/results/dunit_identity.json")
    args = ap.parse_args(argv)
    embedder = make_embedder("dlib-torch")
    side = int(embedder.chip.size)
    with tempfile.TemporaryDirectory() as tmp:
        held = SyntheticDataset(build_config(recipe("unit", args, Path(tmp), "test", 1234)).data, seed=1234)
        samples = [held[k] for k in range(args.eval)]
        x = torch.stack([s["A"] for s in samples])
        target = torch.stack([s["A_target"] for s in samples])
        boxes = torch.stack([s["faces_box"] for s in samples])
        count = torch.stack([s["faces_n"] for s in samples])
        keep = count > 0
        outputs: dict[str, torch.Tensor] = {"through glass": x}
        seconds: dict[str, float] = {}
        runs: list[tuple[str, str, dict[str, Any]]] = [("unit", "unit", {}), ("dunit", "dunit", {})]
        if args.ablate:
            runs.append(("dunit no fusion", "dunit", {"fuse_instances": False}))
        for name, variant, extra in runs:
            t0 = time.perf_counter()
            trainer = Trainer(
                build_config(recipe(variant, args, Path(tmp) / name.replace(" ", "_"), "train", 0, extra))
            )
            trainer.fit()
            seconds[name] = time.perf_counter() - t0
            model: Any = trainer.model.eval()
            with torch.no_grad():
                kw = {"boxes": boxes, "count": count} if variant == "dunit" else {}
                outputs[name] = torch.cat(
                    [
                        model.translate(x[i : i + 8], **{k: v[i : i + 8] for k, v in kw.items()})
                        for i in range(0, len(x), 8)
                    ]
                )
    driver = boxes[keep, 0]
    with torch.no_grad():
        ref = embedder.raw(face_chips(target[keep], driver, side))
        dist = {
            name: (embedder.raw(face_chips(out[keep].clamp(-1, 1), driver, side)) - ref).norm(dim=1)
            for name, out in outputs.items()
        }
    rows = {
        name: {
            "mean": float(d.mean()),
            "median": float(d.median()),
            "same_person_<0.6": float((d < 0.6).float().mean()),
            "closer_than_unit": float((d < dist["unit"]).float().mean()),
        }
        for name, d in dist.items()
    }
    closer = rows["dunit"]["closer_than_unit"]
    machine = f"{platform.processor() or platform.machine()}, {torch.get_num_threads()} torch threads"
    print(
        f"\ndlib distance to the clean face, {int(keep.sum())} held-out drivers, {args.size}px; "
        f"training {args.steps} steps each, batch {args.batch}, dim {args.dim}, lambda_sup {args.sup}, "
        f"amp {args.amp} ({machine})"
    )
    print(f"{'output':<16} {'mean':>6} {'median':>7} {'< 0.6':>6} {'closer than unit':>17}")
    for name, r in rows.items():
        vs = "" if name in ("unit", "through glass") else f"{r['closer_than_unit']:.0%}"
        print(f"{name:<16} {r['mean']:>6.3f} {r['median']:>7.3f} {r['same_person_<0.6']:>6.0%} {vs:>17}")
    print(
        f"dunit closer than unit on {closer:.0%} of faces; training s: "
        + ", ".join(f"{k} {v:.0f}" for k, v in seconds.items())
    )
    meta = {
        "steps": args.steps,
        "size": args.size,
        "dim": args.dim,
        "eval": args.eval,
        "machine": machine,
        "sup": args.sup,
        "batch": args.batch,
        "amp": args.amp,
        "inst": args.inst,
        "inst_rec": args.inst_rec,
        "inst_sup": args.inst_sup,
        "ablate": args.ablate,
        "train_seconds": seconds,
        "torch": torch.__version__,
    }
    atomic_write_text(
        args.json,
        json.dumps(
            {
                "meta": meta,
                "rows": rows,
                "dunit_closer": closer,
                "median_gap": statistics.median((dist["unit"] - dist["dunit"]).tolist()),
            },
            indent=2,
        ),
    )
    print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
