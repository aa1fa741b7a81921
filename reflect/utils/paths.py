"""Checks on the folders a job reads and writes: originals are never written, outputs never overlap inputs.

Every command that writes files below an output folder calls :func:`check_io_folders` before it
writes anything: the output may lie inside the input folder (it is then left out of the inputs,
see :func:`outside`), but it may not be the input folder or contain it, where an output could
replace an original. :func:`writable_folder` turns "it is a file" and "permission denied" into
one line naming the folder.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable
from pathlib import Path

from reflect.errors import ConfigError


def shared_data(*parts: str) -> Path:
    """``../shared/data`` beside this checkout, or ``parts`` below it: the face photos (``faces``) and
    portraits (``portraits``) that tests, benchmarks and the configs read; not part of the repository."""
    return Path(__file__).resolve().parents[3].joinpath("shared", "data", *parts)


def inside(path: str | os.PathLike[str], folder: str | os.PathLike[str]) -> bool:
    """Whether ``path`` is ``folder`` or lies below it (after resolving links and ``..``).

    ``os.path.realpath``, not ``Path.resolve``: a symlink loop stays a path instead of raising.
    """
    p, f = Path(os.path.realpath(path)), Path(os.path.realpath(folder))
    return p == f or f in p.parents


def outside(files: Iterable[Path], folder: str | os.PathLike[str]) -> list[Path]:
    """``files`` without those below ``folder`` (an output folder kept inside the input folder)."""
    return [f for f in files if not inside(f, folder)]


def check_io_folders(
    input_root: str | os.PathLike[str], output: str | os.PathLike[str], flag: str = "--output"
) -> None:
    """Refuse an output folder that is the input folder or holds it (outputs could replace originals)."""
    if inside(input_root, output):
        same = Path(input_root).resolve() == Path(output).resolve()
        where = "is the input folder" if same else f"holds the input {input_root}"
        raise ConfigError(
            f"{flag} {output} {where}: outputs could replace the originals; "
            "choose an output folder outside the input (a folder inside it is fine)"
        )


def writable_folder(output: str | os.PathLike[str], flag: str = "--output") -> Path:
    """Create ``output`` if needed; one clear line when it is a file or cannot be written."""
    out = Path(output)
    if out.exists() and not out.is_dir():
        raise ConfigError(f"{flag} {out} is an existing file, not a folder; give a folder name")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise ConfigError(f"{flag} {out} cannot be created ({e.strerror or e})") from None
    try:  # a real write: access() says yes to root on a read-only mount or a pseudo file system
        fd, probe = tempfile.mkstemp(prefix=".reflect-probe.", dir=out)
        os.close(fd)
        os.unlink(probe)
    except OSError as e:
        raise ConfigError(
            f"{flag} {out} is not writable ({e.strerror or e}); choose another folder"
        ) from None
    return out
