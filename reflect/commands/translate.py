"""reflect translate [--checkpoint C] --input FILE|DIR --output DIR (default model: the bundled one)"""

from __future__ import annotations

import argparse
import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np

HELP = "translate image files or folders with the bundled model or a checkpoint (output keeps size and name)"
log = logging.getLogger(__name__)
MIN_TILE = 32  # as auto_tile's smallest: a tile must pass the generator's downsampling


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_model_argument(
        p,
        "checkpoint file, run folder (newest checkpoint) or generator file (.safetensors)",
        first="--checkpoint",
    )
    p.add_argument("--input", required=True, help="an image file or a folder of images")
    p.add_argument("--output", required=True, help="output folder")
    p.add_argument(
        "--direction",
        choices=["a2b", "b2a"],
        default="a2b",
        help="two-domain variants: a2b removes reflections (default), b2a adds them",
    )
    p.add_argument(
        "--target",
        help="multi-domain variants: the target domain name (default: the model's "
        "default target, clean for stargan and drit)",
    )
    p.add_argument(
        "--tile",
        type=int,
        default=0,
        help="translate in overlapping N x N tiles, N >= 32 (default 0: whole images, or tiles where "
        "--memory-mb needs them)",
    )
    p.add_argument(
        "--memory-mb",
        type=float,
        default=4096.0,
        help="memory budget of one translation (default 4096): larger images are translated in "
        "overlapping tiles automatically",
    )
    add_work_size_argument(p, "images")
    p.add_argument("--device", default="cpu", help="cpu or cuda")
    add_face_arguments(p)
    add_max_pixels_argument(p)
    p.add_argument("--no-ema", action="store_true", help="use the raw generator, not its EMA weights")


def add_model_argument(p: argparse.ArgumentParser, kinds: str, first: str = "--model") -> None:
    """--model and --checkpoint, one option under two names, into ``args.model`` (every command that runs a
    model shares it): ``kinds`` says what it may name; ``first``, the name usage lines show; none given: the
    bundled model."""
    names = ("--model", "--checkpoint") if first == "--model" else ("--checkpoint", "--model")
    p.add_argument(
        *names, dest="model", metavar=first[2:].upper(), help=f"{kinds}; default: the bundled model"
    )


def add_work_size_argument(p: argparse.ArgumentParser, what: str) -> None:
    """--work-size (translate, clean and stream share it; :mod:`reflect.work_size`)."""
    p.add_argument(
        "--work-size",
        default="auto",
        metavar="auto|0|N",
        help=f"run the model on {what} scaled down to N px on their longer side and add its correction, "
        f"scaled back up, to the full-size {what} (a remover knows only the scale it trained at); default "
        f"auto: the model's training size where its file records it (the bundled model: 256), 0: {what} "
        "at their own size",
    )


def add_max_pixels_argument(p: argparse.ArgumentParser) -> None:
    """--max-pixels (translate, clean and stream share it)."""
    from reflect.data.io import DEFAULT_MAX_PIXELS

    p.add_argument(
        "--max-pixels",
        type=int,
        default=DEFAULT_MAX_PIXELS,
        help=f"images with more pixels are refused as possible decompression bombs (default "
        f"{DEFAULT_MAX_PIXELS:_}, 200 Mpx; a 108 Mpx photo passes): raise it for larger genuine images, "
        "which are translated in tiles within --memory-mb",
    )


def add_face_arguments(p: argparse.ArgumentParser) -> None:
    """--enhance-faces and its options (translate, clean and stream share them)."""
    p.add_argument(
        "--enhance-faces",
        action="store_true",
        help="clean every face again with the face model at its aligned scale and blend it back",
    )
    p.add_argument("--face-model", help="face model for --enhance-faces (default: the bundled one)")
    p.add_argument(
        "--face-detector",
        default="mtcnn",
        choices=["mtcnn", "retinaface", "dlib-hog"],
        help="detector for --enhance-faces (run on the globally cleaned image)",
    )


