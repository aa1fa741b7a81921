"""Data-parallel training through torchrun (world size one, gloo)."""

from __future__ import annotations

from reflect.checkpoint import load_checkpoint
from tests.conftest import smoke_overrides

SMOKE = "configs/smoke.yaml"


def test_torchrun_world_size_one_gloo(repo, tmp_path):
    import subprocess
    import sys

    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--nproc_per_node=1",
        "--master_port=29533",
        "-m",
        "reflect",
        "train",
        str(repo / SMOKE),
        *smoke_overrides(tmp_path, "ddp", 2),
    ]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=300, cwd=repo)
    assert res.returncode == 0, res.stderr[-2000:]
    assert load_checkpoint(tmp_path / "ddp")["step"] == 2
