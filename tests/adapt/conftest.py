"""A toy site (a handful of 64 px crops through the synthesiser's screen glass, drawn faces) and a
tiny remover generator file (ngf 8, the shipped ``layers`` form) to adapt."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from reflect.data.io import write_image
from tests.data_tools.conftest import fake_face, small_cfg

SIZE = 64


def make_site(folder: Path, count: int = 6, seed: int = 0, blend: str = "screen") -> Path:
    """``count`` crops of drawn faces behind glass the tiny remover never saw (``blend``)."""
    from reflect.data.synth.generator import Synthesizer

    folder.mkdir(parents=True, exist_ok=True)
    synth = Synthesizer(small_cfg(seed=seed, camera={"jpeg": False}))
    for i in range(count):
        sample = synth.render(i, fake_face(f"p{i}", i), blend=blend)
        write_image(folder / f"crop_{i:02d}.png", sample.input)
    return folder


def tiny_remover_file(path: Path, seed: int = 0) -> Path:
    """A remover generator file (ngf 8, one bottleneck block, ``layers`` form) with random weights
    from ``seed`` and a non-zero head, so that it removes something."""
    from reflect import registry
    from reflect.config import build_config
    from reflect.generator_file import save_generator

    cfg = build_config(
        {
            "name": "tiny_remover",
            "model": {"variant": "remover", "ngf": 8, "ndf": 8, "n_bottleneck": 1, "output": "layers"},
            "data": {"kind": "toy", "load_size": SIZE, "crop_size": SIZE},
        }
    )
    torch.manual_seed(seed)
    variant = registry.get("remover")(cfg.model).eval()
    with torch.no_grad():
        variant.g.head.weight.normal_(0.0, 0.02)
    return save_generator(variant, cfg, path)


@pytest.fixture(scope="session")
def toy_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_site(tmp_path_factory.mktemp("site") / "crops")


@pytest.fixture(scope="session")
def tiny_remover(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny_remover_file(tmp_path_factory.mktemp("model") / "tiny.safetensors")
