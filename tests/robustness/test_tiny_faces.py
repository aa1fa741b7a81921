"""Images of 8-19 px hold no face MTCNN can find, and must not abort a folder: facenet-pytorch's
image pyramid is empty for them (a ``torch.cat`` error). ``reflect faces detect`` reports no faces;
``--enhance-faces`` leaves them as the global model cleaned them and writes the rest of the folder.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from reflect.cli import main
from tests.bundled.tiny import tiny_generator_file

SIDES = (8, 10, 12, 16, 19)


@pytest.fixture
def small_images(tmp_path: Path) -> Path:
    folder = tmp_path / "small"
    folder.mkdir()
    for s in (*SIDES, 40):
        Image.fromarray(np.random.default_rng(s).integers(0, 255, (s, s + 3, 3), dtype=np.uint8)).save(
            folder / f"{s:02d}.png"
        )
    return folder


def test_faces_detect_on_tiny_images_finds_none(
    small_images: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("facenet_pytorch")
    files = sorted(str(p) for p in small_images.glob("*.png"))
    assert main(["faces", "detect", "--detector", "mtcnn", *files]) == 0
    found = json.loads(capsys.readouterr().out)
    assert len(found) == len(files) and all(
        found[f]["faces"] == [] for f in files if "40" not in Path(f).name
    )


def test_enhance_faces_over_a_folder_of_tiny_images_writes_every_image(
    small_images: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("facenet_pytorch")
    model = tiny_generator_file(tmp_path / "tiny.safetensors")
    out = tmp_path / "out"
    rc = main(
        [
            "translate",
            "--checkpoint",
            str(model),
            "--input",
            str(small_images),
            "--output",
            str(out),
            "--enhance-faces",
        ]
    )
    assert rc == 0
    assert sorted(p.name for p in out.glob("*.png")) == sorted(p.name for p in small_images.glob("*.png"))
    assert "faces: 0 enhanced" in capsys.readouterr().out
