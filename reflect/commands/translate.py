"""reflect translate [--checkpoint C] --input FILE|DIR --output DIR (default model: the bundled one)"""

from __future__ import annotations

import argparse
import logging
from typing import Any

HELP = "translate image files or folders with the bundled model or a checkpoint (output keeps size and name)"
log = logging.getLogger(__name__)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--checkpoint", "--model", dest="checkpoint",
                   help="checkpoint file, run folder (newest checkpoint) or generator file (.safetensors); "
                   "default: the bundled model")
    p.add_argument("--input", required=True, help="an image file or a folder of images")
    p.add_argument("--output", required=True, help="output folder")
    p.add_argument("--direction", choices=["a2b", "b2a"], default="a2b",
                   help="two-domain variants: a2b removes reflections (default), b2a adds them")
    p.add_argument("--target", help="multi-domain variants: the target domain name (default: the model's "
                   "default target, clean for stargan and drit)")
    p.add_argument("--tile", type=int, default=0, help="translate in overlapping N x N tiles (large frames)")
    p.add_argument("--device", default="cpu", help="cpu or cuda")
    add_face_arguments(p)
    p.add_argument("--no-ema", action="store_true", help="use the raw generator, not its EMA weights")


def add_face_arguments(p: argparse.ArgumentParser) -> None:
    """--enhance-faces and its options (translate, clean and stream share them)."""
    p.add_argument("--enhance-faces", action="store_true",
                   help="clean every face again with the face model at its aligned scale and blend it back")
    p.add_argument("--face-model", help="face model for --enhance-faces (default: the bundled one)")
    p.add_argument("--face-detector", default="mtcnn", choices=["mtcnn", "retinaface", "dlib-hog"],
                   help="detector for --enhance-faces (run on the globally cleaned image)")


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from tqdm import tqdm

    from reflect.bundled import is_generator_file, model_or_bundled
    from reflect.checkpoint import load_variant
    from reflect.data.io import is_image_file, list_images, read_image, write_image
    from reflect.errors import ConfigError, ImageReadError
    from reflect.inference import translate_image

    src = Path(args.input)
    if src.is_dir():
        files = list_images(src, recursive=True)
        if not files:
            raise ConfigError(f"input folder {src} holds no images")
    elif src.is_file():
        if not is_image_file(src):
            raise ConfigError(f"input {src} is not an image file (known extensions: .png .jpg ...)")
        files = [src]
    else:
        raise ConfigError(f"input {src} does not exist")
    model = model_or_bundled(args.checkpoint, "--checkpoint")
    if args.no_ema and is_generator_file(model):
        log.warning("--no-ema has no effect on %s: a generator file holds one set of weights", model)
    variant, _ = load_variant(model, use_ema=not args.no_ema, device=args.device)
    domains = tuple(variant.domains)
    if args.target is not None and args.target not in domains:
        raise ConfigError(f"unknown target domain '{args.target}'; valid: {', '.join(domains)}")
    if len(domains) > 2 and args.direction != "a2b" and args.target is None:
        raise ConfigError(f"--direction is for two-domain models; pick a target with --target ({', '.join(domains)})")
    target = args.target or (None if args.direction == "a2b" else domains[0])
    enhancer = None
    if args.enhance_faces:
        from reflect.faces.enhance import EnhanceStats, FaceEnhancer

        enhancer, stats = FaceEnhancer.load(args.face_model, detector=args.face_detector, device=args.device), EnhanceStats()
    out_dir = Path(args.output)
    failed: list[str] = []
    for f in tqdm(files, desc="translate", unit="img", disable=len(files) < 2):
        rel = f.relative_to(src) if src.is_dir() else Path(f.name)
        try:
            image = read_image(f)
        except ImageReadError as e:
            if len(files) == 1:
                raise
            log.error("%s", e)
            failed.append(str(f))
            continue
        result = translate_image(variant, image, target=target, tile=args.tile, device=args.device)
        if enhancer is not None:
            result = enhance_image(enhancer, image, result, stats)
        write_image(out_dir / rel, result)
    done = len(files) - len(failed)
    print(f"translated {done} of {len(files)} images into {out_dir}")
    if enhancer is not None:
        print(f"faces: {stats.enhanced} enhanced, {stats.too_small} too small, in {sum(1 for n in stats.per_image if n)} "
              f"of {len(stats.per_image)} images")
    if failed:
        raise ImageReadError(failed[0], f"{len(failed)} unreadable file(s); first one named, all listed above")
    return 0


def enhance_image(enhancer: Any, image: Any, cleaned: Any, stats: Any) -> Any:
    """One uint8 image and its global clean -> the clean with every face enhanced (``stats`` updated)."""
    from reflect.data.io import to_image, to_tensor

    out, st = enhancer.enhance(to_tensor(image)[None], to_tensor(cleaned)[None])
    stats.add(st)
    return to_image(out[0])
