"""reflect faces detect|embed|compare FILES... (JSON on stdout), and ``faces eval`` when the
pipelines package provides it (:mod:`pipelines.commands.face_eval`)."""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import json
import logging
import sys
from typing import Any

HELP = (
    "face tools: detect faces, embed them, compare identities (JSON); eval: recognition before/after cleaning"
)
log = logging.getLogger(__name__)
_EVAL_MODULE = "pipelines.commands.face_eval"


def _eval_module() -> Any | None:
    try:
        if importlib.util.find_spec(_EVAL_MODULE) is None:
            return None
    except ModuleNotFoundError:
        return None
    return importlib.import_module(_EVAL_MODULE)


def _common(p: argparse.ArgumentParser, embed: bool) -> None:
    from reflect.faces.detectors import DETECTORS

    p.add_argument("files", nargs="+", metavar="FILE", help="image files")
    p.add_argument(
        "--detector",
        choices=DETECTORS,
        default="dlib-hog",
        help="face detector (default: dlib-hog, as faces eval and clean --detect faces use)",
    )
    p.add_argument("--detector-weights", help="weights file for retinaface (Pytorch_Retinaface .pth)")
    p.add_argument("--min-score", type=float, help="drop detections scoring below this")
    p.add_argument("--device", default="cpu", help="cpu or cuda")
    p.add_argument("--output", help="also write the JSON to this file")
    if embed:
        from reflect.faces.embedders import EMBEDDERS

        p.add_argument(
            "--embedder", choices=EMBEDDERS, default="dlib-torch", help="face embedder (default: dlib-torch)"
        )
        p.add_argument("--embedder-weights", help="weights file for facenet (InceptionResnetV1 state dict)")


def add_arguments(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="faces_command", metavar="SUBCOMMAND", required=True)
    d = sub.add_parser("detect", help="boxes, scores and 5-point landmarks of every face")
    _common(d, embed=False)
    d.set_defaults(_faces_run=_run_detect)
    e = sub.add_parser("embed", help="a unit-length identity vector per face")
    _common(e, embed=True)
    e.add_argument("--largest", action="store_true", help="only the largest face of each image")
    e.set_defaults(_faces_run=_run_embed)
    c = sub.add_parser("compare", help="pairwise identity similarity of the largest face in each file")
    _common(c, embed=True)
    c.set_defaults(_faces_run=_run_compare)
    ev = _eval_module()
    if ev is not None:
        q = sub.add_parser("eval", help=ev.HELP, description=ev.HELP)
        ev.add_arguments(q)
        q.set_defaults(_faces_run=ev.run)


def run(args: argparse.Namespace) -> int:
    return int(args._faces_run(args) or 0)


# ---- implementation ---------------------------------------------------------------------------
def _detector(args: argparse.Namespace) -> Any:
    from reflect.errors import ConfigError
    from reflect.faces.detectors import make_detector

    kw: dict[str, Any] = {"device": args.device}
    if args.min_score is not None:
        kw["min_score"] = args.min_score
    if args.detector == "retinaface":
        kw["weights"] = args.detector_weights
    elif args.detector_weights:
        raise ConfigError(f"--detector-weights is only used by retinaface, not {args.detector}")
    return make_detector(args.detector, **kw)


def _read_all(files: list[str]) -> list[tuple[str, Any]]:
    """(file, image or error message); a single unreadable file is an error."""
    from reflect.data.io import read_image
    from reflect.errors import ImageReadError

    out: list[tuple[str, Any]] = []
    for f in files:
        try:
            out.append((f, read_image(f)))
        except ImageReadError as e:
            if len(files) == 1:
                raise
            log.error("%s", e)
            out.append((f, str(e)))
    return out


def _emit(args: argparse.Namespace, result: Any) -> None:
    text = json.dumps(result, indent=2)
    sys.stdout.write(text + "\n")
    if args.output:
        from reflect.utils.atomic import atomic_write_text

        atomic_write_text(args.output, text + "\n")


def _detect_all(args: argparse.Namespace) -> tuple[list[tuple[str, Any]], list[Any]]:
    images = _read_all(args.files)
    det = _detector(args)
    faces = [det.detect([img])[0] if not isinstance(img, str) else None for _, img in images]
    return images, faces


def _run_detect(args: argparse.Namespace) -> int:
    images, faces = _detect_all(args)
    result = {}
    for (f, img), found in zip(images, faces, strict=True):
        result[f] = (
            {"error": img} if found is None else {"size": list(img.shape[1::-1]), "faces": found.to_json()}
        )
    _emit(args, result)
    return 1 if any(found is None for found in faces) else 0  # some files could not be read (named above)


def _embed_faces(
    args: argparse.Namespace, largest: bool
) -> tuple[list[tuple[str, Any]], list[Any], list[Any]]:
    import torch

    from reflect.data.io import to_tensor
    from reflect.faces.align import align_faces
    from reflect.faces.embedders import make_embedder

    images, faces = _detect_all(args)
    emb = make_embedder(args.embedder, device=args.device, weights=args.embedder_weights)
    vectors: list[Any] = []
    for (_, img), found in zip(images, faces, strict=True):
        if found is None or len(found) == 0:
            vectors.append(None)
            continue
        sel = found.largest() if largest else found
        x = to_tensor(img)[None].to(args.device)
        with torch.no_grad():
            chips = align_faces(
                x,
                sel.landmarks.to(args.device),
                torch.zeros(len(sel), dtype=torch.long),
                layout=sel.layout,
                spec=emb.chip,
            )
            vectors.append((sel, emb.raw(chips).cpu()))
    return images, faces, vectors


def _run_embed(args: argparse.Namespace) -> int:
    import torch.nn.functional as F

    images, faces, vectors = _embed_faces(args, args.largest)
    result: dict[str, Any] = {}
    for (f, img), found, vec in zip(images, faces, vectors, strict=True):
        if found is None:
            result[f] = {"error": img}
        elif vec is None:
            result[f] = {"faces": []}
        else:
            sel, raw = vec
            unit = F.normalize(raw, dim=1)
            result[f] = {
                "embedder": args.embedder,
                "faces": [
                    {**j, "embedding": [round(float(v), 6) for v in unit[i]]}
                    for i, j in enumerate(sel.to_json())
                ],
            }
    _emit(args, result)
    return 1 if any(found is None for found in faces) else 0  # some files could not be read (named above)


def _run_compare(args: argparse.Namespace) -> int:
    import torch.nn.functional as F

    from reflect.errors import ConfigError
    from reflect.faces.embedders import DLIB_THRESHOLD

    if len(args.files) < 2:
        raise ConfigError("compare needs at least two image files")
    images, _, vectors = _embed_faces(args, largest=True)
    names = [f for f, _ in images]
    missing = [f for f, v in zip(names, vectors, strict=True) if v is None]
    pairs = []
    for i in range(len(names)):
        for j in range(i + 1, len(names)):
            if vectors[i] is None or vectors[j] is None:
                continue
            a, b = vectors[i][1][0], vectors[j][1][0]
            pair: dict[str, Any] = {
                "a": names[i],
                "b": names[j],
                "cosine": round(float(F.cosine_similarity(a, b, dim=0)), 4),
            }
            if args.embedder in ("dlib", "dlib-torch"):
                dist = float((a - b).norm())
                pair |= {"distance": round(dist, 4), "same_person": dist < DLIB_THRESHOLD}
            pairs.append(pair)
    _emit(args, {"embedder": args.embedder, "no_face": missing, "pairs": pairs})
    return 0
