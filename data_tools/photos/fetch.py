"""``reflect photos fetch``: read each source's photographs, resize them and record them in the manifest.

Idempotent and resumable: a source whose photos are all in the cache (same selection, same
``max_side``) is not downloaded again; a photo already written (same original bytes) is not
written again; the manifest is rewritten atomically after every source, so a killed fetch keeps
what it finished. A source that cannot be read is one warning and the fetch goes on.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from data_tools.photos import sources
from data_tools.photos.cache import empty_manifest, n_photos, read_manifest, split_for, write_manifest
from data_tools.photos.deb import DebError
from data_tools.photos.originals import Photo, debian_photos, selection, skimage_photos
from reflect.errors import OutputError, ReflectError
from reflect.utils.atomic import atomic_path, remove_stale_temporaries

JPEG_QUALITY = 92


@dataclass
class FetchResult:
    added: int = 0
    kept: int = 0
    cached_sources: list[str] = field(default_factory=list)
    failed_sources: list[str] = field(default_factory=list)


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
            and entry["selection"] == selection(source)
            and entry["max_side"] == max_side
            and all((cache / r["split"] / r["file"]).is_file() for r in mine)
        ):
            result.cached_sources.append(source)
            result.kept += len(mine)
            say(f"{source} {entry['version']}: {n_photos(len(mine))} already in the cache")
            continue
        try:
            if source == sources.SKIMAGE_PACKAGE:
                version, photos = skimage_photos(warn)
            else:
                version, photos = debian_photos(sources.DEBIAN_SOURCES[source], debs, warn)
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
            "selection": selection(source),
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
