"""reflect synth --faces D --out D --count N [--seed S] [--mode color|nir] [--layout L] [k=v ...]"""

from __future__ import annotations

import argparse

HELP = "synthetic windshield data: faces behind reflecting glass (paired, unpaired or multi-domain)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--faces", required=True, help="folder of face photos (identities: sub-folders or file names)"
    )
    p.add_argument("--out", required=True, help="output dataset folder")
    p.add_argument("--count", type=int, required=True, help="number of samples")
    p.add_argument("--seed", type=int, help="random seed (default: the config's, 0)")
    p.add_argument("--mode", choices=["color", "nir"], help="camera mode (default: the config's, color)")
    p.add_argument(
        "--layout", choices=["paired", "unpaired", "multidomain"], help="what to write (default: paired)"
    )
    p.add_argument("--size", type=int, help="output side in pixels (default 256)")
    p.add_argument(
        "--reflections", metavar="DIR", help="folder of photos to reflect (default: scikit-image's)"
    )
    p.add_argument("--config", help="synthesis YAML (e.g. configs/synth.yaml)")
    p.add_argument(
        "overrides", nargs="*", help="key=value overrides, e.g. ghost.probability=1 camera.jpeg=false"
    )
    p.add_argument("--workers", type=int, default=0, help="worker processes (default: one per core)")
    p.add_argument(
        "--contact-sheet",
        type=int,
        default=16,
        metavar="N",
        help="draw the first N samples into OUT/contact_sheet.png (0: none)",
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    import json
    from pathlib import Path

    from data_tools.synth.contact_sheet import contact_sheet
    from data_tools.synth.run import read_manifest, synthesize
    from reflect.data.synth.config import load_synth_config
    from reflect.data.synth.faces import load_face_bank
    from reflect.errors import ConfigError

    if args.count < 1:
        raise ConfigError(f"--count must be at least 1, got {args.count}")
    overrides = list(args.overrides)
    for flag, key in (
        ("seed", "seed"),
        ("mode", "camera.mode"),
        ("layout", "layout"),
        ("size", "size"),
        ("reflections", "reflection.folder"),
    ):
        value = getattr(args, flag)
        if value is not None:
            overrides.append(f"{key}={value}")
    cfg = load_synth_config(args.config, overrides)
    out = Path(args.out)
    faces = load_face_bank(args.faces, cache=out / "faces_index.json")
    summary = synthesize(faces, out, args.count, cfg, workers=args.workers, progress=not args.no_progress)
    if args.contact_sheet > 0:
        records = sorted(
            (r for m in summary["manifests"] for r in read_manifest(out / m)), key=lambda r: r["index"]
        )
        sheet = contact_sheet(out, records[: args.contact_sheet], out / "contact_sheet.png")
        summary["contact_sheet"] = str(sheet)
    groups = ", ".join(f"{g} {n}" for g, n in summary["groups"].items())
    print(
        f"wrote {summary['count']} {cfg.layout} samples to {out} ({groups}); domains: "
        + ", ".join(f"{d} {n}" for d, n in sorted(summary["domains"].items()))
    )
    print(json.dumps({"identities": summary["identities"]}, sort_keys=True))
    return 0
