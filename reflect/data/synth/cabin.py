"""Layer T: a procedural car cabin seen through the windshield, with one or two occupants.

The cabin is drawn in display values in [0, 1]: a dark interior with light from the rear window,
a headrest behind each occupant, the sun visor at the top, the A-pillar at one side and the
steering-wheel rim below the driver's face. The face photo's head-and-shoulders crop is scaled so
the face box has the drawn width and pasted with a feathered head-and-shoulders mask; its box is
returned in output coordinates.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from reflect.data.synth.config import CabinConfig
from reflect.data.synth.faces import Face


@dataclass
class Placement:
    face: Face
    cx: float  # face-box centre, output pixels
    cy: float
    width: float  # face-box width, output pixels
    light: float  # exposure multiplier
    role: str  # driver | passenger


def _u(rng: np.random.Generator, r: list[float]) -> float:
    return float(rng.uniform(r[0], r[1])) if r[1] > r[0] else float(r[0])


def plan_occupants(
    rng: np.random.Generator, cfg: CabinConfig, size: int, driver: Face, passenger: Face | None
) -> list[Placement]:
    """Where the occupants sit; the passenger (if any) sits beside the driver, a little smaller."""
    w = _u(rng, cfg.face_width) * size
    cx, cy = _u(rng, cfg.face_x) * size, _u(rng, cfg.face_y) * size
    out = [Placement(driver, cx, cy, w, _u(rng, cfg.face_light), "driver")]
    side_draw, gap, shrink, dy, light = (
        rng.random(),
        rng.uniform(1.6, 2.2),
        rng.uniform(0.75, 0.95),
        rng.uniform(-0.1, 0.15),
        _u(rng, cfg.face_light),
    )
    if passenger is not None:
        side = -1.0 if (cx > size / 2) == (side_draw < 0.8) else 1.0
        out.append(Placement(passenger, cx + side * gap * w, cy + dy * w, w * shrink, light, "passenger"))
    return out


def cabin_backdrop(rng: np.random.Generator, cfg: CabinConfig, size: int) -> np.ndarray:
    level = _u(rng, cfg.brightness)
    colour = level * rng.uniform(0.8, 1.2, 3).astype(np.float32)
    ramp = np.linspace(1.3, 0.7, size, dtype=np.float32)[:, None, None]
    img = np.broadcast_to(colour[None, None, :] * ramp, (size, size, 3)).copy()
    # light through the rear window: a bright, soft trapezoid in the upper half
    y0, y1 = int(size * rng.uniform(0.05, 0.2)), int(size * rng.uniform(0.35, 0.5))
    x0, x1 = rng.uniform(-0.1, 0.3) * size, rng.uniform(0.7, 1.1) * size
    q = 0.25  # the soft window is drawn at a quarter of the size and up-sampled
    pts = np.array([[x0, y0], [x1, y0], [x1 - 0.08 * size, y1], [x0 + 0.08 * size, y1]]) * q
    small = np.zeros((int(size * q), int(size * q)), np.float32)
    cv2.fillConvexPoly(small, pts.astype(np.int32), 1.0)
    win = cv2.resize(
        cv2.GaussianBlur(small, (0, 0), size * 0.03 * q), (size, size), interpolation=cv2.INTER_LINEAR
    )
    img += win[..., None] * rng.uniform(0.1, 0.45) * rng.uniform(0.85, 1.0, 3).astype(np.float32)
    return img


def _headrest(img: np.ndarray, p: Placement, rng: np.random.Generator) -> None:
    w = p.width
    tone = float(rng.uniform(0.02, 0.12))
    x0, x1 = int(p.cx - 0.95 * w), int(p.cx + 0.95 * w)
    y0 = int(p.cy - 0.9 * w)
    cv2.rectangle(img, (x0, y0 + int(0.3 * w)), (x1, img.shape[0]), (tone, tone, tone), -1)
    cv2.ellipse(
        img,
        (int(p.cx), y0 + int(0.3 * w)),
        (int(0.95 * w), int(0.3 * w)),
        0,
        180,
        360,
        (tone, tone, tone),
        -1,
    )


def paste_person(img: np.ndarray, p: Placement) -> tuple[float, float, float, float]:
    """Paste the head crop so its face box is ``p.width`` wide centred at (cx, cy); return the box."""
    crop, (bx1, by1, bx2, by2) = p.face.crop, p.face.box
    s = p.width / max(bx2 - bx1, 1e-6)
    ch, cw = max(1, round(crop.shape[0] * s)), max(1, round(crop.shape[1] * s))
    interp = cv2.INTER_AREA if s < 1 else cv2.INTER_LINEAR
    small = cv2.resize(crop, (cw, ch), interpolation=interp).astype(np.float32) * (p.light / 255.0)
    fx, fy = (bx1 + bx2) / 2 * s, (by1 + by2) / 2 * s  # face centre inside the scaled crop
    ox, oy = round(p.cx - fx), round(p.cy - fy)
    # feathered head-and-shoulders mask in crop coordinates
    fw, fh = (bx2 - bx1) * s, (by2 - by1) * s
    mask = np.zeros((ch, cw), np.float32)
    cv2.ellipse(
        mask,
        (round(fx), round(fy - 0.12 * fh)),
        (max(1, round(0.68 * fw)), max(1, round(0.78 * fh))),
        0,
        0,
        360,
        1.0,
        -1,
    )
    cv2.rectangle(
        mask, (round(fx - 0.3 * fw), round(fy)), (round(fx + 0.3 * fw), round(fy + 0.9 * fh)), 1.0, -1
    )
    cv2.ellipse(
        mask,
        (round(fx), round(fy + 1.45 * fh)),
        (max(1, round(1.25 * fw)), max(1, round(0.6 * fh))),
        0,
        0,
        360,
        1.0,
        -1,
    )
    mask *= cv2.resize(p.face.valid, (cw, ch), interpolation=cv2.INTER_AREA)
    mask = cv2.GaussianBlur(mask, (0, 0), max(0.5, 0.06 * fw))[..., None]
    H, W = img.shape[:2]
    x0, y0, x1, y1 = max(ox, 0), max(oy, 0), min(ox + cw, W), min(oy + ch, H)
    if x1 > x0 and y1 > y0:
        m = mask[y0 - oy : y1 - oy, x0 - ox : x1 - ox]
        region = img[y0:y1, x0:x1]
        region *= 1.0 - m
        region += m * small[y0 - oy : y1 - oy, x0 - ox : x1 - ox]
    return (bx1 * s + ox, by1 * s + oy, bx2 * s + ox, by2 * s + oy)


def _wheel(img: np.ndarray, p: Placement, rng: np.random.Generator) -> None:
    size = img.shape[0]
    face_bottom = p.cy + 0.65 * p.width
    ay = int(size * rng.uniform(0.25, 0.4))
    top = max(face_bottom + 0.35 * p.width, size * 0.8)
    centre = (int(p.cx + rng.uniform(-0.1, 0.1) * size), int(top + ay))
    tone = float(rng.uniform(0.01, 0.06))
    cv2.ellipse(
        img,
        centre,
        (int(size * rng.uniform(0.35, 0.5)), ay),
        0,
        180,
        360,
        (tone, tone, tone),
        max(2, int(size * 0.035)),
        cv2.LINE_AA,
    )


def _visor_and_pillar(img: np.ndarray, placements: list[Placement], rng: np.random.Generator) -> None:
    size = img.shape[0]
    top_face = min(p.cy - 0.75 * p.width for p in placements)
    h = int(min(size * rng.uniform(0.06, 0.16), top_face - 0.1 * size))
    if h > 2:
        tone = rng.uniform(0.06, 0.2) * np.array([1.0, 0.95, 0.85], np.float32)
        img[:h] = tone * np.linspace(0.8, 1.1, h, dtype=np.float32)[:, None, None]
    if rng.random() < 0.5:
        left = rng.random() < 0.5
        w0, w1 = rng.uniform(0.0, 0.06) * size, rng.uniform(0.08, 0.16) * size
        xs = (w0, w1) if left else (size - w0, size - w1)
        edge = 0 if left else size
        pts = np.array([[edge, 0], [xs[1], 0], [xs[0], size], [edge, size]], np.int32)
        grey = float(rng.uniform(0.01, 0.05))
        cv2.fillConvexPoly(img, pts, (grey, grey, grey), cv2.LINE_AA)


def render_cabin(
    rng: np.random.Generator,
    cfg: CabinConfig,
    size: int,
    placements: list[Placement],
    backdrop: np.ndarray | None = None,
    furniture: bool = True,
) -> tuple[np.ndarray, list[dict[str, object]]]:
    """Draw the cabin and its occupants; returns (H, W, 3) float32 display values and face records.

    ``backdrop`` (display values, (size, size, 3)) replaces the drawn interior; ``furniture=False``
    leaves out the headrests, the wheel, the visor and the pillar (a sitter before a photograph)."""
    img = cabin_backdrop(rng, cfg, size) if backdrop is None else backdrop.astype(np.float32, copy=True)
    records: list[dict[str, object]] = []
    for p in sorted(placements, key=lambda q: q.role != "passenger"):  # passenger first, behind
        if cfg.headrest and furniture:
            _headrest(img, p, rng)
        box = paste_person(img, p)
        records.append(
            {
                "role": p.role,
                "identity": p.face.identity,
                "source": p.face.source,
                "box": [round(float(v), 1) for v in box],
            }
        )
    if cfg.wheel and furniture:
        _wheel(img, placements[0], rng)
    if cfg.visor and furniture:
        _visor_and_pillar(img, placements, rng)
    records.sort(key=lambda r: r["role"] != "driver")
    return np.clip(img, 0.0, 1.0), records
