"""Reading and writing images robustly.

:func:`read_image` accepts any size, grayscale, RGBA, palette and 16-bit images and returns 8-bit
RGB, logging a warning for each conversion, with a camera's EXIF orientation applied. A missing,
empty, truncated or undecodable file raises :class:`~reflect.errors.ImageReadError` naming the
file. :func:`write_image` can carry the source's EXIF (:func:`read_exif`, orientation reset) over.
"""

from __future__ import annotations

import logging
import os
import re
import threading
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from reflect.errors import ConfigError, ImageReadError
from reflect.utils.atomic import atomic_path
from reflect.utils.images import to_image, to_tensor  # noqa: F401  (re-exported: uint8 <-> [-1, 1])

log = logging.getLogger(__name__)
_warned: set[str] = set()  # conversions already reported by this process


def _warn_once(path: Path, what: str) -> None:
    """Log a conversion the first time it happens in this process; later files say nothing (training reads
    the same files at every draw, batch jobs thousands alike)."""
    if what in _warned:
        log.debug("%s: %s", path, what)
        return
    _warned.add(what)
    log.warning("%s: %s (further files converted alike are not reported)", path, what)


IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp", ".ppm", ".pgm")
VIDEO_EXTENSIONS = (".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv", ".ts")
MIN_SIDE = 8  # smaller images cannot pass a generator's downsampling (instance norm needs > 1 pixel)
#: images above this are refused as possible decompression bombs (--max-pixels): 200 Mpx is 600 MB as uint8,
#: which tiled translation handles in about 3x that (input, output, decoding), 108 Mpx camera files included
DEFAULT_MAX_PIXELS = 200_000_000
_PIL_LIMIT = threading.Lock()


def check_max_pixels(value: int) -> None:
    """Refuse a ``--max-pixels`` below 64 (translate, clean and stream take it)."""
    if value < 64:
        raise ConfigError(f"--max-pixels must be a pixel count of at least 64, got {value}")


def check_translatable(path: str | os.PathLike[str], image: np.ndarray) -> None:
    """Refuse an image a generator cannot translate (a side under :data:`MIN_SIDE`), naming the file."""
    h, w = image.shape[:2]
    if min(h, w) < MIN_SIDE:
        raise ImageReadError(
            path, f"too small to translate ({w}x{h} px; at least {MIN_SIDE} px on each side)"
        )


def is_image_file(path: str | os.PathLike[str]) -> bool:
    return Path(path).suffix.lower() in IMAGE_EXTENSIONS


def list_images(folder: str | os.PathLike[str], recursive: bool = False) -> list[Path]:
    root = Path(folder)
    it = root.rglob("*") if recursive else root.iterdir()
    return sorted(p for p in it if p.is_file() and is_image_file(p) and not p.name.startswith("."))


def folder_images(
    folder: str | os.PathLike[str], what: str, recursive: bool = False, hint: str = ""
) -> list[Path]:
    """:func:`list_images` of a folder a setting names, or one line: ``<what> <folder> does not exist``,
    ``<what> <folder> holds no images<hint>``."""
    root = Path(folder)
    if not root.is_dir():
        raise ConfigError(f"{what} {root} does not exist")
    files = list_images(root, recursive=recursive)
    if not files:
        raise ConfigError(f"{what} {root} holds no images{hint}")
    return files


def _to_uint8_rgb(arr: np.ndarray, mode: str, path: Path) -> np.ndarray:
    if arr.dtype != np.uint8:
        if arr.dtype in (np.uint16, np.int32, np.int16, np.uint32):
            # 16-bit PNG/TIFF (PIL opens I;16 as int32): scale the full range to 0..255.
            top = (
                65535.0
                if arr.max(initial=0) > 255 or mode.startswith("I;16") or arr.dtype == np.uint16
                else 255.0
            )
            _warn_once(path, f"{16 if top > 255 else 8}-bit image converted to 8-bit")
            arr = np.clip(arr.astype(np.float64) * (255.0 / top) + 0.5, 0, 255).astype(np.uint8)
        elif arr.dtype == np.bool_:
            arr = arr.astype(np.uint8) * 255
        elif np.issubdtype(arr.dtype, np.floating):
            _warn_once(path, "floating-point image converted to 8-bit")
            scale = 255.0 if arr.max(initial=0) <= 1.0 else 1.0
            arr = np.clip(arr * scale + 0.5, 0, 255).astype(np.uint8)
        else:
            raise ImageReadError(path, f"unsupported pixel type {arr.dtype}")
    if arr.ndim == 2:
        _warn_once(path, "grayscale image converted to RGB")
        arr = np.repeat(arr[:, :, None], 3, axis=2)
    elif arr.ndim == 3 and arr.shape[2] == 4:
        _warn_once(path, "RGBA image converted to RGB (alpha composited on black)")
        alpha = arr[:, :, 3:4].astype(np.float32) / 255.0
        arr = (arr[:, :, :3].astype(np.float32) * alpha + 0.5).astype(np.uint8)
    elif arr.ndim == 3 and arr.shape[2] == 2:  # LA
        _warn_once(path, "grayscale+alpha image converted to RGB")
        arr = np.repeat(arr[:, :, :1], 3, axis=2)
    elif not (arr.ndim == 3 and arr.shape[2] == 3):
        raise ImageReadError(path, f"unsupported image shape {arr.shape}")
    return np.ascontiguousarray(arr)


