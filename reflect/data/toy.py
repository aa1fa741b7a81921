"""Procedural window-like images for tests and smoke runs: no files needed.

Domain B ("clean"): a dark cabin with a bright face-like ellipse. Domain A: the same kind of scene
plus a bright, blurred, coloured reflection streak. Deterministic in (seed, index).
:func:`toy_pair` gives an A image with its clean target (the same scene without the streak), so
supervised variants have something to learn in tests. :func:`toy_face_boxes` finds the face in a
clean (transformed) toy image, the way the synthesiser's manifest gives boxes (``faces_box``).
"""

from __future__ import annotations

import numpy as np
import torch

from reflect.utils.images import float_to_uint8

MAX_FACES = 2  # as reflect.data.synthetic: box slots per sample


def toy_image(index: int, domain: str, size: int = 64, seed: int = 0) -> np.ndarray:
    return toy_pair(index, domain, size, seed)[0]


def toy_pair(index: int, domain: str, size: int = 64, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(image, clean target): for domain B, or A's scene without its reflection streak."""
    rng = np.random.default_rng([seed, index, 0 if domain == "B" else 1])
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / size
    img = np.zeros((size, size, 3), np.float32)
    img[:] = rng.uniform(0.05, 0.2, 3)  # cabin
    cx, cy, r = rng.uniform(0.35, 0.65), rng.uniform(0.35, 0.6), rng.uniform(0.12, 0.22)
    face = ((xx - cx) / (0.8 * r)) ** 2 + ((yy - cy) / r) ** 2 < 1
    img[face] = rng.uniform(0.5, 0.85) * np.array([1.0, 0.8, 0.65])
    clean = img.copy()
    if domain == "A":
        angle = rng.uniform(-1, 1)
        band = np.exp(
            -(((xx - 0.5) * np.cos(angle) + (yy - 0.5) * np.sin(angle) - rng.uniform(-0.3, 0.3)) ** 2) / 0.02
        )
        tint = rng.uniform(0.4, 1.0, 3)
        img = img + rng.uniform(0.3, 0.7) * band[..., None] * tint
    noise = rng.normal(0, 0.01, img.shape)

    def u8(x: np.ndarray) -> np.ndarray:
        return float_to_uint8(x + noise)

    return u8(img), u8(clean)


def toy_domain_image(index: int, domain: str, size: int = 64, seed: int = 0) -> np.ndarray:
    """A toy window of a named domain (multi-domain variants): the clean scene of
    :func:`toy_pair`, plus the domain's kind of glass effect. ``clean`` has none; ``sky``, ``foliage``,
    ``glare``, ``false_colour`` and ``nir`` mimic the synthetic domains; any other name gets a
    reflection streak with a tint fixed by the name."""
    import zlib

    clean = toy_pair(index, "B", size, seed)[0].astype(np.float32) / 255
    rng = np.random.default_rng([seed, index, 2, zlib.crc32(domain.encode())])
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / size
    if domain == "clean":
        img = clean
    elif domain == "sky":  # a broad bright-blue veil, strongest at the top of the glass
        img = clean + rng.uniform(0.4, 0.7) * (1 - yy)[..., None] * np.array([0.45, 0.65, 1.0])
    elif domain == "foliage":  # green blotches
        cells = rng.uniform(0, 1, (4, 4))
        blot = cells[(yy * 4).astype(int).clip(0, 3), (xx * 4).astype(int).clip(0, 3)]
        img = clean + 0.5 * blot[..., None] * np.array([0.25, 0.7, 0.2])
    elif domain == "glare":  # a few bright white disks
        img = clean.copy()
        for _ in range(3):
            cx, cy, r = rng.uniform(0.1, 0.9), rng.uniform(0.1, 0.9), rng.uniform(0.05, 0.12)
            img += np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / (r * r))[..., None] * 1.2
    elif domain == "false_colour":  # channels rotated: coated glass shifts the hue
        img = clean[..., [1, 2, 0]] * 1.3
    elif domain == "nir":  # grey, flash-lit
        img = np.repeat(clean.mean(2, keepdims=True) * 1.6, 3, axis=2)
    else:
        band = np.exp(-((xx - yy - rng.uniform(-0.3, 0.3)) ** 2) / 0.02)
        img = clean + 0.6 * band[..., None] * rng.uniform(0.3, 1.0, 3)
    return float_to_uint8(img)


def toy_face_boxes(clean: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
    """The face of a clean toy image (H, W, 3) uint8, after any crop or flip: ``faces_box``
    (MAX_FACES, 4) x1 y1 x2 y2 in pixels (unused rows zero) and ``faces_n`` (0 or 1).

    The face is the only bright region of a clean toy scene (red >= 0.5, the cabin <= 0.21)."""
    boxes = torch.zeros(MAX_FACES, 4)
    ys, xs = np.nonzero(clean[..., 0] > 0.35 * 255)
    if len(xs) < 16:
        return boxes, torch.tensor(0)
    boxes[0] = torch.tensor([xs.min(), ys.min(), xs.max() + 1, ys.max() + 1], dtype=torch.float32)
    return boxes, torch.tensor(1)