def run(args: argparse.Namespace) -> int:
    from reflect.data.io import check_max_pixels, is_image_file
    from reflect.errors import ConfigError, ReflectError
    from reflect.utils.paths import check_io_folders
    from reflect.work_size import check_work_size

    src, out_dir = Path(args.input), Path(args.output)
    if src.is_dir():
        check_io_folders(src, out_dir)
        files, skipped, unreadable = _scan(src, out_dir)
        if skipped:
            shown = ", ".join(str(p.relative_to(src)) for p in skipped[:5]) + (
                ", ..." if len(skipped) > 5 else ""
            )
            log.warning("skipped %d file(s) that are not images by their extension: %s", len(skipped), shown)
        if not files and unreadable:
            raise ConfigError(f"nothing in input folder {src} can be read: {'; '.join(unreadable)}")
        if not files:
            raise ConfigError(f"input folder {src} holds no images")
        for where in unreadable:
            log.error("cannot read the input folder %s: its images are not translated", where)
    elif src.is_file():
        if not is_image_file(src):
            raise ConfigError(f"input {src} is not an image file (known extensions: .png .jpg ...)")
        check_io_folders(src.parent, out_dir)
        files, unreadable = [src], []
    else:
        raise ConfigError(f"input {src} does not exist")
    check_max_pixels(args.max_pixels)
    if not 0 < args.memory_mb < float("inf"):  # nan fails this too
        raise ConfigError(f"--memory-mb must be a positive number, got {args.memory_mb}")
    if args.tile != 0 and args.tile < MIN_TILE:
        raise ConfigError(
            f"--tile {args.tile}: give 0 (whole images, or tiles as the memory budget needs) "
            f"or a tile of at least {MIN_TILE} px"
        )
    check_work_size(args.work_size)
    rc = _translate_files(args, src, out_dir, files)
    if unreadable:
        raise ReflectError(
            f"{len(unreadable)} input folder(s) could not be read, their images are not translated: "
            f"{'; '.join(unreadable)}"
        )
    return rc


def _scan(src: Path, out_dir: Path) -> tuple[list[Path], list[Path], list[str]]:
    """Image files below ``src`` (not below ``out_dir``, not hidden), the other files skipped, and the
    folders that could not be listed (``'path (reason)'``).

    Anything with an image extension that is not a folder counts as an input, so a dangling link or
    a named pipe is reported by name instead of silently left out. Links to folders are not followed
    (as ``Path.rglob``), so a link loop is just a file that is not an image.
    """
    from reflect.data.io import is_image_file
    from reflect.utils.paths import inside

    files: list[Path] = []
    skipped: list[Path] = []
    unreadable: list[str] = []

    def cannot_list(e: OSError) -> None:
        unreadable.append(f"{e.filename} ({e.strerror or e})")

    for dirpath, dirnames, filenames in os.walk(src, onerror=cannot_list):
        here = Path(dirpath)
        dirnames[:] = sorted(d for d in dirnames if not d.startswith(".") and not inside(here / d, out_dir))
        for name in filenames:
            p = here / name
            if name.startswith(".") or inside(p, out_dir) or p.is_dir():
                continue
            (files if is_image_file(p) else skipped).append(p)
    return sorted(files), sorted(skipped), unreadable


