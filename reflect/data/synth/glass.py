"""The glass model, in linear light (gamma 2.2).

``input = t*T + r(x, y) * blur(R)``, the recipe of Fan et al. 2017 (CEILNet) and Zhang et al. 2018
("Single Image Reflection Separation with Perceptual Losses"): R is blurred by a Gaussian of random
sigma (the reflected scene lies off the focal plane), the reflection strength ``r`` varies over the
glass (Fresnel: stronger toward the top, where the windshield is seen at a grazing angle, and
toward one side), and where ``T + R`` would overflow 1 the mean excess is taken out of R (Zhang
et al.'s overflow compensation). Ghosting adds ``c * shift(R)`` from the glass's second surface.
All functions are pure: float32 arrays in, new arrays out.
"""

from __future__ import annotations

import cv2
import numpy as np

GAMMA = 2.2


def to_linear(x: np.ndarray) -> np.ndarray:
    """Display values -> linear light (OpenCV's pow: several times faster than numpy's)."""
    return cv2.pow(np.clip(x, 0.0, 1.0, dtype=np.float32), GAMMA)


def to_display(x: np.ndarray) -> np.ndarray:
    return cv2.pow(np.clip(x, 0.0, 1.0, dtype=np.float32), 1.0 / GAMMA)


def blur(r: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian blur of the reflection layer (sigma in pixels; <= 0.1 leaves it sharp)."""
    if sigma <= 0.1:
        return r
    return cv2.GaussianBlur(r, (0, 0), sigma, borderType=cv2.BORDER_REFLECT)


def shift(r: np.ndarray, dx: float, dy: float) -> np.ndarray:
    """Translate by (dx, dy) pixels; what moves in from the border is black (nothing reflected)."""
    m = np.array([[1, 0, dx], [0, 1, dy]], np.float32)
    return cv2.warpAffine(
        r, m, (r.shape[1], r.shape[0]), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT
    )


def ghost(r: np.ndarray, dx: float, dy: float, c: float) -> np.ndarray:
    """Double reflection from the two surfaces of the glass: ``R + c * shift(R, dx, dy)``."""
    return r + np.float32(c) * shift(r, dx, dy)


def fresnel_map(size: int, top: float, bottom_ratio: float, side: float, side_left: bool) -> np.ndarray:
    """Reflection strength r(x, y), (H, W, 1): ``top`` at the top row falling to ``top*bottom_ratio``
    at the bottom, raised by up to ``side`` (relative) toward one side; clipped to [0, 1]."""
    y = np.linspace(0.0, 1.0, size, dtype=np.float32)[:, None]
    x = (
        np.linspace(1.0, 0.0, size, dtype=np.float32)[None, :]
        if side_left
        else np.linspace(0.0, 1.0, size, dtype=np.float32)[None, :]
    )
    r = top * (1.0 - (1.0 - bottom_ratio) * y) * (1.0 + side * x * x)
    return np.clip(r, 0.0, 1.0)[..., None].astype(np.float32)


def compensate_overflow(t: np.ndarray, r: np.ndarray, att: float) -> np.ndarray:
    """Zhang et al. 2018: per channel, subtract ``att * (mean excess of T + R over 1)`` from R, clip to [0, 1]."""
    blend = t + r
    out = r.copy()
    for ch in range(r.shape[2]):
        over = blend[..., ch] > 1.0
        if over.any():
            excess = float(blend[..., ch][over].mean()) - 1.0
            out[..., ch] -= np.float32(excess * att)
    return np.clip(out, 0.0, 1.0)


def tint(
    t: np.ndarray, transmission: float, tint_amount: float, contrast: float, colour: bool = True
) -> np.ndarray:
    """Laminated glass: haze lowers contrast toward the mean, then the glass transmits ``transmission``
    of the light, absorbing red most and blue a little (the green-blue cast of windshields)."""
    mean = t.mean(axis=(0, 1), keepdims=True)
    out = contrast * t + (1.0 - contrast) * mean
    gains = (
        np.array([1.0 - tint_amount, 1.0, 1.0 - 0.35 * tint_amount], np.float32)
        if colour
        else np.ones(3, np.float32)
    )
    return (out * (transmission * gains)).astype(np.float32)


def false_colour(r_display: np.ndarray, hue_shift: float, saturation: float) -> np.ndarray:
    """Rotate the hue by ``hue_shift`` degrees and multiply saturation (display values in, out)."""
    hsv = cv2.cvtColor(np.clip(r_display, 0, 1).astype(np.float32), cv2.COLOR_RGB2HSV)
    hsv[..., 0] = np.mod(hsv[..., 0] + hue_shift, 360.0)
    # a floor on saturation: coatings colour even grey reflections
    hsv[..., 1] = np.clip(np.maximum(hsv[..., 1], 0.25) * saturation, 0.0, 1.0)
    return cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)


def glare(size: int, spots: list[dict[str, float]]) -> np.ndarray:
    """Additive specular highlights (linear light), (H, W, 3): a core, a wide halo and, for
    headlights, a horizontal streak. Each spot: x, y (pixels), radius (pixels), intensity, kind
    (0 sun, 1 headlight, 2 flash), warmth (0 white .. 1 warm). Drawn at half resolution (the
    spots are smooth) and up-sampled."""
    half = max(8, size // 2)
    k = half / size
    yy = np.arange(half, dtype=np.float32)[:, None] + 0.5
    xx = np.arange(half, dtype=np.float32)[None, :] + 0.5
    out = np.zeros((half, half, 3), np.float32)
    for s in spots:
        x, y, radius = s["x"] * k, s["y"] * k, max(s["radius"] * k, 1.0)
        d2 = ((xx - x) ** 2 + (yy - y) ** 2) / radius**2
        m = np.exp(-d2 * 2.0) + 0.25 / (1.0 + d2 * 0.5)
        if s["kind"] == 1:
            m = m + 0.4 * np.exp(-((yy - y) ** 2) / max(radius * 0.15, 1.0) ** 2) * np.exp(
                -np.abs(xx - x) / (6 * radius)
            )
        colour = np.array([1.0, 1.0 - 0.25 * s["warmth"], 1.0 - 0.55 * s["warmth"]], np.float32)
        out += (np.float32(s["intensity"]) * m)[..., None] * colour
    return cv2.resize(out, (size, size), interpolation=cv2.INTER_LINEAR)
