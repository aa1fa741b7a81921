"""The fixed held-out split: which face identities and which reflection photos training never sees.

Training (``data.kind: synthetic`` with ``data.faces_split: train``) and the quality benchmark
(``benchmarks/quality.py``, ``faces_split: test``) both call :func:`identity_split`, so the split
cannot drift between them: an identity is held out when the first 8 hex digits of the SHA-256 of
its name, modulo 100, fall below ``TEST_PERCENT`` -- stable across machines, Python versions and
folder contents (adding photos never moves an existing identity).

Reflection photos are split by name: :data:`TRAIN_PHOTOS` (scikit-image's bundled photographs
used for training) and :data:`TEST_PHOTOS` (only ever reflected in evaluation). scikit-image's
astronaut is in neither: a reflected face would confuse the identity metrics.
"""

from __future__ import annotations

import hashlib

TEST_PERCENT = 20

TRAIN_PHOTOS = (
    "chelsea.png",
    "coffee.png",
    "brick.png",
    "grass.png",
    "gravel.png",
    "camera.png",
    "hubble_deep_field.jpg",
    "coins.png",
    "moon.png",
    "page.png",
    "text.png",
    "color.png",
)
TEST_PHOTOS = ("rocket.jpg", "motorcycle_left.png", "horse.png", "clock_motion.png", "retina.jpg")


def identity_split(identity: str, test_percent: int = TEST_PERCENT) -> str:
    """'train' or 'test' for a face identity (deterministic in its name alone)."""
    digest = hashlib.sha256(identity.strip().lower().encode("utf-8")).hexdigest()
    return "test" if int(digest[:8], 16) % 100 < test_percent else "train"


def in_split(identity: str, split: str) -> bool:
    """``split`` is 'train', 'test' or 'all'."""
    if split == "all":
        return True
    if split not in ("train", "test"):
        raise ValueError(f"unknown split {split!r}; valid: train, test, all")
    return identity_split(identity) == split
