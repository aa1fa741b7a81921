"""``reflect dataset build``: a CycleGAN-layout training set from a folder of footage.

1. frames from every video (every Nth or on scene change) and every still image;
2. window crops from the camera's ROIs (``--roi FILE``) or around detected faces;
3. near-duplicates dropped (perceptual hash, per stream), crops kept in ``OUT/crops/``;
4. splits by source (camera or video): no source appears in both train and test;
5. a reflection score per crop proposes A (reflections) or B (clean), split at the median unless
   ``--threshold``; ``--labels FILE`` (CSV ``name,label`` or YAML ``name: label``; label A, B or
   drop) overrides the proposal;
6. ``OUT/trainA|trainB|testA|testB`` (links to the crops), ``OUT/crops.csv`` (every crop with its
   score, proposal and label: edit it and pass it back as ``--labels``) and ``OUT/report.json``.
A video that cannot be decoded is listed in the report under ``bad`` and the build goes on.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import os
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import yaml

from data_tools.footage.crops import Camera, camera_for, face_crops, load_rois, roi_crop
from data_tools.footage.frames import BadVideo, is_video, list_footage, video_frames
from data_tools.footage.score import Deduplicator, reflection_score
from reflect.data.io import read_image, write_image
from reflect.errors import ConfigError, ImageReadError
from reflect.utils.atomic import atomic_write_text

log = logging.getLogger(__name__)


@dataclass
class BuildOptions:
    footage: str
    out: str
    roi: str | None = None
    every: int = 10
    scene_threshold: float = 0.0
    margin: float = 0.6
    size: int = 256
    split_by: str = "camera"  # camera | video
    test_fraction: float = 0.2
    seed: int = 0
    dedup_distance: int = 4
    labels: str | None = None
    threshold: float | None = None
    progress: bool = True


def _resize(crop: np.ndarray, size: int) -> np.ndarray:
    h, w = crop.shape[:2]
    s = size / min(h, w)
    interp = cv2.INTER_AREA if s < 1 else cv2.INTER_LINEAR
    return cv2.resize(
        np.ascontiguousarray(crop), (max(1, round(w * s)), max(1, round(h * s))), interpolation=interp
    )


def _read_labels(path: str) -> dict[str, str]:
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"labels file {p} does not exist")
    text = p.read_text()
    if p.suffix.lower() in (".yaml", ".yml"):
        raw = {str(k): str(v) for k, v in (yaml.safe_load(text) or {}).items()}
    else:
        rows = list(csv.DictReader(io.StringIO(text)))
        if rows and "name" in rows[0] and "label" in rows[0]:
            raw = {r["name"]: r["label"] for r in rows}
        else:
            raw = {row[0]: row[1] for row in csv.reader(io.StringIO(text)) if len(row) >= 2}
    for name, label in raw.items():
        if label not in ("A", "B", "drop"):
            raise ConfigError(f"labels file {p}: '{name}' has label '{label}'; use A, B or drop")
    return raw


def _place(src: Path, dst: Path) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    if dst.exists():
        dst.unlink()
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


def _crops_of(frame: np.ndarray, cam: Camera | None, opts: BuildOptions) -> list[tuple[str, np.ndarray]]:
    if cam is not None:
        out = [(f"r{k}", roi_crop(frame, roi)) for k, roi in enumerate(cam.rois)]
        return [(k, c) for k, c in out if c is not None]
    return [(f"f{k}", c) for k, c in enumerate(face_crops(frame, opts.margin))]


def build_dataset(opts: BuildOptions) -> dict[str, Any]:
    from tqdm import tqdm

    root, out = Path(opts.footage), Path(opts.out)
    if not root.is_dir():
        raise ConfigError(f"footage folder {root} does not exist")
    items = list_footage(root)
    if not items:
        raise ConfigError(f"footage folder {root} holds no videos or images")
    cameras, roi_size = load_rois(opts.roi) if opts.roi else ([], None)
    size = roi_size or opts.size
    labels = _read_labels(opts.labels) if opts.labels else {}
    dedup = Deduplicator(opts.dedup_distance)
    crops: list[dict[str, Any]] = []
    bad: list[dict[str, str]] = []
    skipped: list[dict[str, str]] = []
    duplicates = 0
    bar = tqdm(items, desc="dataset build", unit="file", disable=not opts.progress)
    for path in bar:
        rel = path.relative_to(root)
        cam = camera_for(rel, cameras) if cameras else None
        if cameras and cam is None:
            skipped.append({"file": rel.as_posix(), "reason": "no camera in the ROI file matches it"})
            continue
        camera = (
            cam.name if cam and cam.name != "default" else (rel.parts[0] if len(rel.parts) > 1 else rel.stem)
        )
        source = rel.as_posix()
        stem = rel.with_suffix("").as_posix().replace("/", "__")
        try:
            frames = (
                video_frames(path, opts.every, opts.scene_threshold)
                if is_video(path)
                else iter([(0, read_image(path))])
            )
            for index, frame in frames:
                for tag, crop in _crops_of(frame, cam, opts):
                    stream = f"{source}#{tag}"
                    crop = _resize(crop, size)
                    if not dedup.is_new(stream, crop):
                        duplicates += 1
                        continue
                    name = f"{stem}__{index:06d}_{tag}.png"
                    write_image(out / "crops" / name, crop)
                    crops.append(
                        {
                            "name": name,
                            "source": source,
                            "camera": camera,
                            "frame": index,
                            "score": round(reflection_score(crop), 5),
                        }
                    )
        except (BadVideo, ImageReadError) as e:
            log.error("%s: %s", source, e)
            bad.append({"file": source, "reason": str(e)})
        bar.set_postfix(crops=len(crops), bad=len(bad))
    bar.close()
    # splits by source
    key = "camera" if opts.split_by == "camera" else "source"
    groups = sorted({c[key] for c in crops})
    np.random.default_rng([opts.seed, 77]).shuffle(groups)
    n_test = 0
    if opts.test_fraction > 0 and len(groups) >= 2:
        n_test = min(len(groups) - 1, max(1, round(len(groups) * opts.test_fraction)))
    test_groups = set(groups[:n_test])
    threshold = (
        opts.threshold
        if opts.threshold is not None
        else (float(np.median([c["score"] for c in crops])) if crops else 0.0)
    )
    for c in crops:
        c["split"] = "test" if c[key] in test_groups else "train"
        c["proposed"] = "A" if c["score"] > threshold else "B"
        c["label"] = labels.get(c["name"], c["proposed"])
    counts: dict[str, int] = {}
    for folder in ("trainA", "trainB", "testA", "testB"):
        if (out / folder).is_dir():
            shutil.rmtree(out / folder)  # a rebuild (e.g. with new labels) starts the layout afresh
    for c in crops:
        if c["label"] == "drop":
            continue
        folder = c["split"] + c["label"]
        _place(out / "crops" / c["name"], out / folder / c["name"])
        counts[folder] = counts.get(folder, 0) + 1
    buf = io.StringIO()
    fields = ["name", "source", "camera", "frame", "split", "score", "proposed", "label"]
    writer = csv.DictWriter(buf, fieldnames=fields, extrasaction="ignore")
    writer.writeheader()
    writer.writerows(crops)
    atomic_write_text(out / "crops.csv", buf.getvalue())
    report = {
        "footage": str(root),
        "out": str(out),
        "files": len(items),
        "crops": len(crops),
        "duplicates_dropped": duplicates,
        "bad": bad,
        "skipped": skipped,
        "threshold": round(threshold, 5),
        "split_by": opts.split_by,
        "test_sources": sorted(test_groups),
        "train_sources": sorted(set(groups) - test_groups),
        "counts": counts,
        "labels_overridden": sum(c["label"] != c["proposed"] for c in crops),
        "options": asdict(opts),
    }
    atomic_write_text(out / "report.json", json.dumps(report, indent=1) + "\n")
    return report


def video_crops(
    videos: list[Path],
    root: Path,
    out: Path,
    *,
    roi: str | None = None,
    every: int = 10,
    margin: float = 0.6,
    size: int = 256,
    progress: bool = True,
) -> list[Path]:
    """Window crops from ``videos`` (under ``root``) for ``reflect adapt``, made as ``build_dataset`` makes
    them (steps 1-3: every ``every``-th frame, the camera's ROIs from ``roi`` or squares around MTCNN
    faces, near-duplicates dropped per stream), written to ``out`` as PNG; no splits, no labels (a site's
    crops are all unlabeled). A video that cannot be decoded, or that no camera of the ROI file matches,
    is one logged line and left out. Returns the crops written, in order."""
    from tqdm import tqdm

    if every < 1:
        raise ConfigError(f"--every {every} must be at least 1")
    cameras, roi_size = load_rois(roi) if roi else ([], None)
    opts = BuildOptions(
        footage=str(root), out=str(out), roi=roi, every=every, margin=margin, size=roi_size or size
    )
    dedup = Deduplicator(opts.dedup_distance)
    written: list[Path] = []
    for path in tqdm(videos, desc="site videos", unit="video", disable=not progress):
        rel = path.relative_to(root)
        cam = camera_for(rel, cameras) if cameras else None
        if cameras and cam is None:
            log.error("%s: no camera in the ROI file %s matches it; left out of the site", path, roi)
            continue
        stem = rel.with_suffix("").as_posix().replace("/", "__")
        try:
            for index, frame in video_frames(path, every):
                for tag, crop in _crops_of(frame, cam, opts):
                    crop = _resize(crop, opts.size)
                    if dedup.is_new(f"{rel.as_posix()}#{tag}", crop):
                        name = out / f"{stem}__{index:06d}_{tag}.png"
                        write_image(name, crop)
                        written.append(name)
        except BadVideo as e:
            log.error("%s: %s; left out of the site", path, e)
    return written
