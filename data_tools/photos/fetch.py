"""``reflect photos fetch``: read each source's photographs, resize them and record them in the manifest.

Idempotent and resumable: a source whose photos are all in the cache (same selection, same
``max_side``) is not downloaded again; a photo already written (same original bytes) is not
written again; the manifest is rewritten atomically after every source, so a killed fetch keeps
what it finished. A source that cannot be read is one warning and the fetch goes on.
"""

from __future__ import annotations

import fnmatch
import hashlib
import io
import json
import posixpath
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from data_tools.photos import sources
from data_tools.photos.cache import (
    cache_name,
    empty_manifest,
    n_photos,
    read_manifest,
    split_for,
    unique_name,
    write_manifest,
)
from data_tools.photos.copyright import Licence, licence_for
from data_tools.photos.deb import DebError, apt_download, find_deb, read_deb
from reflect.errors import OutputError, ReflectError
from reflect.utils.atomic import atomic_path, remove_stale_temporaries

JPEG_QUALITY = 92


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


@dataclass
class FetchResult:
    added: int = 0
    kept: int = 0
    cached_sources: list[str] = field(default_factory=list)
    failed_sources: list[str] = field(default_factory=list)


def _selection(source: str) -> list[str]:
    if source == sources.SKIMAGE_PACKAGE:
        return sorted(sources.SKIMAGE_PHOTOS)
    s = sources.DEBIAN_SOURCES[source]
    return [*s.files, f"name_from_dir={s.name_from_dir}"]


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


def _debian_photos(
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
                licence=licence_for(copyright_text, path, copyright_path),
                author=author,
                upstream_licence=upstream,
            )
        )
    return content.version, photos


def _skimage_photos(warn: Callable[[str], None]) -> tuple[str, list[Photo]]:
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


def _render(data: bytes, max_side: int) -> tuple[Any, tuple[int, int]]:
    """The photo upright, RGB, at most ``max_side`` px on its longer side; and its original size."""
    import numpy as np
    from PIL import Image, ImageOps

    img: Image.Image = Image.open(io.BytesIO(data))
    w, h = img.size
    if img.getexif().get(0x0112) in (5, 6, 7, 8):
        w, h = h, w
    img.draft("RGB", (max_side, max_side))  # JPEG: decode at the smallest scale still >= max_side
    img = ImageOps.exif_transpose(img)
    if img.mode in ("I", "I;16", "I;16B", "I;16L", "F"):
        arr = np.asarray(img, dtype=np.float64)
        img = Image.fromarray(np.clip(arr / (256.0 if arr.max() > 255 else 1.0), 0, 255).astype(np.uint8))
    if img.mode in ("RGBA", "LA", "PA") or "transparency" in img.info:
        rgba = img.convert("RGBA")
        img = Image.alpha_composite(Image.new("RGBA", rgba.size, (255, 255, 255, 255)), rgba)
    img = img.convert("RGB")
    s = max_side / max(img.size)
    if s < 1:
        img = img.resize(
            (max(1, round(img.width * s)), max(1, round(img.height * s))),
            Image.Resampling.LANCZOS,
            reducing_gap=3.0,
        )
    return img, (w, h)


def _store(
    cache: Path,
    package: str,
    version: str,
    photo: Photo,
    max_side: int,
    old: dict[str, dict[str, Any]],
    warn: Callable[[str], None],
) -> tuple[dict[str, Any] | None, bool]:
    """The photo's manifest record (``None`` if it cannot be decoded) and whether it was written now."""
    from PIL import Image

    sha = hashlib.sha256(photo.data).hexdigest()
    split = split_for(package, photo.path, sha)
    out = cache / split / photo.name
    record = {
        "file": photo.name,
        "split": split,
        "package": package,
        "version": version,
        "path": photo.path,
        "sha256": sha,
        "licence": photo.licence.licence,
        "licence_from": photo.licence.source,
        "copyright": photo.licence.copyright,
        "author": photo.author,
        "upstream_licence": photo.upstream_licence,
        "note": photo.note,
        "max_side": max_side,
    }
    prev = old.get(photo.name)
    if prev and prev["sha256"] == sha and prev.get("max_side") == max_side and out.is_file():
        record.update({k: prev[k] for k in ("width", "height", "original_width", "original_height")})
        return record, False
    try:
        img, (w, h) = _render(photo.data, max_side)
    except (OSError, SyntaxError, ValueError, EOFError, Image.DecompressionBombError) as e:
        warn(f"{package} {version}: {photo.path} skipped: cannot decode ({e})")
        return None, False
    try:
        with atomic_path(out) as tmp:
            img.save(tmp, format="JPEG", quality=JPEG_QUALITY, optimize=True)
    except OSError as e:
        raise OutputError(f"cannot write {out}: {e}") from e
    record.update({"width": img.width, "height": img.height, "original_width": w, "original_height": h})
    return record, True


def _records(manifest: dict[str, Any], source: str) -> Iterator[dict[str, Any]]:
    return (r for r in manifest["photos"] if r["package"] == source)


def fetch_photos(
    cache: Path,
    names: list[str],
    debs: Path | None = None,
    max_side: int = 1024,
    say: Callable[[str], None] = print,
    warn: Callable[[str], None] = print,
) -> FetchResult:
    """Fetch the sources ``names`` (from :func:`~data_tools.photos.sources.all_sources`) into ``cache``."""
    cache.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(cache)
    manifest = read_manifest(cache) or empty_manifest(max_side)
    manifest["max_side"] = max_side
    result = FetchResult()
    for source in names:
        entry = manifest["sources"].get(source)
        mine = list(_records(manifest, source))
        if (
            entry
            and entry["selection"] == _selection(source)
            and entry["max_side"] == max_side
            and all((cache / r["split"] / r["file"]).is_file() for r in mine)
        ):
            result.cached_sources.append(source)
            result.kept += len(mine)
            say(f"{source} {entry['version']}: {n_photos(len(mine))} already in the cache")
            continue
        try:
            if source == sources.SKIMAGE_PACKAGE:
                version, photos = _skimage_photos(warn)
            else:
                version, photos = _debian_photos(sources.DEBIAN_SOURCES[source], debs, warn)
        except DebError as e:
            warn(f"{source}: not fetched: {e}")
            result.failed_sources.append(source)
            continue
        old = {r["file"]: r for r in mine}
        records, added = [], 0
        for photo in photos:
            record, written = _store(cache, source, version, photo, max_side, old, warn)
            if record is not None:
                records.append(record)
                added += written
        for r in mine:  # photos the source no longer gives, or that moved split with new bytes
            if (r["file"], r["split"]) not in {(n["file"], n["split"]) for n in records}:
                (cache / r["split"] / r["file"]).unlink(missing_ok=True)
        manifest["photos"] = [r for r in manifest["photos"] if r["package"] != source] + records
        manifest["sources"][source] = {
            "version": version,
            "selection": _selection(source),
            "max_side": max_side,
            "photos": len(records),
        }
        write_manifest(cache, manifest)
        result.added += added
        result.kept += len(records) - added
        say(f"{source} {version}: {n_photos(len(records))} ({added} new)")
    if not manifest["photos"]:
        raise ReflectError(
            f"no photographs could be fetched into {cache} "
            f"({', '.join(result.failed_sources) or 'no source'} failed): "
            "give downloaded .deb files with --debs, or install scikit-image"
        )
    write_manifest(cache, manifest)
    return result
