"""A catalogue of bad inputs a hostile but realistic user feeds the jobs, made in a few milliseconds.

:func:`make_bad_images` and :func:`make_bad_videos` write each kind into a folder and return
``{file name: what is wrong}``; :func:`make_good_inputs` writes the good files that sit beside them.
"""

from __future__ import annotations

import gzip
import io
import os
import struct
import zipfile
import zlib
from pathlib import Path

import numpy as np
from PIL import Image


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return (
        struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    )


def png_header_only(width: int, height: int) -> bytes:
    """A PNG that declares ``width`` x ``height`` pixels but holds almost no data (a decompression bomb's header)."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", ihdr)
        + _png_chunk(b"IDAT", zlib.compress(b"\x00" * 64))
        + _png_chunk(b"IEND", b"")
    )


def _encoded(array: np.ndarray, fmt: str, **kwargs: object) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(array).save(buf, format=fmt, **kwargs)
    return buf.getvalue()


def _noise(h: int, w: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 255, (h, w, 3), dtype=np.uint8)


def _palette(h: int, w: int) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(_noise(h, w)).convert("P").save(buf, format="PNG")
    return buf.getvalue()


def make_bad_images(folder: Path) -> dict[str, str]:
    """Write 27 kinds of bad image files into ``folder``; returns ``{name: what is wrong}``."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(7)
    png = _encoded(_noise(40, 40), "PNG")
    jpg = _encoded(_noise(40, 40), "JPEG", quality=90)
    bad_crc = bytearray(png)
    bad_crc[len(png) // 2] ^= 0xFF
    zipped = io.BytesIO()
    with zipfile.ZipFile(zipped, "w") as z:
        z.writestr("a.txt", "zip payload")
    kinds: dict[str, tuple[bytes, str]] = {
        "empty.png": (b"", "0 bytes"),
        "truncated.jpg": (jpg[:300], "JPEG cut after 300 bytes"),
        "random.png": (rng.bytes(2000), "random bytes"),
        "text.jpg": (b"hello, this is not a picture\n", "a text file named .jpg"),
        "page.webp": (b"<html><body>404</body></html>", "an HTML error page named .webp"),
        "tiny3.png": (_encoded(_noise(3, 3), "PNG"), "3x3 pixels"),
        "line1x64.png": (_encoded(_noise(1, 64), "PNG"), "1 pixel high"),
        "tiny4.jpg": (_encoded(_noise(4, 4), "JPEG"), "4x4 pixels"),
        "tiny_palette.png": (_palette(4, 4), "4x4 palette image"),
        "tiny2.tif": (_encoded(_noise(2, 2), "TIFF"), "2x2 TIFF"),
        "bomb.png": (png_header_only(30000, 30000), "decompression bomb: 900 Mpx header"),
        "bomb_warn.png": (png_header_only(12000, 12000), "144 Mpx header (above PIL's warning limit)"),
        "bad_crc.png": (bytes(bad_crc), "PNG with a corrupted data chunk"),
        "zero_dim.png": (png_header_only(0, 0), "PNG declaring 0x0 pixels"),
        "half.png": (png[: len(png) // 2], "PNG cut in half"),
        "header_only.jpg": (b"\xff\xd8\xff\xe0" + b"\x00" * 60, "JPEG markers and zeros"),
        "truncated.ppm": (b"P6 64 64 255\n" + b"\x80" * 100, "PPM with too little pixel data"),
        "junk.bmp": (b"BM" + rng.bytes(200), "BMP magic then junk"),
        "junk.tif": (b"II*\x00" + rng.bytes(200), "TIFF magic then junk"),
        "zero.pgm": (b"P5 0 0 255\n", "PGM of 0x0 pixels"),
        "gzip.png": (gzip.compress(png), "a gzip file named .png"),
        "archive.jpg": (zipped.getvalue(), "a zip file named .jpg"),
        "ünï cödé.png": (rng.bytes(500), "random bytes under a unicode name with a space"),
        "truncated.webp": (b"RIFF\x00\x10\x00\x00WEBPVP8 " + rng.bytes(30), "WebP header cut short"),
        "nul.jpeg": (b"\x00" * 4096, "4 KiB of zeros"),
    }
    for name, (data, _) in kinds.items():
        (folder / name).write_bytes(data)
    (folder / "dangling.png").symlink_to(folder / "no_such_target.png")
    os.mkfifo(folder / "fifo.png")
    what = {name: why for name, (_, why) in kinds.items()}
    what["dangling.png"] = "a link to a missing file"
    what["fifo.png"] = "a named pipe (reading it would block)"
    return what


def make_bad_videos(folder: Path) -> dict[str, str]:
    """Write video files that cannot be decoded; returns ``{name: what is wrong}``."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(8)
    kinds = {
        "empty.mp4": (b"", "0 bytes"),
        "garbage.avi": (rng.bytes(5000), "random bytes"),
        "notes.mkv": (b"not a video at all\n" * 20, "a text file named .mkv"),
        "header.mov": (b"\x00\x00\x00\x14ftypqt  " + b"\x00" * 40, "a QuickTime header and nothing else"),
    }
    for name, (data, _) in kinds.items():
        (folder / name).write_bytes(data)
    return {name: why for name, (_, why) in kinds.items()}


def make_good_inputs(folder: Path) -> list[str]:
    """Good images beside the bad ones (one of them larger than the tests' memory budget); their names."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "good1.png").write_bytes(_encoded(_noise(32, 48, 1), "PNG"))
    (folder / "good2.jpg").write_bytes(_encoded(_noise(40, 40, 2), "JPEG", quality=92))
    (folder / "big.png").write_bytes(_encoded(_noise(120, 160, 3), "PNG"))
    return ["good1.png", "good2.jpg", "big.png"]


def snapshot(folder: Path) -> dict[str, bytes]:
    """The bytes of every regular file below ``folder`` (links and pipes left out)."""
    return {
        p.relative_to(folder).as_posix(): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if not p.is_symlink() and p.is_file()
    }
