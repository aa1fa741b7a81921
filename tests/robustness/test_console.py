"""What a command prints is reflect's: other libraries' routine INFO lines (the ONNX optimiser's 30 on
every export) and warnings need ``-v`` (which keeps them)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.bundled.tiny import tiny_generator_file

REPO = Path(__file__).resolve().parents[2]


def test_export_prints_reflect_lines_only(tmp_path: Path) -> None:
    model = tiny_generator_file(tmp_path / "tiny.safetensors")
    cmd = [
        sys.executable,
        "-m",
        "reflect",
        "export",
        "--checkpoint",
        str(model),
        "--format",
        "onnx",
        "--out",
        str(tmp_path / "m.onnx"),
    ]
    env = os.environ | {"PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    done = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stderr.strip().splitlines() == [next(ln for ln in done.stderr.splitlines() if "model:" in ln)]
