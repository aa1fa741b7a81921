"""What a batch job reads: image and video files below a folder, and where the window is in each.

A per-camera ROI file (JSON or YAML) maps a camera to the window rectangle ``[x, y, w, h]`` in
pixels of that camera's frames. A key is matched against a file's path relative to the input root
as a glob pattern (``cam01/*``, ``**/north*.mp4``) or as its first folder name (``cam01``);
``default`` applies when nothing else matches. Without an ROI file the whole frame is cleaned.
"""

from __future__ import annotations

import fnmatch
import json
import os
from pathlib import Path

import yaml

from reflect.data.io import IMAGE_EXTENSIONS, VIDEO_EXTENSIONS
from reflect.errors import ConfigError

Roi = tuple[int, int, int, int]  # x, y, w, h in pixels


def kind_of(path: str | os.PathLike[str]) -> str | None:
    suffix = Path(path).suffix.lower()
    if suffix in IMAGE_EXTENSIONS:
        return "image"
    if suffix in VIDEO_EXTENSIONS:
        return "video"
    return None


def discover(
    root: str | Path,
    exclude: str | Path | None = None,
    ignored: list[str] | None = None,
    unreadable: list[str] | None = None,
) -> list[tuple[str, str]]:
    """``(relative path, kind)`` of every image and video below ``root`` (recursive, sorted).

    Hidden files and folders (a leading dot) are skipped: that is where jobs keep their state.
    ``exclude`` (the job's output folder, when it lies inside ``root``) is skipped too, so a job
    never reads its own outputs back as inputs. Other files (neither image nor video by their
    extension: ``.gif``, ``.txt``) are appended to ``ignored`` when it is given. Folders that cannot
    be listed (no permission) are appended to ``unreadable`` as ``'path (reason)'``; without that
    list they are one :class:`ConfigError`. Links to folders are not followed (no loops).
    """
    base = Path(root)
    if not base.exists():
        raise ConfigError(f"input {base} does not exist")
    if base.is_file():
        kind = kind_of(base)
        if kind is None:
            raise ConfigError(f"input {base} is neither an image nor a video (by its extension)")
        return [(base.name, kind)]
    found = []
    skip = Path(exclude).resolve() if exclude is not None else None

    def cannot_list(e: OSError) -> None:
        where = f"{e.filename} ({e.strerror or e})"
        if unreadable is None:
            raise ConfigError(f"cannot read the input folder {where}") from None
        unreadable.append(where)

    for dirpath, dirnames, filenames in os.walk(base, onerror=cannot_list):
        dirnames[:] = sorted(
            d for d in dirnames if not d.startswith(".") and (Path(dirpath) / d).resolve() != skip
        )
        for name in filenames:
            if name.startswith("."):
                continue
            p = Path(dirpath) / name
            kind = kind_of(p)
            if kind is not None:
                found.append((p.relative_to(base).as_posix(), kind))
            elif ignored is not None:
                ignored.append(p.relative_to(base).as_posix())
    return sorted(found)


def input_root(root: str | Path) -> Path:
    """The folder relative paths are taken from (the file's parent for a single-file input)."""
    p = Path(root)
    return p.parent if p.is_file() else p


def load_rois(path: str | Path | None) -> dict[str, Roi]:
    """Read a ROI file: ``{pattern: [x, y, w, h]}``; an empty mapping means whole frames."""
    if path is None:
        return {}
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"ROI file {p} does not exist")
    try:
        text = p.read_text()
        data = json.loads(text) if p.suffix.lower() == ".json" else yaml.safe_load(text)
    except (json.JSONDecodeError, yaml.YAMLError, UnicodeDecodeError) as e:
        raise ConfigError(f"ROI file {p} is not valid JSON/YAML: {str(e).splitlines()[0]}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"ROI file {p} must map camera names or patterns to [x, y, w, h]")
    rois: dict[str, Roi] = {}
    for key, value in data.items():
        ok = isinstance(value, list | tuple) and len(value) == 4 and all(isinstance(v, int) for v in value)
        if not ok or value[2] <= 0 or value[3] <= 0 or value[0] < 0 or value[1] < 0:
            raise ConfigError(f"ROI file {p}: '{key}' must be [x, y, w, h] with integer pixels and w, h > 0")
        rois[str(key)] = (value[0], value[1], value[2], value[3])
    return rois


def roi_for(rel: str, rois: dict[str, Roi]) -> Roi | None:
    """The rectangle for input ``rel``, or None (whole frame)."""
    first = rel.split("/", 1)[0] if "/" in rel else None
    for key, roi in rois.items():
        if key != "default" and (fnmatch.fnmatch(rel, key) or key == first):
            return roi
    return rois.get("default")


def clip_roi(roi: Roi | None, height: int, width: int) -> Roi:
    """Clip a rectangle to a frame; None or a rectangle outside the frame -> the whole frame."""
    if roi is None:
        return (0, 0, width, height)
    x, y, w, h = roi
    x0, y0 = min(x, width), min(y, height)
    x1, y1 = min(x + w, width), min(y + h, height)
    if x1 - x0 < 4 or y1 - y0 < 4:
        raise ValueError(f"ROI {list(roi)} lies outside the {width}x{height} frame")
    return (x0, y0, x1 - x0, y1 - y0)
