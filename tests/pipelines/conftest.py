"""Shared fixtures: a tiny trained CycleGAN (2 steps, ngf 8) used as --model by every pipeline test."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from reflect.utils.paths import shared_data

FACES = shared_data("faces")


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from reflect.config import load_config
    from reflect.train import train

    out = tmp_path_factory.mktemp("model")
    cfg = load_config("configs/smoke.yaml", [f"out_dir={out}", "train.steps=2"])
    train(cfg)
    return out / cfg.name


def write_video(
    path: Path, n: int, size: tuple[int, int] = (48, 32), fps: float = 10.0, seed: int = 0
) -> None:
    """A small MJPG video of moving gradients; ``size`` is (width, height)."""
    w, h = size
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 255, (h, w, 3), dtype=np.uint8)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"MJPG"), fps, (w, h))
    for i in range(n):
        writer.write(np.roll(base, i, axis=1))
    writer.release()