def read_image(path: str | os.PathLike[str], max_pixels: int = DEFAULT_MAX_PIXELS) -> np.ndarray:
    """Read ``path`` as an (H, W, 3) uint8 RGB array.

    An image of more than ``max_pixels`` pixels is refused before it is decoded (a decompression bomb
    declares a huge size in a few bytes); ``--max-pixels`` raises the limit for genuine large images.
    """
    p = Path(path)
    if not p.is_file():
        kind = "a folder" if p.is_dir() else "not a regular file (a pipe, socket or device)"
        raise ImageReadError(
            p, kind if p.exists() else "no such file" + (" (a dangling link)" if p.is_symlink() else "")
        )
    if p.stat().st_size == 0:
        raise ImageReadError(p, "the file is empty")
    try:
        with (
            _PIL_LIMIT,
            warnings.catch_warnings(),
        ):  # PIL's limit is a module global: set it for this open only
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            previous, Image.MAX_IMAGE_PIXELS = Image.MAX_IMAGE_PIXELS, max_pixels
            try:
                opened_cm = Image.open(p)
            finally:
                Image.MAX_IMAGE_PIXELS = previous
        with opened_cm as opened:  # the size limit refused bombs before decoding
            raw = str(opened.tile[0][3]) if opened.tile and len(opened.tile[0]) > 3 else ""
            if opened.mode == "RGB" and "16" in raw:  # PIL decodes 48-bit RGB to 8 bits itself
                _warn_once(p, "16-bit RGB image reduced to 8-bit")
            opened.load()  # decode fully now: truncated files fail here, not later
            im: Image.Image = ImageOps.exif_transpose(opened)  # a camera's orientation tag: upright pixels
            if im.mode in ("P", "PA"):
                im = im.convert("RGBA" if "transparency" in im.info or im.mode == "PA" else "RGB")
            elif im.mode in ("CMYK", "YCbCr", "LAB", "HSV"):
                im = im.convert("RGB")
            mode = im.mode
            arr = np.asarray(im)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
        size = re.search(r"\((\d+) pixels\)", str(e))
        raise ImageReadError(
            p,
            f"refused as a possible decompression bomb ({size.group(1) if size else 'too many'} "
            f"pixels, more than --max-pixels {max_pixels}); if the image is genuine, pass a larger "
            "--max-pixels (large images are translated in tiles)",
        ) from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as e:
        raise ImageReadError(p, f"not a readable image ({e})") from None
    if arr.size == 0:
        raise ImageReadError(p, "the image has no pixels")
    return _to_uint8_rgb(arr, mode, p)


ORIENTATION = 0x0112  # the EXIF tag that tells viewers to rotate or mirror
EXIF_FORMATS = ("JPEG", "PNG", "WEBP")  # formats Pillow writes an EXIF block into


def read_exif(path: str | os.PathLike[str]) -> bytes | None:
    """The EXIF block of an image file, for its output (None when it has none or it cannot be read).

    :func:`read_image` already turned the pixels upright, so the orientation is reset to 1 (viewers
    must not rotate the output a second time); every other tag (camera, time, GPS...) is kept.
    """
    try:
        with Image.open(path) as im:
            exif = im.getexif()
            if not exif:
                return None
            if exif.get(ORIENTATION, 1) != 1:
                exif[ORIENTATION] = 1
            data: bytes = exif.tobytes()
            return data
    except Exception:  # noqa: BLE001 - EXIF is a courtesy: a malformed block must never cost the image
        log.debug("%s: EXIF not readable; its output is written without it", path)
        return None


def write_image(
    path: str | os.PathLike[str], image: np.ndarray, quality: int = 95, exif: bytes | None = None
) -> None:
    """Write an (H, W, 3) uint8 RGB array atomically; the format follows the extension.

    ``exif`` (from :func:`read_exif`) is written into JPEG, PNG and WebP files; other formats drop it.
    """
    p = Path(path)
    im = Image.fromarray(np.ascontiguousarray(image))
    fmt = {
        ".jpg": "JPEG",
        ".jpeg": "JPEG",
        ".png": "PNG",
        ".bmp": "BMP",
        ".tif": "TIFF",
        ".tiff": "TIFF",
        ".webp": "WEBP",
        ".ppm": "PPM",
    }.get(p.suffix.lower(), "PNG")
    with atomic_path(p) as tmp:
        kwargs: dict[str, object] = {"quality": quality} if fmt in ("JPEG", "WEBP") else {}
        if exif and fmt in EXIF_FORMATS:
            kwargs["exif"] = exif
        im.save(tmp, format=fmt, **kwargs)
