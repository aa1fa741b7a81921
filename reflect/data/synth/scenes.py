"""Layer T from several sources: what stands behind the glass, not only a dark procedural cabin.

A model trained on one kind of backdrop learns that backdrop: trained only on dark cabins, the first
bundled remover painted every bright backdrop dark grey. So the transmitted layer comes from a
source drawn by weight (:class:`~reflect.data.synth.config.SceneConfig`):

- ``cabin``: the procedural cabin of :mod:`reflect.data.synth.cabin` (dark interior, headrests, wheel);
- ``portrait``: the face photo as it was taken, its own (often bright, plain) backdrop filling the
  frame; beyond the photo's edge its border is replicated;
- ``backdrop``: the sitter cut out with the cabin's feathered head-and-shoulders mask and placed
  before a real photograph, defocused (a cabin's depth of field) and exposed from dark to bright;
- ``rear_window``: the cabin with a bright rear window (a defocused photograph or sky) behind the head.

Passengers are pasted in every source. All values are display values in [0, 1], (H, W, 3) float32.
"""

from __future__ import annotations

import cv2
import numpy as np

from reflect.data.synth import glass
from reflect.data.synth.cabin import Placement, cabin_backdrop, paste_person, render_cabin
from reflect.data.synth.config import CabinConfig, SceneConfig
from reflect.data.synth.reflections import PhotoBank

Records = list[dict[str, object]]


def _u(rng: np.random.Generator, r: list[float]) -> float:
    return float(rng.uniform(r[0], r[1])) if r[1] > r[0] else float(r[0])


def _photo(rng: np.random.Generator, photos: PhotoBank, size: int, blur: float, level: float) -> np.ndarray:
    """A random crop of a bank photo, defocused by ``blur`` px and exposed by ``level`` (linear light)."""
    img, _ = photos.sample(rng, size)
    img = glass.blur(img, blur)
    return glass.to_display(glass.to_linear(img) * np.float32(level))


def portrait(
    rng: np.random.Generator, cfg: SceneConfig, size: int, placements: list[Placement]
) -> tuple[np.ndarray, Records]:
    """The driver's photo as taken, scaled so its face box is ``portrait_face_width`` of the side;
    any passenger is pasted beside it."""
    p = placements[0]
    crop, (bx1, by1, bx2, by2) = p.face.crop, p.face.box
    width = _u(rng, cfg.portrait_face_width) * size
    s = width / max(bx2 - bx1, 1e-6)
    tx, ty = p.cx - (bx1 + bx2) / 2 * s, p.cy - (by1 + by2) / 2 * s
    m = np.array([[s, 0.0, tx], [0.0, s, ty]], np.float32)
    interp = cv2.INTER_AREA if s < 1 else cv2.INTER_LINEAR
    img = (
        cv2.warpAffine(crop, m, (size, size), flags=interp, borderMode=cv2.BORDER_REPLICATE).astype(
            np.float32
        )
        / 255.0
    )
    records: Records = [
        {
            "role": "driver",
            "identity": p.face.identity,
            "source": p.face.source,
            "box": [round(float(v), 1) for v in (bx1 * s + tx, by1 * s + ty, bx2 * s + tx, by2 * s + ty)],
        }
    ]
    if len(placements) > 1:
        q = placements[1]
        box = paste_person(img, Placement(q.face, q.cx, q.cy, q.width, 1.0, q.role))
        records.append(
            {
                "role": q.role,
                "identity": q.face.identity,
                "source": q.face.source,
                "box": [round(float(v), 1) for v in box],
            }
        )
    return np.clip(img, 0.0, 1.0), records


def rear_window(
    rng: np.random.Generator,
    scene: SceneConfig,
    cabin: CabinConfig,
    size: int,
    placements: list[Placement],
    photos: PhotoBank,
) -> np.ndarray:
    """A cabin backdrop with a bright, soft-edged rear window behind the occupants' heads."""
    img = cabin_backdrop(rng, cabin, size)
    top = min(p.cy - 0.9 * p.width for p in placements)
    y0, y1 = (
        rng.uniform(-0.1, 0.1) * size,
        max(top + 0.6 * placements[0].width, rng.uniform(0.4, 0.65) * size),
    )
    x0, x1 = rng.uniform(-0.1, 0.3) * size, rng.uniform(0.7, 1.1) * size
    box = np.zeros((size, size), np.float32)
    cv2.rectangle(box, (int(x0), int(y0)), (int(x1), int(y1)), 1.0, -1)
    mask = cv2.GaussianBlur(box, (0, 0), size * rng.uniform(0.01, 0.04))[..., None]
    level = _u(rng, scene.window_level)
    view = _photo(rng, photos, size, _u(rng, scene.backdrop_blur) * size / 256.0, 1.0)
    haze = np.float32(rng.uniform(0.3, 0.9))  # how much of the view is washed out by daylight
    window = (haze * 1.0 + (1.0 - haze) * view) * np.float32(level)
    return img * (1.0 - mask) + window * mask


def render_scene(
    rng: np.random.Generator,
    source: str,
    scene: SceneConfig,
    cabin: CabinConfig,
    size: int,
    placements: list[Placement],
    photos: PhotoBank | None,
) -> tuple[np.ndarray, Records]:
    """Layer T of a source other than ``cabin`` (see the module docstring; the generator renders the
    cabin itself, from the cabin term's generator) and the face records (driver first)."""
    if source == "portrait":
        return portrait(rng, scene, size, placements)
    if photos is None:
        raise ValueError(f"scene source {source!r} needs a photo bank")
    if source == "backdrop":
        back = _photo(
            rng, photos, size, _u(rng, scene.backdrop_blur) * size / 256.0, _u(rng, scene.backdrop_level)
        )
        return render_cabin(rng, cabin, size, placements, backdrop=back, furniture=False)
    if source == "rear_window":
        back = rear_window(rng, scene, cabin, size, placements, photos)
        return render_cabin(rng, cabin, size, placements, backdrop=back)
    raise ValueError(f"unknown scene source {source!r}")
