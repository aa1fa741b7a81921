"""Layer R: what the windshield reflects, from real photographs or procedural scenes.

Sources (display values in [0, 1], (H, W, 3) float32):
- ``photo``: a random crop of a user folder of photos, by default scikit-image's bundled
  photographs (the astronaut is left out: a reflected face would confuse identity metrics);
- ``sky``: a blue gradient with fractal clouds;
- ``foliage``: tree-branch silhouettes and leaf clusters against a bright sky;
- ``buildings``: window-grid facades in perspective under a strip of sky;
- ``streetlights``: night scene with bright lamps and their halos;
- ``person``: a passer-by (another person's photo, large and close to the glass) before a photo.

Photo folders: a path, or ``cache:train`` / ``cache:test`` for the photographs that
``reflect photos fetch`` keeps in the user's cache (:func:`photo_cache`).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Collection
from pathlib import Path
from typing import TYPE_CHECKING

import cv2
import numpy as np

from reflect.data.io import folder_images, read_image
from reflect.errors import ConfigError, ImageReadError

if TYPE_CHECKING:
    from reflect.data.synth.faces import Face

log = logging.getLogger(__name__)

SKIMAGE_PHOTOS = (
    "chelsea.png",
    "coffee.png",
    "rocket.jpg",
    "motorcycle_left.png",
    "brick.png",
    "grass.png",
    "gravel.png",
    "camera.png",
    "hubble_deep_field.jpg",
    "coins.png",
    "moon.png",
)
PHOTO_SIDE = 512


def photo_cache() -> Path:
    """Where ``reflect photos fetch`` keeps its photographs: ``$XDG_CACHE_HOME/reflect/photos``
    (``~/.cache/reflect/photos``), with ``train/`` and ``test/`` sub-folders."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "reflect" / "photos"


def resolve_folder(folder: str | Path, key: str = "reflection.folder") -> Path:
    """A photo folder setting: ``cache:SPLIT`` names a split of :func:`photo_cache`, else a path."""
    text = str(folder)
    if text.startswith("cache:"):
        split = text[len("cache:") :]
        if split not in ("train", "test"):
            raise ConfigError(
                f"{key}: '{text}' names no split of the photo cache (cache:train or cache:test)"
            )
        root = photo_cache() / split
        if not root.is_dir() or not any(root.iterdir()):
            raise ConfigError(f"{key}: the photo cache {root} is empty: run `reflect photos fetch` first")
        return root
    root = Path(text).expanduser()
    if not root.is_dir():
        raise ConfigError(f"{key} {root} does not exist")
    return root


class PhotoBank:
    """Photos to reflect, loaded once and kept at most PHOTO_SIDE px on the longer side."""

    def __init__(
        self,
        folder: str | Path = "",
        photos: list[str] | tuple[str, ...] = (),
        key: str = "reflection.folder",
    ) -> None:
        if folder:
            root = resolve_folder(folder, key)
            files = folder_images(root, key, recursive=True)
        else:
            import skimage.data

            root = Path(skimage.data.data_dir)
            unknown = [n for n in photos if not (root / n).is_file()]
            if unknown:
                raise ConfigError(
                    f"reflection.photos: {', '.join(unknown)} not among scikit-image's photographs in {root}"
                )
            files = [root / n for n in (photos or SKIMAGE_PHOTOS) if (root / n).is_file()]
        self.names: list[str] = []
        self.images: list[np.ndarray] = []
        for f in files:
            try:
                img = read_image(f)
            except ImageReadError as e:
                log.warning("skipping reflection photo: %s", e)
                continue
            s = min(1.0, PHOTO_SIDE / max(img.shape[:2]))
            if s < 1:
                img = cv2.resize(
                    img, (round(img.shape[1] * s), round(img.shape[0] * s)), interpolation=cv2.INTER_AREA
                )
            self.names.append(f.name)
            self.images.append(img)
        if not self.images:
            raise ConfigError(f"no readable reflection photos in {root}")

    def sample(self, rng: np.random.Generator, size: int) -> tuple[np.ndarray, dict[str, object]]:
        k = int(rng.integers(len(self.images)))
        img = self.images[k]
        h, w = img.shape[:2]
        side = int(min(h, w) * rng.uniform(0.4, 1.0))
        y, x = int(rng.integers(0, h - side + 1)), int(rng.integers(0, w - side + 1))
        crop = img[y : y + side, x : x + side]
        if rng.random() < 0.5:
            crop = crop[:, ::-1]
        out = cv2.resize(
            np.ascontiguousarray(crop),
            (size, size),
            interpolation=cv2.INTER_AREA if side > size else cv2.INTER_LINEAR,
        )
        return out.astype(np.float32) / 255.0, {"photo": self.names[k], "crop": [x, y, side]}


