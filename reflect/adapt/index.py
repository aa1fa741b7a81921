"""The site index: every site crop, prepared once, with its faces (found once per run).

For each crop (:func:`reflect.data.site.prepare` at the training size) MTCNN finds the faces; dlib's
5-point predictor places the landmarks the identity loss aligns its chips with; the base model's
predicted reflection inside the face box says whether the face is already *clear* (mean reflection
below ``clear_reflection`` in [0, 1] units and a confident detection): only clear faces feed the
identity loss, which keeps what the input shows where there is little to remove. An unreadable file
is one logged line and left out. Written to ``RUN/site_index.json``, read back on every resume.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import torch

from reflect.data.io import read_image, to_tensor
from reflect.data.site import INDEX_NAME, prepare
from reflect.errors import ConfigError, ImageReadError
from reflect.utils.atomic import atomic_write_text

log = logging.getLogger(__name__)

CLEAR_REFLECTION = 0.02  # mean predicted reflection in the face box, [0, 1] units
CLEAR_SCORE = 0.95  # MTCNN confidence of a clear face


def build_index(
    files: list[Path],
    size: int,
    base: Any,
    *,
    clear_reflection: float = CLEAR_REFLECTION,
    detector: Any = None,
) -> dict[str, Any]:
    """The index of ``files`` (see the module docstring); ``base`` is a remover variant (``layers``)."""
    from reflect.faces.detectors import make_detector
    from reflect.faces.landmarks import dlib_shape5

    det = detector if detector is not None else make_detector("mtcnn")
    crops: list[dict[str, Any]] = []
    skipped: list[str] = []
    for path in files:
        try:
            img = prepare(read_image(path), size)
        except ImageReadError as e:
            log.error("%s; left out of the site", e)
            skipped.append(str(path))
            continue
        found = det.detect([img])[0]
        faces = []
        if len(found):
            with torch.no_grad():
                _, r = base.layers(to_tensor(img)[None])
            refl = (r[0].clamp(min=0) * 0.5).mean(0) if r is not None else torch.zeros(size, size)
            for k in range(len(found)):
                x1, y1, x2, y2 = (min(max(float(v), 0.0), float(size)) for v in found.boxes[k].tolist())
                if x2 - x1 < 8 or y2 - y1 < 8:
                    continue
                level = float(refl[int(y1) : int(y2) + 1, int(x1) : int(x2) + 1].mean())
                score = float(found.scores[k])
                faces.append(
                    {
                        "box": [round(v, 2) for v in (x1, y1, x2, y2)],
                        "lm": [[round(float(a), 2) for a in p] for p in dlib_shape5(img, (x1, y1, x2, y2))],
                        "score": round(score, 4),
                        "reflection": round(level, 4),
                        "clear": level < clear_reflection and score >= CLEAR_SCORE,
                    }
                )
        crops.append({"path": str(path), "faces": faces})
    if not crops:
        raise ConfigError(
            f"no site crop could be read ({len(skipped)} unreadable files; see the errors above)"
        )
    n_faces = sum(len(c["faces"]) for c in crops)
    n_clear = sum(f["clear"] for c in crops for f in c["faces"])
    levels = sorted(f["reflection"] for c in crops for f in c["faces"])
    median = f"{levels[len(levels) // 2]:.3f}" if levels else "n/a"
    log.info(
        "site index: %d crops (%d unreadable), %d faces (median reflection in the box %s), %d clear below %g "
        "(the identity loss's faces)",
        len(crops),
        len(skipped),
        n_faces,
        median,
        n_clear,
        clear_reflection,
    )
    return {"size": size, "crops": crops, "skipped": skipped}


def save_index(index: dict[str, Any], run_dir: Path) -> Path:
    path = run_dir / INDEX_NAME
    atomic_write_text(path, json.dumps(index, indent=1))
    return path
