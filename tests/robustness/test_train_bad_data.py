"""`reflect train` on a dataset holding bad files: each is named once, training goes on with the good ones."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from reflect.config import load_config
from reflect.train import train
from tests.robustness.bad_inputs import png_header_only, snapshot

SMOKE = Path(__file__).resolve().parents[2] / "configs" / "smoke.yaml"


def test_training_skips_unreadable_files_naming_each_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    data = tmp_path / "data"
    rng = np.random.default_rng(0)
    for d in ("trainA", "trainB"):
        (data / d).mkdir(parents=True)
        for i in range(3):
            Image.fromarray(rng.integers(0, 255, (40, 40, 3), dtype=np.uint8)).save(data / d / f"{i}.png")
    bad = {
        "trainA/a_empty.png": b"",
        "trainA/b_text.jpg": b"not an image",
        "trainB/c_bomb.png": png_header_only(30000, 30000),
    }
    for rel, raw in bad.items():
        (data / rel).write_bytes(raw)
    before = snapshot(data)
    cfg = load_config(
        SMOKE,
        [
            f"out_dir={tmp_path / 'runs'}",
            "train.steps=6",
            "data.kind=unpaired",
            f"data.root={data}",
            "data.num_workers=0",
            "train.checkpoint_every=6",
        ],
    )
    with caplog.at_level(logging.ERROR, logger="reflect.data.datasets"):
        trainer = train(cfg)
    assert trainer.step == 6
    messages = [r.getMessage() for r in caplog.records]
    for rel in bad:
        assert len([m for m in messages if Path(rel).name in m]) == 1, messages
    assert snapshot(data) == before
