"""reflect faces eval --gallery DIR --probes DIR [--cleaned DIR] --report DIR"""

from __future__ import annotations

import argparse

HELP = "face recognition before vs after cleaning: detection, similarity, ROC/EER, rank-1/5, HTML report"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--gallery", required=True, help="clean reference faces: GALLERY/<identity>/*.jpg")
    p.add_argument("--probes", required=True, help="faces seen through the glass: PROBES/<identity>/*.jpg")
    p.add_argument("--cleaned", help="the same probes after cleaning (same relative paths)")
    p.add_argument("--report", required=True, help="output folder: report.html, metrics.json, roc.png")
    p.add_argument("--identities", help="CSV with columns path,identity instead of identity folders")
    p.add_argument(
        "--embedder",
        choices=["dlib-torch", "dlib", "facenet"],
        default="dlib-torch",
        help="torch port of dlib's ResNet (default), dlib itself, or facenet (needs --embedder-weights)",
    )
    p.add_argument(
        "--detector",
        choices=["dlib-hog", "dlib-cnn", "mtcnn", "retinaface"],
        default="dlib-hog",
        help="face detector (default dlib-hog)",
    )
    p.add_argument("--embedder-weights", help="weights file for --embedder facenet (never downloaded)")


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from pipelines.face_eval.evaluate import run_face_eval

    res = run_face_eval(
        args.gallery,
        args.probes,
        args.report,
        cleaned=args.cleaned,
        identities=args.identities,
        embedder=args.embedder,
        detector=args.detector,
        embedder_weights=args.embedder_weights,
    )
    for name in ("probes", "cleaned"):
        if name in res:
            r = res[name]
            print(
                f"{name}: detected {r['detection_rate']:.2f}, identity similarity {r['identity_similarity']:.3f}, "
                f"EER {r['eer'] if r['eer'] is None else round(r['eer'], 3)}, rank-1 {r['rank1']:.2f}, "
                f"rank-5 {r['rank5']:.2f}"
            )
    print(f"report: {Path(args.report) / 'report.html'}")
    return 0