def _translate_files(args: argparse.Namespace, src: Path, out_dir: Path, files: list[Path]) -> int:
    """Translate every file; one that cannot be translated is logged with one line and the rest go on."""
    import errno

    from tqdm import tqdm

    from reflect.data.io import check_translatable, read_exif, read_image, write_image
    from reflect.errors import ConfigError, ImageReadError, OutputError, ReflectError
    from reflect.inference import at_work_size, auto_tile, budget_pixels, bytes_per_pixel, translate_image
    from reflect.loader import identify, load_variant, require_torch
    from reflect.utils.paths import writable_folder
    from reflect.work_size import AUTO, check_work_size, describe, training_scale

    ref = identify(args.model, "--checkpoint")
    require_torch(ref, "reflect translate")
    if args.no_ema and ref.kind == "generator":
        log.warning("--no-ema has no effect on %s: a generator file holds one set of weights", ref.path)
    variant, cfg = load_variant(ref, use_ema=not args.no_ema, device=args.device)
    checked = check_work_size(args.work_size)
    work_size = training_scale(cfg) if checked == AUTO else int(checked)
    told = False  # the working size is said once, at the first image it scales
    domains = tuple(variant.domains)
    if args.target is not None and args.target not in domains:
        raise ConfigError(f"unknown target domain '{args.target}'; valid: {', '.join(domains)}")
    if len(domains) > 2 and args.direction != "a2b" and args.target is None:
        raise ConfigError(
            f"--direction is for two-domain models; pick a target with --target ({', '.join(domains)})"
        )
    target = args.target or (None if args.direction == "a2b" else domains[0])
    enhancer = None
    if args.enhance_faces:
        from reflect.face_enhance import EnhanceStats, FaceEnhancer

        enhancer, stats = (
            FaceEnhancer.load(args.face_model, detector=args.face_detector, device=args.device),
            EnhanceStats(),
        )
    writable_folder(out_dir)  # after the model loaded: a bad model leaves no empty output folder behind
    bpp = bytes_per_pixel(variant, target)
    max_pixels = budget_pixels(args.memory_mb, bpp)
    failed: list[str] = []
    for f in tqdm(files, desc="translate", unit="img", disable=len(files) < 2):
        rel = f.relative_to(src) if src.is_dir() else Path(f.name)
        try:
            image = read_image(f, args.max_pixels)
            check_translatable(f, image)

            def one(img: np.ndarray, f: Path = f) -> np.ndarray:
                tile, overlap = (
                    (args.tile, min(32, args.tile // 4))
                    if args.tile
                    else auto_tile(img.shape[0], img.shape[1], max_pixels, bpp)
                )
                if tile and not args.tile:
                    log.info(
                        "%s: %dx%d px is above the memory budget: translated in %d px tiles",
                        f,
                        img.shape[1],
                        img.shape[0],
                        tile,
                    )
                return translate_image(
                    variant, img, target=target, tile=tile, device=args.device, overlap=overlap
                )

            if not told and 0 < work_size < max(image.shape[:2]):
                told = True
                log.info("%s", describe(work_size, checked))
            result = at_work_size(one, image, work_size)
        except (ImageReadError, MemoryError, RuntimeError) as e:
            if len(files) == 1 and isinstance(e, ReflectError):
                raise
            reason = "out of memory (lower --memory-mb to tile it)" if _is_oom(e) else str(e).splitlines()[0]
            log.error("%s", reason if isinstance(e, ImageReadError) else f"cannot translate {f}: {reason}")
            failed.append(str(f))
            continue
        if enhancer is not None:
            result = enhance_image(enhancer, image, result, stats)
        try:
            write_image(out_dir / rel, result, exif=read_exif(f))  # camera tags kept, orientation reset
        except OSError as e:
            if e.errno in (errno.ENOSPC, errno.EDQUOT):
                raise OutputError(
                    f"cannot write {out_dir / rel}: the disk is full; free space and run again"
                ) from None
            raise OutputError(f"cannot write {out_dir / rel} ({e.strerror or e})") from None
    done = len(files) - len(failed)
    print(f"translated {done} of {len(files)} images into {out_dir}")
    if enhancer is not None:
        print(
            f"faces: {stats.enhanced} enhanced, {stats.too_small} too small, in {sum(1 for n in stats.per_image if n)} "
            f"of {len(stats.per_image)} images"
        )
    if failed:
        raise ReflectError(f"{len(failed)} of {len(files)} file(s) not translated; each is named above")
    return 0


def enhance_image(enhancer: Any, image: Any, cleaned: Any, stats: Any) -> Any:
    """One uint8 image and its global clean -> the clean with every face enhanced (``stats`` updated)."""
    from reflect.data.io import to_image, to_tensor

    out, st = enhancer.enhance(to_tensor(image)[None], to_tensor(cleaned)[None])
    stats.add(st)
    return to_image(out[0])


def _is_oom(e: BaseException) -> bool:
    return isinstance(e, MemoryError) or "out of memory" in str(e).lower()