def fractal_noise(rng: np.random.Generator, size: int, octaves: int = 5, base: int = 3) -> np.ndarray:
    """Sum of upsampled random grids (value noise), normalised to [0, 1]; built at most 128 px
    (the result is smooth) and up-sampled to ``size``."""
    work = min(size, 128)
    out = np.zeros((work, work), np.float32)
    amp, total = 1.0, 0.0
    for o in range(octaves):
        n = base * 2**o
        grid = rng.random((n + 1, n + 1), dtype=np.float32)
        out += amp * cv2.resize(grid, (work, work), interpolation=cv2.INTER_CUBIC)
        total += amp
        amp *= 0.55
    lo, hi = float(out.min()), float(out.max())
    out = (out - lo) / max(hi - lo, 1e-6)
    return cv2.resize(out, (size, size), interpolation=cv2.INTER_LINEAR) if work != size else out


def sky(rng: np.random.Generator, size: int) -> tuple[np.ndarray, dict[str, object]]:
    top = np.array([rng.uniform(0.15, 0.4), rng.uniform(0.35, 0.6), rng.uniform(0.7, 1.0)], np.float32)
    horizon = np.array([rng.uniform(0.75, 0.95)] * 2 + [rng.uniform(0.85, 1.0)], np.float32)
    t = np.linspace(0, 1, size, dtype=np.float32)[:, None, None] ** rng.uniform(0.6, 1.6)
    img = top * (1 - t) + horizon * t
    img = np.broadcast_to(img, (size, size, 3)).copy()
    cover = float(rng.uniform(0.0, 0.9))
    n = fractal_noise(rng, size)
    thr = 1.0 - cover
    c = np.clip((n - thr) / 0.25 + 0.0, 0, 1)[..., None]
    shade = 0.75 + 0.25 * fractal_noise(rng, size, octaves=3, base=4)[..., None]
    img = img * (1 - c) + c * shade
    return img, {"clouds": round(cover, 3)}


def _branch(
    mask: np.ndarray,
    rng: np.random.Generator,
    x: float,
    y: float,
    angle: float,
    length: float,
    thick: float,
    depth: int,
) -> None:
    x2, y2 = x + length * np.cos(angle), y + length * np.sin(angle)
    cv2.line(mask, (int(x), int(y)), (int(x2), int(y2)), 1.0, max(1, int(thick)), cv2.LINE_AA)
    if depth == 0:
        for _ in range(int(rng.integers(2, 6))):
            r = max(1, int(length * rng.uniform(0.15, 0.4)))
            cv2.circle(
                mask,
                (int(x2 + rng.normal(0, length * 0.3)), int(y2 + rng.normal(0, length * 0.3))),
                r,
                1.0,
                -1,
            )
        return
    for _ in range(int(rng.integers(2, 4))):
        _branch(
            mask,
            rng,
            x2,
            y2,
            angle + rng.uniform(-0.7, 0.7),
            length * rng.uniform(0.6, 0.8),
            thick * 0.7,
            depth - 1,
        )


def foliage(rng: np.random.Generator, size: int) -> tuple[np.ndarray, dict[str, object]]:
    img, _ = sky(rng, size)
    mask: np.ndarray = np.zeros((size, size), np.float32)
    trees = int(rng.integers(1, 4))
    for _ in range(trees):
        edge = rng.integers(3)  # grow from the left, top or right edge
        if edge == 0:
            x, y, a = 0.0, rng.uniform(0.2, 1.0) * size, rng.uniform(-0.9, 0.2)
        elif edge == 1:
            x, y, a = rng.uniform(0, 1) * size, 0.0, rng.uniform(0.6, 2.5)
        else:
            x, y, a = float(size), rng.uniform(0.2, 1.0) * size, np.pi + rng.uniform(-0.2, 0.9)
        _branch(
            mask,
            rng,
            x,
            y,
            a,
            size * rng.uniform(0.2, 0.35),
            size * rng.uniform(0.02, 0.05),
            int(rng.integers(3, 5)),
        )
    mask = cv2.GaussianBlur(np.clip(mask, 0, 1), (0, 0), 0.8)[..., None]
    leaf = np.array([rng.uniform(0.03, 0.12), rng.uniform(0.06, 0.2), rng.uniform(0.02, 0.08)], np.float32)
    return img * (1 - mask) + leaf * mask, {"trees": trees}


