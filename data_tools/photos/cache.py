"""The photo cache on disk: its layout, the train/test rule, cache names and the manifest."""

from __future__ import annotations

import hashlib
import json
import posixpath
import re
from collections import Counter
from pathlib import Path
from typing import Any

from data_tools.photos.sources import SKIMAGE_PACKAGE
from reflect.data.synth.split import TEST_PHOTOS, TRAIN_PHOTOS
from reflect.errors import ConfigError
from reflect.utils.atomic import atomic_write_text

TEST_PERCENT = 25
MANIFEST = "manifest.json"
FORMAT = 1
SPLIT_RULE = (
    f"test when int(sha256(original bytes)[:8], 16) % 100 < {TEST_PERCENT}, else train; "
    "scikit-image's photos follow reflect.data.synth.split (TRAIN_PHOTOS / TEST_PHOTOS)"
)


def photo_split(sha256_hex: str) -> str:
    """'test' or 'train' from the SHA-256 of a photo's original bytes (never from where it came)."""
    return "test" if int(sha256_hex[:8], 16) % 100 < TEST_PERCENT else "train"


def split_for(package: str, path: str, sha256_hex: str) -> str:
    """The split of one photo: scikit-image's keep the project's fixed lists, all others the hash rule."""
    if package == SKIMAGE_PACKAGE:
        name = posixpath.basename(path)
        if name in TEST_PHOTOS:
            return "test"
        if name in TRAIN_PHOTOS:
            return "train"
    return photo_split(sha256_hex)


def cache_name(package: str, path: str, name_from_dir: int = 0) -> str:
    """``<package>__<stem>.jpg``; the stem is the photo's, or its ``name_from_dir``-th parent folder's."""
    stem = posixpath.splitext(posixpath.basename(path))[0]
    if name_from_dir > 0:
        parts = path.split("/")
        stem = parts[-1 - name_from_dir] if len(parts) > name_from_dir else stem
    return f"{package}__{re.sub(r'[^A-Za-z0-9._-]+', '_', stem)}.jpg"


def unique_name(name: str, path: str, taken: dict[str, str]) -> str:
    """``name``, or ``name`` with a short hash of ``path`` when another photo of the source holds it."""
    if taken.get(name, path) != path:
        name = f"{name[:-4]}_{hashlib.sha256(path.encode()).hexdigest()[:6]}.jpg"
    taken[name] = path
    return name


def n_photos(n: int) -> str:
    return f"{n} photo" if n == 1 else f"{n} photos"


def empty_manifest(max_side: int) -> dict[str, Any]:
    return {"format": FORMAT, "split_rule": SPLIT_RULE, "max_side": max_side, "sources": {}, "photos": []}


def read_manifest(cache: Path) -> dict[str, Any] | None:
    """The cache's manifest, or ``None`` when the cache has none."""
    path = cache / MANIFEST
    if not path.is_file():
        return None
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise ConfigError(
            f"photo manifest {path} is unreadable ({e}): delete it and run `reflect photos fetch`"
        ) from e
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise ConfigError(
            f"photo manifest {path} has an unknown format: delete it and run `reflect photos fetch`"
        )
    return manifest


def write_manifest(cache: Path, manifest: dict[str, Any]) -> None:
    manifest["photos"] = sorted(manifest["photos"], key=lambda r: (r["split"], r["file"]))
    atomic_write_text(
        cache / MANIFEST, json.dumps(manifest, indent=1, ensure_ascii=False, sort_keys=False) + "\n"
    )


def summary(cache: Path, manifest: dict[str, Any]) -> dict[str, Any]:
    """Counts per split, per package and per licence, and the size on disk."""
    photos = manifest["photos"]
    size = sum(
        (cache / r["split"] / r["file"]).stat().st_size
        for r in photos
        if (cache / r["split"] / r["file"]).is_file()
    )
    per_package: dict[str, Counter[str]] = {}
    for r in photos:
        per_package.setdefault(r["package"], Counter())[r["split"]] += 1
    return {
        "total": len(photos),
        "splits": dict(Counter(r["split"] for r in photos)),
        "packages": {p: dict(c) for p, c in sorted(per_package.items())},
        "versions": {p: s.get("version", "") for p, s in manifest["sources"].items()},
        "licences": dict(Counter(r["licence"] for r in photos).most_common()),
        "bytes": size,
    }


def format_summary(cache: Path, s: dict[str, Any]) -> list[str]:
    def splits(c: dict[str, int]) -> str:
        return f"train {c.get('train', 0)}, test {c.get('test', 0)}"

    lines = [f"{n_photos(s['total'])} ({splits(s['splits'])}), {s['bytes'] / 1e6:.1f} MB in {cache}"]
    for p, c in s["packages"].items():
        version = s["versions"].get(p, "")
        lines.append(f"  {p} {version}: {sum(c.values())} ({splits(c)})")
    lines.append("licences: " + "; ".join(f"{lic} {n}" for lic, n in s["licences"].items()))
    return lines
