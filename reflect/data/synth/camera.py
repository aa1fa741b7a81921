"""The camera: near-infrared mode, sensor noise, motion blur, JPEG re-compression, low resolution.

Checkpoint cameras often shoot in near infrared with an IR flash: one channel, faces lit from the
camera, skin bright, colour gone, and the glass itself glowing where it reflects the flash. All
functions are pure (float32 display values in [0, 1] unless stated) and deterministic given their
arguments and, for noise, the generator.
"""

from __future__ import annotations

from typing import cast

import cv2
import numpy as np

from reflect.utils.images import float_to_uint8

# NIR response: skin and foliage are bright in near infrared, blue is dark.
NIR_WEIGHTS = np.array([0.6, 0.35, 0.05], np.float32)


def to_nir(x: np.ndarray) -> np.ndarray:
    """One channel (repeated three times so files stay RGB), with NIR-like channel weights."""
    g = x @ NIR_WEIGHTS
    return np.repeat(g[..., None], 3, axis=2).astype(np.float32)


def flash_map(size: int, boxes: list[list[float]], strength: float) -> np.ndarray:
    """Extra light on the occupants from the camera's IR flash, (H, W, 1), 1 + strength at a face."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    light = np.zeros((size, size), np.float32)
    for x1, y1, x2, y2 in boxes:
        cx, cy, r = (x1 + x2) / 2, (y1 + y2) / 2, max(x2 - x1, 1.0) * 1.3
        light = np.maximum(light, np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / (2 * r * r)))
    return (1.0 + strength * light)[..., None]


_NOISE_BANKS: dict[int, np.ndarray] = {}


def _noise_bank(size: int) -> np.ndarray:
    """A fixed (2*size, 2*size, 3) standard-normal field, made once per process (fixed seed)."""
    side = 2 * size
    if side not in _NOISE_BANKS:
        _NOISE_BANKS[side] = np.random.default_rng(20180612).standard_normal(
            (side, side, 3), dtype=np.float32
        )
    return _NOISE_BANKS[side]


def noise(x: np.ndarray, sigma: float, rng: np.random.Generator, mono: bool = False) -> np.ndarray:
    """Signal-dependent sensor noise: std ``sigma * sqrt(0.25 + 0.75 x)`` (read + shot noise).

    The unit noise is a random window (offset, flips, channel order drawn from ``rng``) of a fixed
    normal field twice the image size: as random as fresh draws per pixel for training purposes,
    and much cheaper than drawing them."""
    h, w = x.shape[:2]
    bank = _noise_bank(max(h, w))
    oy, ox = int(rng.integers(0, bank.shape[0] - h + 1)), int(rng.integers(0, bank.shape[1] - w + 1))
    n = bank[oy : oy + h, ox : ox + w]
    if rng.random() < 0.5:
        n = n[::-1]
    if rng.random() < 0.5:
        n = n[:, ::-1]
    n = n[..., rng.permutation(3)]
    if mono:
        n = n[..., :1]
    return np.clip(x + n * (sigma * np.sqrt(0.25 + 0.75 * x)), 0.0, 1.0)


def motion_kernel(length: float, angle: float) -> np.ndarray:
    """A normalised line kernel of ``length`` pixels at ``angle`` degrees."""
    k = max(3, int(np.ceil(length)) | 1)
    kernel = np.zeros((k, k), np.float32)
    c = k // 2
    half = (length - 1) / 2
    dx, dy = np.cos(np.deg2rad(angle)), np.sin(np.deg2rad(angle))
    cv2.line(
        kernel,
        (round(c - half * dx), round(c - half * dy)),
        (round(c + half * dx), round(c + half * dy)),
        1.0,
        1,
        cv2.LINE_AA,
    )
    return kernel / kernel.sum()


def motion_blur(x: np.ndarray, length: float, angle: float) -> np.ndarray:
    return cv2.filter2D(x, -1, motion_kernel(length, angle), borderType=cv2.BORDER_REFLECT)


def low_res(x: np.ndarray, scale: float) -> np.ndarray:
    """Down-sample by ``scale`` (area) and back up (bilinear): detail is lost, the size is kept."""
    h, w = x.shape[:2]
    small = cv2.resize(x, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA)
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)


def jpeg(image: np.ndarray, quality: int, mono: bool = False) -> np.ndarray:
    """Re-compress an (H, W, 3) uint8 RGB image as JPEG at ``quality`` and decode it.

    ``mono``: encode one channel (a NIR image stays exactly grey)."""
    params = [cv2.IMWRITE_JPEG_QUALITY, int(quality)]
    if mono:
        ok, buf = cv2.imencode(".jpg", np.ascontiguousarray(image[..., 0]), params)
        if not ok:  # pragma: no cover - OpenCV always encodes a valid uint8 image
            raise RuntimeError("JPEG encoding failed")
        return np.repeat(cast(np.ndarray, cv2.imdecode(buf, cv2.IMREAD_GRAYSCALE))[..., None], 3, axis=2)
    ok, buf = cv2.imencode(".jpg", np.ascontiguousarray(image[..., ::-1]), params)
    if not ok:  # pragma: no cover
        raise RuntimeError("JPEG encoding failed")
    return np.ascontiguousarray(cast(np.ndarray, cv2.imdecode(buf, cv2.IMREAD_COLOR))[..., ::-1])


def quantise(x: np.ndarray) -> np.ndarray:
    return float_to_uint8(x)
