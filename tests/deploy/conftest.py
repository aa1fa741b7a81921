"""Fixtures for the deployment tests: one tiny trained checkpoint (with EMA) exported once."""

from __future__ import annotations

import contextlib
import io
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import REPO, smoke_overrides


@dataclass
class Exported:
    run_dir: Path
    onnx: Path
    stdout: str


@pytest.fixture(scope="session")
def ema_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A run folder holding a 2-step tiny CycleGAN (ngf 8, 32 px) trained with an EMA generator."""
    from reflect.config import load_config
    from reflect.train import train

    out = tmp_path_factory.mktemp("deploy_run")
    cfg = load_config(REPO / "configs" / "smoke.yaml", smoke_overrides(out, "ema", 2, **{"train.ema": 0.5}))
    train(cfg)
    return cfg.run_dir


@pytest.fixture(scope="session")
def exported(ema_run: Path, tmp_path_factory: pytest.TempPathFactory) -> Exported:
    """``reflect export --checkpoint RUN --format onnx --out model.onnx``, run once per session."""
    from reflect.cli import main

    out = tmp_path_factory.mktemp("deploy_onnx") / "model.onnx"
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        rc = main(["export", "--checkpoint", str(ema_run), "--format", "onnx", "--out", str(out)])
    assert rc == 0, buf.getvalue()
    return Exported(ema_run, out, buf.getvalue())
