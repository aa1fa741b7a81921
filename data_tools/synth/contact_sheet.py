"""A contact sheet: a PNG grid of samples with their parameters, to judge realism at a glance.

Each cell shows the input (with reflections) and, where the layout has one, the clean target with
the manifest's face boxes drawn on it, above the sample's main parameters in small text.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import cv2
import numpy as np

from reflect.data.io import read_image, write_image


def describe(rec: dict[str, Any]) -> list[str]:
    """Short lines naming the parameters of one manifest record."""
    p = rec["params"]
    lines = [f"#{rec['index']} {rec['split']} {rec['domain']}"]
    r = p.get("reflection")
    if r:
        what = r.get("photo", r["source"])
        lines.append(f"R {what} r={r['strength']:.2f} blur={r['blur_sigma'] or 0:.1f}")
    else:
        lines.append("R off")
    bits = []
    if p.get("ghost"):
        bits.append(f"ghost c={p['ghost']['c']:.2f}")
    if p.get("glare"):
        bits.append(f"glare x{len(p['glare']['spots'])}")
    if p.get("false_colour"):
        bits.append(f"fc {p['false_colour']['hue_shift']:.0f}deg")
    if p.get("nir"):
        bits.append("NIR")
    lines.append(" ".join(bits) or "-")
    cam = []
    if p.get("glass"):
        cam.append(f"t={p['glass']['transmission']:.2f}")
    if p.get("noise"):
        cam.append(f"n={p['noise']['sigma']:.3f}")
    if p.get("jpeg"):
        cam.append(f"q{p['jpeg']['quality']}")
    if p.get("low_res"):
        cam.append(f"lr{p['low_res']['scale']:.2f}")
    if p.get("motion_blur"):
        cam.append(f"mb{p['motion_blur']['length']:.0f}")
    lines.append(" ".join(cam) or "-")
    return lines


def _cell(root: Path, rec: dict[str, Any], side: int) -> np.ndarray:
    images = []
    for kind in ("input", "target"):
        rel = rec["files"].get(kind)
        if rel is None:
            continue
        img = read_image(root / rel)
        scale = side / img.shape[0]
        img = cv2.resize(img, (side, side), interpolation=cv2.INTER_AREA)
        if kind == "target":
            for f in rec["faces"]:
                x1, y1, x2, y2 = (int(round(v * scale)) for v in f["box"])
                cv2.rectangle(img, (x1, y1), (x2, y2), (0, 255, 0), 1)
        images.append(img)
    pair = np.concatenate(images, axis=1)
    pair = np.pad(pair, ((0, 0), (0, 2 * side - pair.shape[1]), (0, 0)))
    text = np.full((48, 2 * side, 3), 24, np.uint8)
    for k, line in enumerate(describe(rec)):
        cv2.putText(
            text, line, (3, 10 + 12 * k), cv2.FONT_HERSHEY_SIMPLEX, 0.33, (230, 230, 230), 1, cv2.LINE_AA
        )
    return np.concatenate([pair, text], axis=0)


def contact_sheet(
    root: str | Path, records: list[dict[str, Any]], out: str | Path, columns: int = 4, side: int = 160
) -> Path:
    """Draw ``records`` (manifest lines of the dataset in ``root``) as a grid PNG at ``out``."""
    root = Path(root)
    cells = [_cell(root, r, side) for r in records]
    if not cells:
        raise ValueError("contact sheet: no samples to draw")
    blank = np.zeros_like(cells[0])
    while len(cells) % columns:
        cells.append(blank)
    rows = [np.concatenate(cells[i : i + columns], axis=1) for i in range(0, len(cells), columns)]
    sheet = np.concatenate(rows, axis=0)
    write_image(out, sheet)
    return Path(out)
