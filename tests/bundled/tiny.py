"""Tiny generator files for tests, and pointing ``reflect.bundled`` at one instead of the real model."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from tests.conftest import REPO


def tiny_generator_file(path: Path, seed: int = 0) -> Path:
    """A generator file of configs/smoke.yaml's CycleGAN (ngf 8) with random weights from ``seed``."""
    from reflect import registry
    from reflect.config import load_config
    from reflect.generator_file import save_generator

    cfg = load_config(REPO / "configs" / "smoke.yaml")
    torch.manual_seed(seed)
    variant = registry.get("cyclegan")(cfg.model).eval()
    return save_generator(variant, cfg, path)


def use_as_bundled(monkeypatch: pytest.MonkeyPatch, path: Path) -> Path:
    """Make ``path`` the bundled model for this test (the real file need not exist)."""
    import reflect.bundled

    monkeypatch.setattr(reflect.bundled, "BUNDLED_DIR", path.parent)
    monkeypatch.setattr(reflect.bundled, "BUNDLED_NAME", path.name)
    return path
