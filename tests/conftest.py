"""Shared fixtures. Tests run on the CPU with tiny models; real sizes are marked ``slow``."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from reflect.utils.paths import shared_data

os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")

REPO = Path(__file__).resolve().parents[1]
SHARED_FACES = shared_data("faces")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    import torch

    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs a CUDA GPU (none on this machine)")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session", autouse=True)
def _one_torch_thread():  # type: ignore[no-untyped-def]
    """Tests use tiny models: one intra-op thread is faster for them than a thread pool that spins
    against the other process of a 2-core machine (measured 4-5x on the contract suite)."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def repo() -> Path:
    return REPO


@pytest.fixture(scope="session")
def faces_dir() -> Path:
    if not SHARED_FACES.is_dir():
        pytest.skip(f"real face photos not available ({SHARED_FACES} is missing)")
    return SHARED_FACES


def smoke_overrides(tmp_path: Path, name: str = "t", steps: int = 2, **extra: object) -> list[str]:
    """Overrides for configs/smoke.yaml: a tiny CycleGAN on procedural images under tmp_path."""
    out = [f"out_dir={tmp_path}", f"name={name}", f"train.steps={steps}"]
    out += [f"{k}={v}" for k, v in extra.items()]
    return out


@pytest.fixture(scope="session")
def smoke_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A run folder with a 2-step tiny CycleGAN checkpoint (for translate/export/pipeline tests)."""
    from reflect.config import load_config
    from reflect.train import train

    out = tmp_path_factory.mktemp("smoke_run")
    cfg = load_config(REPO / "configs" / "smoke.yaml", smoke_overrides(out, "smoke", 2))
    train(cfg)
    return cfg.run_dir


@pytest.fixture(scope="session")
def ema_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A run folder holding a 2-step tiny CycleGAN (ngf 8, 32 px) trained with an EMA generator."""
    from reflect.config import load_config
    from reflect.train import train

    out = tmp_path_factory.mktemp("ema_run")
    cfg = load_config(REPO / "configs" / "smoke.yaml", smoke_overrides(out, "ema", 2, **{"train.ema": 0.5}))
    train(cfg)
    return cfg.run_dir
