"""Fixtures for the deployment tests: one tiny trained checkpoint (with EMA) exported once."""

from __future__ import annotations

import contextlib
import io
from dataclasses import dataclass
from pathlib import Path

import pytest


@dataclass
class Exported:
    run_dir: Path
    onnx: Path
    stdout: str


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
