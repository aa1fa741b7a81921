"""Debian packages as photo sources: find a ``.deb`` and read chosen files out of it, never installing it.

A ``.deb`` is an ``ar`` archive holding ``control.tar.*`` (the package's name and version) and
``data.tar.*`` (its files). Both are read here with the standard library (gzip, xz, bzip2 or
uncompressed tar); a zstd-compressed package is read through ``dpkg-deb``, which Python 3.11 needs
for zstd. The ``.deb`` comes from a folder the user gives (``--debs``) or, when it is not there,
from ``apt-get download`` into a temporary folder.
"""

from __future__ import annotations

import io
import lzma
import shutil
import subprocess
import tarfile
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Literal

from reflect.errors import ReflectError

AR_MAGIC = b"!<arch>\n"
TarMode = Literal["r|gz", "r|xz", "r|bz2", "r|"]
APT_TIMEOUT_S = 900


class DebError(ReflectError):
    """A package could not be found, downloaded or read."""


@dataclass
class DebFiles:
    """The files read out of one package: paths inside it (``usr/share/...``, no leading ``./``)."""

    package: str
    version: str
    files: dict[str, bytes] = field(default_factory=dict)


class _Slice(io.RawIOBase):
    """``size`` bytes of ``f`` from its current position, as a file."""

    def __init__(self, f: IO[bytes], size: int) -> None:
        self._f, self._left = f, size

    def readable(self) -> bool:
        return True

    def readinto(self, b: bytearray | memoryview) -> int:  # type: ignore[override]
        n = min(len(b), self._left)
        if n <= 0:
            return 0
        data = self._f.read(n)
        b[: len(data)] = data
        self._left -= len(data)
        return len(data)


def _ar_members(f: IO[bytes], path: Path) -> Iterator[tuple[str, int]]:
    """(name, size) of each member; ``f`` is left at the member's data while the caller looks at it."""
    if f.read(8) != AR_MAGIC:
        raise DebError(f"{path} is not a Debian package (no ar header)")
    while True:
        header = f.read(60)
        if not header:
            return
        if len(header) < 60 or header[58:60] != b"`\n":
            raise DebError(f"{path} is truncated or damaged (bad ar member header)")
        name = header[:16].decode("ascii", "replace").strip().rstrip("/")
        size = int(header[48:58].decode("ascii").strip())
        start = f.tell()
        yield name, size
        f.seek(start + size + (size & 1))  # members are 2-byte aligned


def _tar_mode(member: str) -> TarMode | None:
    modes: tuple[tuple[str, TarMode], ...] = (
        (".tar.gz", "r|gz"),
        (".tar.xz", "r|xz"),
        (".tar.bz2", "r|bz2"),
        (".tar", "r|"),
    )
    for suffix, mode in modes:
        if member.endswith(suffix):
            return mode
    return None  # .tar.zst, .tar.lzma: left to dpkg-deb


def _control_fields(text: str) -> dict[str, str]:
    fields: dict[str, str] = {}
    for line in text.splitlines():
        if line and not line[0].isspace() and ":" in line:
            key, value = line.split(":", 1)
            fields[key.strip().lower()] = value.strip()
    return fields


def _normalise(name: str) -> str:
    return name[2:] if name.startswith("./") else name.lstrip("/")


def _scan_tar(fileobj: IO[bytes], mode: TarMode, want: Callable[[str], bool], out: dict[str, bytes]) -> None:
    with tarfile.open(fileobj=fileobj, mode=mode) as tar:
        for member in tar:
            name = _normalise(member.name)
            if member.isfile() and want(name):
                data = tar.extractfile(member)
                if data is not None:
                    out[name] = data.read()


@contextmanager
def _dpkg_deb(path: Path, *args: str) -> Iterator[IO[bytes]]:
    if shutil.which("dpkg-deb") is None:
        raise DebError(f"{path} is compressed with zstd, which needs dpkg-deb (not installed)")
    proc = subprocess.Popen(["dpkg-deb", *args, str(path)], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None
    try:
        yield proc.stdout
    finally:
        proc.stdout.close()
        err = proc.stderr.read().decode("utf-8", "replace").strip() if proc.stderr else ""
        if proc.wait() != 0:
            raise DebError(f"dpkg-deb cannot read {path}: {err.splitlines()[-1] if err else 'failed'}")


def read_deb(path: str | Path, want: Callable[[str], bool]) -> DebFiles:
    """The package's name, version and every regular file whose path ``want`` accepts."""
    path = Path(path)
    control: dict[str, str] = {}
    files: dict[str, bytes] = {}
    via_dpkg: list[str] = []
    try:
        with open(path, "rb") as f:
            for name, size in _ar_members(f, path):
                kind = name.split(".", 1)[0]
                if kind not in ("control", "data"):
                    continue
                mode = _tar_mode(name)
                if mode is None:
                    via_dpkg.append(kind)
                    continue
                stream = io.BufferedReader(_Slice(f, size), buffer_size=1 << 20)
                if kind == "control":
                    found: dict[str, bytes] = {}
                    _scan_tar(stream, mode, lambda n: n == "control", found)
                    control = _control_fields(found.get("control", b"").decode("utf-8", "replace"))
                else:
                    _scan_tar(stream, mode, want, files)
        if "control" in via_dpkg:
            with _dpkg_deb(path, "--field") as out:
                control = _control_fields(out.read().decode("utf-8", "replace"))
        if "data" in via_dpkg:
            with _dpkg_deb(path, "--fsys-tarfile") as out:
                _scan_tar(out, "r|", want, files)
    except (OSError, EOFError, ValueError, tarfile.TarError, lzma.LZMAError, zlib.error) as e:
        raise DebError(f"cannot read {path}: {e}") from e
    if "package" not in control or "version" not in control:
        raise DebError(f"{path} has no control file naming its package and version")
    return DebFiles(package=control["package"], version=control["version"], files=files)


def find_deb(folder: str | Path, package: str) -> Path | None:
    """``FOLDER/<package>_<version>_<arch>.deb``; of several versions, the last in name order."""
    found = sorted(Path(folder).glob(f"{package}_*.deb"))
    return found[-1] if found else None


def apt_download(package: str, dest: str | Path) -> Path:
    """``apt-get download PACKAGE`` into ``dest`` (no root, nothing installed); the ``.deb``'s path."""
    if shutil.which("apt-get") is None:
        raise DebError(
            "apt-get is not installed: download the .deb elsewhere and give its folder with --debs"
        )
    try:
        proc = subprocess.run(
            ["apt-get", "download", package],
            cwd=dest,
            capture_output=True,
            text=True,
            timeout=APT_TIMEOUT_S,
            check=False,
        )
    except subprocess.TimeoutExpired as e:
        raise DebError(f"apt-get download {package} took over {APT_TIMEOUT_S} s") from e
    deb = find_deb(dest, package)
    if proc.returncode != 0 or deb is None:
        errors = [
            line for line in proc.stderr.splitlines() if line.startswith("E:")
        ] or proc.stderr.splitlines()
        raise DebError(
            f"apt-get download {package} failed: {errors[-1].strip() if errors else f'exit {proc.returncode}'}"
        )
    return deb
