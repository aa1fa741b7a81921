"""Scores for crops: perceptual-hash de-duplication and a reflection score for the A/B proposal.

The reflection score is a veil measure built on the dark channel prior (He et al. 2009): in a
clean image most patches hold some near-black pixel, so the dark channel is near 0; a reflection
adds light everywhere and lifts it. Specular glare (near-white pixels) adds to the score. It only
proposes a split: a person confirms it with ``--labels``.
"""

from __future__ import annotations

import cv2
import numpy as np


def dark_channel(image: np.ndarray, patch: int = 7) -> np.ndarray:
    """Per-pixel minimum over the colour channels and a ``patch`` x ``patch`` window, in [0, 1]."""
    m = image.min(axis=2).astype(np.float32) / 255.0
    return cv2.erode(m, np.ones((patch, patch), np.uint8))


def reflection_score(image: np.ndarray) -> float:
    """Mean dark channel plus half the fraction of near-saturated pixels (at 128 px)."""
    small = cv2.resize(image, (128, 128), interpolation=cv2.INTER_AREA)
    glare = float((small.min(axis=2) > 242).mean())
    return float(dark_channel(small).mean()) + 0.5 * glare


class Deduplicator:
    """Drops crops whose perceptual hash lies within ``distance`` bits of one of the last ``window``
    crops kept from the same stream (same video and ROI): near-duplicates are temporal."""

    def __init__(self, distance: int = 4, window: int = 200) -> None:
        self.distance, self.window = distance, window
        self.kept: dict[str, list[object]] = {}

    def is_new(self, stream: str, image: np.ndarray) -> bool:
        import imagehash
        from PIL import Image

        h = imagehash.phash(Image.fromarray(image))
        recent = self.kept.setdefault(stream, [])
        if any(h - k <= self.distance for k in recent):  # type: ignore[operator]
            return False
        recent.append(h)
        del recent[: -self.window]
        return True
