"""Fixtures for data_tools: procedural faces (fast, no detector) and the real face bank (MTCNN)."""

from __future__ import annotations

import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest

from reflect.data.synth.config import SynthConfig, synth_config_from_dict
from reflect.data.synth.faces import Face

REAL_FACE_FILES = ("obama.jpg", "biden.jpg", "hanks_aligned_112.png")


def fake_face(identity: str, seed: int = 0) -> Face:
    """A drawn head-and-shoulders crop with a known face box (no detector needed)."""
    rng = np.random.default_rng(seed)
    crop = np.full((160, 120, 3), rng.integers(40, 120, 3), np.uint8)
    skin = tuple(int(v) for v in rng.integers(150, 230, 3))
    cv2.ellipse(crop, (60, 60), (22, 30), 0, 0, 360, skin, -1)
    cv2.circle(crop, (52, 55), 3, (20, 20, 20), -1)
    cv2.circle(crop, (68, 55), 3, (20, 20, 20), -1)
    return Face(
        identity=identity,
        source=f"{identity}.png",
        crop=crop,
        box=(38.0, 30.0, 82.0, 90.0),
        valid=np.ones(crop.shape[:2], np.float32),
    )


@pytest.fixture
def fake_faces() -> list[Face]:
    return [fake_face(n, k) for k, n in enumerate(["ann", "bob", "cid", "dee", "eve", "fay"])]


def small_cfg(**sections: object) -> SynthConfig:
    """A 64 px config (tests); ``sections`` are raw dict overrides, e.g. ghost={'probability': 1}."""
    return synth_config_from_dict({"size": 64, **sections})


@pytest.fixture(scope="session")
def real_faces(faces_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Face]]:
    """Three real photos (two identities plus an aligned crop) and their face bank, detected once."""
    from reflect.data.synth.faces import load_face_bank

    folder = tmp_path_factory.mktemp("faces")
    for name in REAL_FACE_FILES:
        shutil.copy(faces_dir / name, folder / name)
    cache = folder.parent / "faces_index.json"
    return folder, load_face_bank(folder, cache=cache)
