"""The face bank: face photos, their face boxes and identities, for the cabin layer.

Faces are found once per photo with MTCNN (Zhang et al. 2016, via facenet-pytorch's shipped
weights; imported lazily) on a copy at most 640 px on its longer side. Identities come from, in
order: an ``identities.yaml`` beside the photos (``file: identity``), the sub-folder name
(``faces/<identity>/*.jpg``), or the file name up to its first ``_`` with trailing digits dropped
(``obama2.jpg`` -> ``obama``). Photos that are near-duplicates of each other (perceptual hash) are
merged into one identity, so a re-saved copy can never land in two splits. A photo with several
faces gives one identity per face (``group.jpg#0``, ``#1`` ...).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import cv2
import numpy as np
import yaml

from reflect.data.io import folder_images, read_image
from reflect.errors import ConfigError, ImageReadError

if TYPE_CHECKING:
    from reflect.faces.detectors.mtcnn import MTCNNDetector

log = logging.getLogger(__name__)

DETECT_SIDE = 640  # longest side of the copy MTCNN sees
KEEP_SIDE = 512  # longest side of the head crop kept in memory


@dataclass
class Face:
    """One face: a head-and-shoulders crop (RGB uint8) and the face box inside it."""

    identity: str
    source: str  # photo file name (relative to the faces folder), '#k' for the k-th face
    crop: np.ndarray  # (h, w, 3) uint8
    box: tuple[float, float, float, float]  # x1, y1, x2, y2 of the face in ``crop``
    valid: np.ndarray  # (h, w) float32, 1 where ``crop`` holds photo pixels, 0 beyond the photo's edge


def detect_boxes(image: np.ndarray, min_prob: float = 0.95) -> list[tuple[np.ndarray, float]]:
    """Face boxes (x1, y1, x2, y2) in ``image`` coordinates with MTCNN, best first; no size limit here (the
    bank's ``min_face`` applies after)."""
    from reflect.faces.detectors.mtcnn import MTCNNDetector
    from reflect.faces.resources import FaceModelMissing

    global _MTCNN
    if _MTCNN is None:
        try:
            _MTCNN = MTCNNDetector(device="cpu")
        except FaceModelMissing as e:  # pragma: no cover - depends on the environment
            raise ConfigError(str(e)) from None
    h, w = image.shape[:2]
    scale = min(1.0, DETECT_SIDE / max(h, w))
    small = (
        cv2.resize(image, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_AREA)
        if scale < 1
        else image
    )
    faces = _MTCNN.detect_all([small])[0]
    found = zip(faces.boxes.numpy(), faces.scores.tolist(), strict=True)
    out = [(np.asarray(b, np.float64) / scale, p) for b, p in found]
    return sorted((o for o in out if o[1] >= min_prob), key=lambda o: -o[1])


_MTCNN: MTCNNDetector | None = None


def _name_identity(rel: Path) -> str:
    if len(rel.parts) > 1:
        return rel.parts[0]
    base = rel.stem.lower().split("_")[0]
    return re.sub(r"\d+$", "", base) or rel.stem.lower()


def _head_crop(
    image: np.ndarray, box: np.ndarray
) -> tuple[np.ndarray, tuple[float, float, float, float], np.ndarray]:
    """Cut a head-and-shoulders region around ``box``, at most KEEP_SIDE; beyond the photo's edge
    the crop is padded (replicated) and marked invalid so it is never pasted."""
    x1, y1, x2, y2 = (float(v) for v in box)
    bw, bh = x2 - x1, y2 - y1
    cx1, cy1, cx2, cy2 = x1 - 0.9 * bw, y1 - 0.6 * bh, x2 + 0.9 * bw, y2 + 1.3 * bh
    pad = int(max(bw, bh) * 2) + 1
    padded = cv2.copyMakeBorder(image, pad, pad, pad, pad, cv2.BORDER_REPLICATE)
    valid = np.zeros(padded.shape[:2], np.float32)
    valid[pad:-pad, pad:-pad] = 1.0
    ix1, iy1 = round(cx1) + pad, round(cy1) + pad
    ix2, iy2 = round(cx2) + pad, round(cy2) + pad
    crop, vcrop = padded[iy1:iy2, ix1:ix2], valid[iy1:iy2, ix1:ix2]
    s = min(1.0, KEEP_SIDE / max(crop.shape[:2]))
    if s < 1:
        size = (round(crop.shape[1] * s), round(crop.shape[0] * s))
        crop = cv2.resize(crop, size, interpolation=cv2.INTER_AREA)
        vcrop = cv2.resize(vcrop, size, interpolation=cv2.INTER_AREA)
    ox, oy = ix1 - pad, iy1 - pad
    box_out = ((x1 - ox) * s, (y1 - oy) * s, (x2 - ox) * s, (y2 - oy) * s)
    return np.ascontiguousarray(crop), box_out, np.ascontiguousarray(vcrop)


def _inside_fraction(box: np.ndarray, w: int, h: int) -> float:
    x1, y1, x2, y2 = box
    ix = max(0.0, min(x2, w) - max(x1, 0.0))
    iy = max(0.0, min(y2, h) - max(y1, 0.0))
    return ix * iy / max((x2 - x1) * (y2 - y1), 1e-6)


def _merge_duplicates(
    hashes: dict[str, object], names: dict[str, str], max_distance: int = 2
) -> dict[str, str]:
    """Map every photo to one identity: near-duplicate photos merge their identities.

    The merged identity takes the name that most photos carry (``32bit.png``, a re-save of
    ``obama2.jpg``, joins ``obama``).
    """
    parent = {n: n for n in names.values()}

    def find(n: str) -> str:
        while parent[n] != n:
            n = parent[n]
        return n

    files = sorted(hashes)
    for i, a in enumerate(files):
        for b in files[i + 1 :]:
            if hashes[a] - hashes[b] <= max_distance:  # type: ignore[operator]
                parent[find(names[b])] = find(names[a])
    count: dict[str, int] = {}
    for n in names.values():
        count[n] = count.get(n, 0) + 1
    groups: dict[str, list[str]] = {}
    for n in parent:
        groups.setdefault(find(n), []).append(n)
    best = {root: sorted(members, key=lambda m: (-count[m], m))[0] for root, members in groups.items()}
    return {f: best[find(names[f])] for f in names}


def load_face_bank(
    folder: str | Path, min_prob: float = 0.95, min_face: int = 40, cache: str | Path | None = None
) -> list[Face]:
    """Detect the faces of every photo in ``folder``; photos without a usable face are logged and skipped.

    ``cache``: a JSON file of detections (keyed by file, size and mtime) read if present and
    (re)written, so a second run over the same photos skips MTCNN."""
    import json

    import imagehash
    from PIL import Image

    from reflect.utils.atomic import atomic_write_text

    root = Path(folder)
    files = folder_images(root, "faces folder", recursive=True)
    overrides: dict[str, str] = {}
    id_file = root / "identities.yaml"
    if id_file.is_file():
        overrides = {str(k): str(v) for k, v in (yaml.safe_load(id_file.read_text()) or {}).items()}
    images: dict[str, np.ndarray] = {}
    hashes: dict[str, object] = {}
    names: dict[str, str] = {}
    for f in files:
        rel = f.relative_to(root).as_posix()
        try:
            images[rel] = read_image(f)
        except ImageReadError as e:
            log.warning("skipping face photo: %s", e)
            continue
        names[rel] = overrides.get(rel) or _name_identity(Path(rel))
        hashes[rel] = imagehash.phash(Image.fromarray(images[rel]))
    identity = _merge_duplicates(hashes, names) if not overrides else names
    faces: list[Face] = []
    cached: dict[str, dict[str, object]] = {}
    if cache is not None and Path(cache).is_file():
        try:
            cached = json.loads(Path(cache).read_text())
        except ValueError:
            log.warning("ignoring unreadable face cache %s", cache)
    fresh: dict[str, dict[str, object]] = {}
    for rel, image in images.items():
        h, w = image.shape[:2]
        st = (root / rel).stat()
        sig = f"{st.st_size}:{st.st_mtime_ns}:{min_prob}"
        hit = cached.get(rel)
        if hit is not None and hit.get("sig") == sig:
            found = [(np.asarray(b, np.float64), float(p)) for b, p in cast(list[list[Any]], hit["found"])]
        else:
            found = detect_boxes(image, min_prob)
        fresh[rel] = {"sig": sig, "found": [[b.tolist(), p] for b, p in found]}
        if found:
            biggest = max(b[2] - b[0] for b, _ in found)
            found = [(b, p) for b, p in found if b[2] - b[0] >= max(min_face, 0.5 * biggest)]
        found = [(b, p) for b, p in found if _inside_fraction(b, w, h) >= 0.85]
        if not found:
            log.warning("skipping face photo %s: no whole face of at least %d px found", rel, min_face)
            continue
        for k, (box, _) in enumerate(found):
            crop, cbox, valid = _head_crop(image, box)
            ident = identity[rel] if len(found) == 1 else f"{identity[rel]}#{k}"
            faces.append(
                Face(
                    identity=ident,
                    source=rel if len(found) == 1 else f"{rel}#{k}",
                    crop=crop,
                    box=cbox,
                    valid=valid,
                )
            )
    if cache is not None:
        atomic_write_text(cache, json.dumps(fresh, indent=1, sort_keys=True) + "\n")
    if not faces:
        raise ConfigError(
            f"no usable face found in {root} (MTCNN found no whole face of at least {min_face} px)"
        )
    log.info("face bank: %d faces, %d identities from %s", len(faces), len({f.identity for f in faces}), root)
    return faces


def identities(faces: list[Face]) -> list[str]:
    return sorted({f.identity for f in faces})
