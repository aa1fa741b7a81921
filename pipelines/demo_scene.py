"""The demo's window crops: public-domain faces in a cabin-like window, behind the demo's own glass.

Not the training renderer (:mod:`reflect.data.synth`): the windows are a simple dark backdrop with the
head and shoulders pasted in, and the glass is blended in display values (:func:`through_glass`), so
the bundled model is tested on a recipe it was not trained on. :func:`build_data` writes the gallery,
the clean / no-reflection / through-glass stills, a short video and, for the optional demo model, its
training folders.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import cv2
import numpy as np

from reflect.data.io import list_images, read_image, write_image
from reflect.utils.atomic import atomic_write_text
from reflect.utils.images import float_to_uint8

log = logging.getLogger(__name__)
DATA = Path(__file__).resolve().parent / "demo_data"
WINDOW = 256  # window crop side (px), the size the bundled model was trained at
HEAD = 128  # gallery head crop side (px)
FACE_WIDTH = (0.25, 0.35)  # face box width / window width (the bundled model saw 0.15-0.4)
PROBES = 6  # stills per identity
STRENGTH = 0.85  # reflection strength at the top of the glass
PROCEDURAL = ("sky", "foliage", "buildings", "streetlights")
Box = tuple[int, int, int, int]


def face_photos(backend: object) -> dict[str, list[tuple[np.ndarray, Box]]]:
    """identity -> (photo, largest face box) for each photo, the gallery photo first."""
    import skimage.data

    photos: dict[str, list[np.ndarray]] = {}
    for p in list_images(DATA / "faces", recursive=True):
        photos.setdefault(p.parent.name, []).append(read_image(p))
    photos["astronaut"] = [np.ascontiguousarray(skimage.data.astronaut())]
    found: dict[str, list[tuple[np.ndarray, Box]]] = {}
    for ident, images in sorted(photos.items()):
        for img in images:
            boxes = backend.detect_boxes(img)  # type: ignore[attr-defined]
            if not boxes:
                log.warning("demo: no face found in a photo of %s; skipped", ident)
                continue
            found.setdefault(ident, []).append((img, boxes[0]))
    return found


def head_crop(img: np.ndarray, box: Box, side: int = HEAD) -> np.ndarray:
    """A square head crop (1.7x the face box) resized to ``side``: the gallery photo."""
    x1, y1, x2, y2 = box
    cx, cy, s = (x1 + x2) / 2, (y1 + y2) / 2 + 0.05 * (y2 - y1), 1.7 * max(x2 - x1, y2 - y1)
    src = np.array([[cx - s / 2, cy - s / 2], [cx + s / 2, cy - s / 2], [cx - s / 2, cy + s / 2]], np.float32)
    m = cv2.getAffineTransform(src, np.array([[0, 0], [side, 0], [0, side]], np.float32))
    return cv2.warpAffine(img, m, (side, side), flags=cv2.INTER_AREA, borderMode=cv2.BORDER_REFLECT)


def cabin_window(
    img: np.ndarray, box: Box, rng: np.random.Generator, size: int = WINDOW
) -> tuple[np.ndarray, Box]:
    """The window crop with no glass: a dark cabin-like backdrop (a rear-window glow, a seat behind
    the head) and the head and shoulders from ``img`` pasted so the face box is FACE_WIDTH of the
    width, a little dimmer than outside. Returns the RGB uint8 scene and the face box in it."""
    x1, y1, x2, y2 = box
    fw = rng.uniform(*FACE_WIDTH) * size
    cx, cy = rng.uniform(0.4, 0.6) * size, rng.uniform(0.42, 0.5) * size
    yy = np.linspace(0.0, 1.0, size, dtype=np.float32)[:, None, None]
    colour = rng.uniform(0.04, 0.12) * rng.uniform(0.85, 1.15, 3).astype(np.float32)
    scene = np.broadcast_to(colour * (1.25 - 0.5 * yy), (size, size, 3)).copy()
    glow = np.exp(-(((yy - rng.uniform(0.12, 0.25)) / 0.08) ** 2)) * rng.uniform(0.05, 0.2)
    scene += glow.astype(np.float32)
    seat = np.zeros((size, size), np.float32)  # the seat's headrest and back behind the occupant, soft-edged
    cv2.ellipse(
        seat, (round(cx), round(cy - 0.35 * fw)), (round(0.85 * fw), round(0.45 * fw)), 0, 0, 360, 1.0, -1
    )
    cv2.rectangle(seat, (round(cx - 1.1 * fw), round(cy + 0.9 * fw)), (round(cx + 1.1 * fw), size), 1.0, -1)
    soft = np.asarray(cv2.GaussianBlur(seat, (0, 0), 0.08 * fw))[..., None]
    scene = scene * (1 - soft) + soft * float(rng.uniform(0.02, 0.06))
    s = fw / max(x2 - x1, 1)
    small = (
        cv2.resize(
            img,
            (max(1, round(img.shape[1] * s)), max(1, round(img.shape[0] * s))),
            interpolation=cv2.INTER_AREA if s < 1 else cv2.INTER_LINEAR,
        ).astype(np.float32)
        / 255.0
    )
    fcx, fcy = (x1 + x2) / 2 * s, (y1 + y2) / 2 * s
    m = np.array([[1, 0, cx - fcx], [0, 1, cy - fcy]], np.float32)
    person = cv2.warpAffine(small, m, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
    valid = cv2.warpAffine(np.ones(small.shape[:2], np.float32), m, (size, size), flags=cv2.INTER_LINEAR)
    fh = (y2 - y1) * s
    mask = np.zeros((size, size), np.float32)  # head, neck and shoulders
    cv2.ellipse(
        mask, (round(cx), round(cy - 0.12 * fh)), (round(0.6 * fw), round(0.8 * fh)), 0, 0, 360, 1.0, -1
    )
    cv2.rectangle(
        mask, (round(cx - 0.3 * fw), round(cy)), (round(cx + 0.3 * fw), round(cy + 0.95 * fh)), 1.0, -1
    )
    cv2.ellipse(
        mask, (round(cx), round(cy + 1.5 * fh)), (round(1.3 * fw), round(0.62 * fh)), 0, 0, 360, 1.0, -1
    )
    soft = np.asarray(cv2.GaussianBlur(mask * valid, (0, 0), 0.06 * fw))[..., None]
    scene = scene * (1 - soft) + soft * person * rng.uniform(0.6, 0.95)
    face = (round(cx - fw / 2), round(cy - fh / 2), round(cx + fw / 2), round(cy + fh / 2))
    return float_to_uint8(scene), face


def reflection(rng: np.random.Generator, size: int) -> np.ndarray:
    """One reflection layer in [0, 1], (size, size, 3)."""
    try:
        from reflect.data.synth.reflections import reflection_layer

        layer, _ = reflection_layer(rng, str(rng.choice(PROCEDURAL)), size, None)
        return np.asarray(layer, np.float32)
    except ImportError:  # synthesis not installed: a plain bright gradient with bars
        y, x = np.mgrid[0:size, 0:size] / size
        bars = (np.sin(x * 30 + rng.uniform(0, 6)) > 0.4).astype(np.float32)
        return (
            np.stack([0.6 + 0.4 * y, 0.7 + 0.3 * y, 0.9 * np.ones_like(y)], -1) * 0.6 + bars[..., None] * 0.4
        )


def through_glass(
    scene: np.ndarray, layer: np.ndarray, rng: np.random.Generator, strength: float = STRENGTH
) -> tuple[np.ndarray, np.ndarray]:
    """The demo's glass recipe, in display values: the tinted, darkened scene plus a blurred,
    Fresnel-weighted reflection. Returns (the view through the glass, the same view without the
    reflection), both RGB uint8."""
    h, w = scene.shape[:2]
    t = scene.astype(np.float32) / 255.0 * np.array([0.80, 0.88, 0.86], np.float32) * rng.uniform(0.7, 0.85)
    r = cv2.GaussianBlur(cv2.resize(layer, (w, h)), (0, 0), rng.uniform(0.5, 2.0))
    fresnel = np.linspace(1.0, 0.45, h, dtype=np.float32)[:, None, None]
    out = t + strength * fresnel * r

    def u8(x: np.ndarray) -> np.ndarray:
        return float_to_uint8(x)

    return u8(out), u8(t)


def build_data(
    root: Path, photos: dict[str, list[tuple[np.ndarray, Box]]], seed: int = 0, train: bool = False
) -> dict[str, Path]:
    """Under ``root``: gallery/, clean/stills (the windows without glass), no_reflection/stills (through
    the glass without the reflection), glass/stills and glass/video (through the glass: what gets
    cleaned), manifest.json (face boxes); with ``train`` also the demo model's training folders."""
    rng = np.random.default_rng(seed)
    d = {k: root / k for k in ("gallery", "clean", "no_reflection", "glass", "train", "pairs")}
    faces: dict[str, Box] = {}
    for ident, found in photos.items():
        write_image(d["gallery"] / ident / "ref.png", head_crop(*found[0]))
        views = found[1:] or found  # one photo only: probes mirror it on odd views
        for k in range(PROBES):
            img, box = views[k % len(views)]
            if len(found) == 1 and k % 2:
                img, box = (
                    np.ascontiguousarray(img[:, ::-1]),
                    (img.shape[1] - box[2], box[1], img.shape[1] - box[0], box[3]),
                )
            scene, faces[f"{ident}/{k}.png"] = cabin_window(img, box, rng)
            glass, no_refl = through_glass(scene, reflection(rng, WINDOW), rng)
            write_image(d["clean"] / "stills" / ident / f"{k}.png", scene)
            write_image(d["no_reflection"] / "stills" / ident / f"{k}.png", no_refl)
            write_image(d["glass"] / "stills" / ident / f"{k}.png", glass)
    atomic_write_text(root / "manifest.json", json.dumps({"face_boxes": faces}, indent=1))
    if train:  # the demo model's training views, from their own random stream: the probes stay the same
        trng = np.random.default_rng(seed + 1000)
        for ident, found in photos.items():
            for k, (img, box) in enumerate(found):
                for j in range(24):  # flips, placements, many reflections
                    if j % 2:
                        img_j = np.ascontiguousarray(img[:, ::-1])
                        box_j = (img.shape[1] - box[2], box[1], img.shape[1] - box[0], box[3])
                    else:
                        img_j, box_j = img, box
                    scene, _ = cabin_window(img_j, box_j, trng)
                    glass, _ = through_glass(scene, reflection(trng, WINDOW), trng)
                    name = f"{ident}_{k}_{j}.png"
                    write_image(d["train"] / "trainB" / name, scene)
                    write_image(d["train"] / "trainA" / name, glass)
                    if j % 2 == 0:  # half the views also serve as synthetic pairs (input, clean target)
                        write_image(d["pairs"] / "train" / "input" / name, glass)
                        write_image(d["pairs"] / "train" / "target" / name, scene)
    scene, _ = cabin_window(*photos["obama"][-1], np.random.default_rng(seed + 1))
    layer = reflection(rng, WINDOW * 2)
    video = d["glass"] / "video" / "checkpoint_cam.avi"
    video.parent.mkdir(parents=True, exist_ok=True)
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter.fourcc(*"MJPG"), 12, (WINDOW, WINDOW))
    for i in range(36):  # the reflection drifts across the window as the car moves
        frame, _ = through_glass(
            scene, np.roll(layer, 6 * i, axis=1)[:WINDOW, :WINDOW], np.random.default_rng(1)
        )
        writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    writer.release()
    return d
