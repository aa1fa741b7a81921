"""What a model file is, read from its first bytes (never from its name).

:func:`model_kind` recognises the formats reflect loads; :func:`looks_like` names what any other
file appears to be, for the one-line error that refuses it ("it looks like a JPEG image").
"""

from __future__ import annotations

import struct
from pathlib import Path

ZIP_MAGIC = b"PK\x03\x04"  # torch.save's format since torch 1.6
PICKLE_MAGIC = b"\x80"  # torch.save's legacy format starts with a pickle protocol marker
# ONNX ModelProto fields that may follow ir_version (field 1, varint): producer_name, producer_version,
# domain, model_version, doc_string, graph, opset_import, metadata_props, training_info, functions
_ONNX_NEXT_TAGS = {0x12, 0x1A, 0x22, 0x28, 0x32, 0x3A, 0x42, 0x72, 0x7A, 0x82}

_SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"\x89PNG", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF8", "a GIF image"),
    (b"RIFF", "a RIFF file (WebP image, AVI video or WAV sound)"),
    (b"%PDF", "a PDF document"),
    (b"\x1f\x8b", "a gzip archive"),
    (b"7z\xbc\xaf", "a 7-Zip archive"),
    (b"\x7fELF", "an executable (ELF)"),
    (b"SQLite format 3", "an SQLite database"),
    (b"\x93NUMPY", "a NumPy array file (.npy)"),
    (b"\x89HDF", "an HDF5 file (Keras/TensorFlow weights?)"),
)


def head(path: str | Path, n: int = 64) -> bytes:
    with open(path, "rb") as f:
        return f.read(n)


def _is_safetensors(data: bytes, size: int) -> bool:
    """An 8-byte little-endian header length, then the JSON header itself."""
    if len(data) < 10:
        return False
    (n,) = struct.unpack("<Q", data[:8])
    return 2 <= n <= size - 8 and data[8:9] == b"{"


def _is_onnx(data: bytes) -> bool:
    """A protobuf ModelProto: ir_version (field 1, a small varint) first, then a known field."""
    return len(data) >= 3 and data[0] == 0x08 and 0 < data[1] < 0x80 and data[2] in _ONNX_NEXT_TAGS


def model_kind(path: str | Path) -> str | None:
    """``"checkpoint"`` (torch.save), ``"generator"`` (safetensors), ``"onnx"``, or None (anything else)."""
    p = Path(path)
    data = head(p)
    # safetensors first: its 8-byte header length may start with 0x80, the pickle marker byte
    if _is_safetensors(data, p.stat().st_size):
        return "generator"
    if data.startswith(ZIP_MAGIC) or data.startswith(PICKLE_MAGIC):
        return "checkpoint"
    if _is_onnx(data):
        return "onnx"
    return None


def looks_like(path: str | Path) -> str:
    """A few words on what a file that is no model appears to be (its type, or its first bytes)."""
    data = head(path)
    if not data:
        return "an empty file (0 bytes)"
    for magic, what in _SIGNATURES:
        if data.startswith(magic):
            return what
    if data.startswith(ZIP_MAGIC):
        return "a zip archive"
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        text = ""
    if text and all(c.isprintable() or c in "\r\n\t" for c in text.rstrip("\x00")):
        stripped = text.lstrip().lower()
        if stripped.startswith(("<!doctype html", "<html")):
            return "an HTML page (a download that saved an error or login page?)"
        first = " ".join(text.split())[:40]
        return f"a text file (it starts '{first}')"
    return f"binary data of no known format (first bytes {data[:8].hex()})"
