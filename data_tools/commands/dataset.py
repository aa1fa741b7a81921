"""reflect dataset build --footage DIR --out DIR [--roi FILE] [--labels FILE] ..."""

from __future__ import annotations

import argparse

HELP = (
    "datasets from real footage: 'reflect dataset build --footage D --out D' (window crops, splits by source)"
)


def add_arguments(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="dataset_command", metavar="ACTION", required=True)
    b = sub.add_parser(
        "build",
        help="window crops from videos/images -> trainA/trainB/testA/testB + report",
        description="Frames from videos (every Nth or on scene change), window crops from a "
        "per-camera ROI file or around detected faces, near-duplicate removal, splits by "
        "camera or video, a reflection score proposing A/B (override with --labels).",
    )
    b.add_argument("--footage", required=True, help="folder of videos and/or images (searched recursively)")
    b.add_argument("--out", required=True, help="output dataset folder")
    b.add_argument(
        "--roi", metavar="FILE", help="per-camera ROI YAML; without it, crops are centred on faces"
    )
    b.add_argument("--every", type=int, default=10, help="take every Nth frame (default 10)")
    b.add_argument(
        "--scene-threshold",
        type=float,
        default=0.0,
        help="instead of every Nth: take a frame when it differs from the last taken by more "
        "than this (mean abs difference of thumbnails, 0..1; e.g. 0.05)",
    )
    b.add_argument("--margin", type=float, default=0.6, help="face crops: margin per side, in face sizes")
    b.add_argument("--size", type=int, default=256, help="shorter side of the written crops")
    b.add_argument(
        "--split-by", choices=["camera", "video"], default="camera", help="what never crosses splits"
    )
    b.add_argument("--test-fraction", type=float, default=0.2, help="fraction of sources in test")
    b.add_argument(
        "--seed",
        type=int,
        default=0,
        help="seed of the train/val/test split by camera and video (default 0): the same seed, the same split",
    )
    b.add_argument("--dedup-distance", type=int, default=4, help="perceptual-hash bits for a near-duplicate")
    b.add_argument(
        "--labels", metavar="FILE", help="A/B/drop labels overriding the proposal (crops.csv works)"
    )
    b.add_argument("--threshold", type=float, help="reflection-score threshold for A (default: the median)")
    b.add_argument("--no-progress", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    from data_tools.footage.builder import BuildOptions, build_dataset
    from reflect.errors import ConfigError

    if args.every < 1:
        raise ConfigError(f"--every must be at least 1, got {args.every}")
    if not 0 <= args.test_fraction < 1:
        raise ConfigError(f"--test-fraction must be in [0, 1), got {args.test_fraction}")
    report = build_dataset(
        BuildOptions(
            footage=args.footage,
            out=args.out,
            roi=args.roi,
            every=args.every,
            scene_threshold=args.scene_threshold,
            margin=args.margin,
            size=args.size,
            split_by=args.split_by,
            test_fraction=args.test_fraction,
            seed=args.seed,
            dedup_distance=args.dedup_distance,
            labels=args.labels,
            threshold=args.threshold,
            progress=not args.no_progress,
        )
    )
    counts = ", ".join(f"{k} {v}" for k, v in sorted(report["counts"].items())) or "none"
    print(
        f"{report['crops']} crops from {report['files'] - len(report['bad']) - len(report['skipped'])} of "
        f"{report['files']} files into {args.out} ({counts}); {report['duplicates_dropped']} near-duplicates dropped"
    )
    for b in report["bad"]:
        print(f"bad: {b['file']}: {b['reason']}")
    for s in report["skipped"]:
        print(f"skipped: {s['file']}: {s['reason']}")
    print(f"report: {args.out}/report.json; labels to review: {args.out}/crops.csv")
    return 0