def buildings(rng: np.random.Generator, size: int) -> tuple[np.ndarray, dict[str, object]]:
    img, _ = sky(rng, size)
    facade = np.empty((size, size, 3), np.float32)
    facade[:] = rng.uniform(0.3, 0.8) * rng.uniform(0.85, 1.05, 3)
    rows, cols = int(rng.integers(4, 12)), int(rng.integers(3, 10))
    ch, cw = size / rows, size / cols
    for r in range(rows):
        for c in range(cols):
            v = rng.uniform(0.05, 0.9)  # dark glass or reflected sky
            tone = (v * 0.8, v * 0.9, min(1.0, v * 1.1 + 0.05))
            cv2.rectangle(
                facade,
                (int(c * cw + 0.2 * cw), int(r * ch + 0.2 * ch)),
                (int((c + 0.8) * cw), int((r + 0.75) * ch)),
                tone,
                -1,
            )
    roof = rng.uniform(0.05, 0.45) * size
    j = size * 0.25
    src = np.array([[0, 0], [size, 0], [size, size], [0, size]], np.float32)
    dst = np.array(
        [
            [rng.uniform(-j, j), roof + rng.uniform(-j, j)],
            [size + rng.uniform(-j, j), roof + rng.uniform(-j, j)],
            [size + rng.uniform(0, j), size * 1.2],
            [rng.uniform(-j, 0), size * 1.2],
        ],
        np.float32,
    )
    warp = cv2.getPerspectiveTransform(src, dst)
    facade_w = cv2.warpPerspective(facade, warp, (size, size), flags=cv2.INTER_LINEAR)
    cover = cv2.warpPerspective(np.ones((size, size), np.float32), warp, (size, size))[..., None]
    return img * (1 - cover) + facade_w * cover, {"rows": rows, "cols": cols}


def streetlights(rng: np.random.Generator, size: int) -> tuple[np.ndarray, dict[str, object]]:
    img = np.empty((size, size, 3), np.float32)
    img[:] = rng.uniform(0.0, 0.06) * np.array([0.7, 0.8, 1.0], np.float32)
    lamps = np.zeros((size, size, 3), np.float32)
    n = int(rng.integers(2, 9))
    x0, y0 = rng.uniform(0, 1) * size, rng.uniform(0.1, 0.5) * size
    dx, dy = rng.uniform(-0.2, 0.2) * size, rng.uniform(-0.08, 0.08) * size
    for i in range(n):
        warm = rng.random() < 0.6
        colour = (1.0, rng.uniform(0.55, 0.8), rng.uniform(0.2, 0.4)) if warm else (0.95, 0.97, 1.0)
        r = max(1, int(size * rng.uniform(0.006, 0.02) / (1 + 0.3 * i)))
        cv2.circle(lamps, (int(x0 + i * dx), int(y0 + i * dy)), r, colour, -1, cv2.LINE_AA)
    halo = cv2.GaussianBlur(lamps, (0, 0), size * 0.03) * 6.0
    return np.clip(img + lamps + halo, 0, 1), {"lamps": n}


def person(
    rng: np.random.Generator,
    size: int,
    people: list[Face],
    photos: PhotoBank | None,
    avoid: Collection[str] = (),
) -> tuple[np.ndarray, dict[str, object]]:
    """A passer-by reflected in the glass: someone else's head and shoulders, large (close to the
    glass), before a photo or a sky; ``avoid``: identities that must not be reflected (the occupants)."""
    from reflect.data.synth.cabin import Placement, paste_person

    img = photos.sample(rng, size)[0] if photos is not None else sky(rng, size)[0]
    candidates = [f for f in people if f.identity not in avoid]
    face = candidates[int(rng.integers(len(candidates)))] if candidates else None
    if face is None:
        return img, {"person": None}
    w = float(rng.uniform(0.3, 0.7)) * size
    paste_person(
        img,
        Placement(
            face,
            float(rng.uniform(0.1, 0.9)) * size,
            float(rng.uniform(0.2, 0.7)) * size,
            w,
            float(rng.uniform(0.5, 1.2)),
            "reflection",
        ),
    )
    return np.clip(img, 0.0, 1.0), {"person": face.source}


PROCEDURAL = {"sky": sky, "foliage": foliage, "buildings": buildings, "streetlights": streetlights}


def reflection_layer(
    rng: np.random.Generator,
    source: str,
    size: int,
    photos: PhotoBank | None,
    people: list[Face] | None = None,
    avoid: Collection[str] = (),
) -> tuple[np.ndarray, dict[str, object]]:
    """Draw one reflection layer of ``source``; returns display values and what was drawn."""
    if source == "person":
        if not people:
            raise ConfigError("reflection source 'person' needs a face bank (the synthesiser's people)")
        return person(rng, size, people, photos, avoid)
    if source == "photo":
        if photos is None:
            raise ConfigError("reflection source 'photo' needs a photo bank")
        return photos.sample(rng, size)
    return PROCEDURAL[source](rng, size)
