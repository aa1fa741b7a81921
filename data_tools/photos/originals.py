"""The original photographs of each source, with what is known of them (licence, author), unmodified.

Debian packages are read through their allow-list entry (:mod:`data_tools.photos.sources`): the
``.deb`` from ``--debs`` when it is there (apt is then never asked), else from ``apt-get download``.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import json
import posixpath
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from data_tools.photos import sources
from data_tools.photos.cache import cache_name, unique_name
from data_tools.photos.copyright import Licence, licence_for
from data_tools.photos.deb import DebError, apt_download, find_deb, read_deb


@dataclass
class Photo:
    """One original photograph and what is known of it."""

    path: str  # inside the package (or skimage/data/NAME)
    data: bytes
    name: str  # the cache file name
    licence: Licence
    author: str = ""
    upstream_licence: str = ""
    note: str = ""


def selection(source: str) -> list[str]:
    """What a source's cached photos were made from: a changed entry is read again on the next fetch."""
    if source == sources.SKIMAGE_PACKAGE:
        return [
            f"{n} {json.dumps(dataclasses.asdict(i), ensure_ascii=False)}"
            for n, i in sorted(sources.SKIMAGE_PHOTOS.items())
        ]
    s = sources.DEBIAN_SOURCES[source]
    settings = {
        f.name: getattr(s, f.name) for f in dataclasses.fields(s) if f.name not in ("package", "files")
    }
    return [*s.files, json.dumps(settings, sort_keys=True, default=dict, ensure_ascii=False)]


def _kde_metadata(text: bytes | None, where: str) -> tuple[str, str]:
    """(author, licence) from a KDE wallpaper's metadata.json."""
    if text is None:
        return "", ""
    try:
        plugin = json.loads(text).get("KPlugin", {})
    except ValueError:
        return "", ""
    authors = ", ".join(a.get("Name", "") for a in plugin.get("Authors", []) if a.get("Name"))
    licence = f"{plugin['License']} ({where})" if plugin.get("License") else ""
    return authors, licence


def debian_photos(
    source: sources.DebianSource, debs: Path | None, warn: Callable[[str], None]
) -> tuple[str, list[Photo]]:
    name = source.package
    copyright_path = f"usr/share/doc/{name}/copyright"

    def selected(path: str) -> bool:
        return any(fnmatch.fnmatchcase(path, pattern) for pattern in source.files)

    def want(path: str) -> bool:
        return (
            path == copyright_path
            or (source.kde_metadata and path.endswith("/metadata.json"))
            or selected(path)
        )

    deb = find_deb(debs, name) if debs is not None else None
    with tempfile.TemporaryDirectory(prefix="reflect-photos-") as tmp:
        content = read_deb(deb or apt_download(name, tmp), want)
    if content.package != name:
        raise DebError(f"{deb} holds package {content.package!r}, not {name!r}")
    text = content.files.pop(copyright_path, None)
    copyright_text = text.decode("utf-8", "replace") if text is not None else None
    for pattern in source.files:
        if not any(fnmatch.fnmatchcase(p, pattern) for p in content.files):
            warn(f"{name} {content.version}: nothing matches {pattern} (is the allow-list out of date?)")
    photos: list[Photo] = []
    taken: dict[str, str] = {}
    for path in sorted(filter(selected, content.files)):
        stem = posixpath.splitext(posixpath.basename(path))[0]
        author, upstream = source.authors.get(stem, ""), source.upstream_licence
        if source.kde_metadata:
            meta = "/".join(path.split("/")[: -max(source.name_from_dir, 1)] + ["metadata.json"])
            author, upstream = _kde_metadata(content.files.get(meta), meta)
        photos.append(
            Photo(
                path=path,
                data=content.files[path],
                name=unique_name(cache_name(name, path, source.name_from_dir), path, taken),
                licence=_licence(source, copyright_text, path, copyright_path),
                author=author,
                upstream_licence=upstream,
            )
        )
    return content.version, photos


def _licence(
    source: sources.DebianSource, copyright_text: str | None, path: str, copyright_path: str
) -> Licence:
    """From the copyright file; from the allow-list's reading of it where the file is prose."""
    licence = licence_for(copyright_text, path, copyright_path)
    if source.prose_licence and licence.source == copyright_path:
        return Licence(
            source.prose_licence, source.prose_copyright, f"{copyright_path} (prose, read by hand)"
        )
    return licence


def skimage_photos(warn: Callable[[str], None]) -> tuple[str, list[Photo]]:
    try:
        import skimage
        import skimage.data
    except ImportError as e:
        raise DebError(f"scikit-image is not installed ({e})") from e
    root = Path(skimage.data.data_dir)
    photos = []
    for file, info in sources.SKIMAGE_PHOTOS.items():
        f = root / file
        if not f.is_file():
            warn(f"{sources.SKIMAGE_PACKAGE}: {f} is missing")
            continue
        photos.append(
            Photo(
                path=f"skimage/data/{file}",
                data=f.read_bytes(),
                name=cache_name(sources.SKIMAGE_PACKAGE, file),
                licence=Licence(info.licence, info.author, f"skimage.data docstring of {file}"),
                author=info.author,
                note=info.note,
            )
        )
    return str(getattr(skimage, "__version__", "unknown")), photos
