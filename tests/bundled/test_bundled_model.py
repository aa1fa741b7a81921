"""The bundled reflection remover itself: it ships, loads without pickle, is every job's default,
and really cleans faces it has never seen (obama/biden from ../shared/data/faces are not in its
training data, which is the train split of ../shared/data/portraits; the reflection photos are the
held-out ones)."""

from __future__ import annotations

import json
import shutil
import struct
from pathlib import Path

import numpy as np
import pytest
import torch

from reflect.bundled import bundled_model_path, load_generator, read_generator_metadata
from reflect.data.io import read_image, to_image, to_tensor, write_image
from reflect.metrics.image import psnr

MAX_BYTES = 25 * 1024 * 1024


@pytest.fixture(scope="module")
def bundled() -> Path:
    return bundled_model_path()  # fails (not skips) when the package lost its model


def test_bundled_file_is_small_safetensors_with_a_card(bundled: Path) -> None:
    raw = bundled.read_bytes()
    assert len(raw) <= MAX_BYTES, f"{len(raw) / 2**20:.1f} MB"
    (header_len,) = struct.unpack("<Q", raw[:8])  # safetensors: u64 header length, then JSON
    header = json.loads(raw[8 : 8 + header_len])
    assert header["__metadata__"]["format"] == "reflect-generator"
    assert not raw.startswith(b"PK"), "a zip (torch.save) file would need unpickling"
    meta = read_generator_metadata(bundled)
    assert meta["variant"] == "remover"
    card = (bundled.parent / "MODEL_CARD.md").read_text()
    for section in ("Training data", "Metrics", "Intended use", "must not", "portraits"):
        assert section.lower() in card.lower(), f"MODEL_CARD.md lacks '{section}'"


def test_translate_without_a_model_uses_the_bundled_one(bundled: Path, tmp_path: Path) -> None:
    from reflect.cli import main

    rng = np.random.default_rng(0)
    image = (rng.random((40, 56, 3)) * 255).astype(np.uint8)
    write_image(tmp_path / "in" / "x.png", image)
    assert main(["translate", "--input", str(tmp_path / "in"), "--output", str(tmp_path / "out")]) == 0
    got = read_image(tmp_path / "out" / "x.png")
    variant, _ = load_generator(bundled)
    with torch.no_grad():
        expected = to_image(variant.translate(to_tensor(image)[None])[0])
    assert np.array_equal(got, expected)


@pytest.fixture(scope="module")
def held_out_samples(tmp_path_factory: pytest.TempPathFactory) -> list:
    from reflect.data.synth.config import synth_config_from_dict
    from reflect.data.synth.faces import load_face_bank
    from reflect.data.synth.generator import Synthesizer
    from reflect.data.synth.split import TEST_PHOTOS
    from tests.conftest import SHARED_FACES

    if not SHARED_FACES.is_dir():
        pytest.skip(f"real face photos not available ({SHARED_FACES} is missing)")
    folder = tmp_path_factory.mktemp("held_out_faces")
    for name in ("obama.jpg", "biden.jpg"):
        shutil.copy(SHARED_FACES / name, folder / name)
    faces = load_face_bank(folder)
    # the project's default recipe (configs/synth.yaml defaults), held-out photos, a reflection in every sample
    cfg = synth_config_from_dict({"size": 256, "seed": 2024, "reflection": {"probability": 1.0, "photos": list(TEST_PHOTOS)},
                                  "glare": {"probability": 0.0}})
    synth = Synthesizer(cfg)
    # three visible kinds of reflection (a street-light reflection at night can leave a crop nearly clean)
    return [synth.render(i, faces[i % len(faces)], domain=d) for i, d in enumerate(("sky", "foliage", "nir"))]


def test_cleaning_raises_psnr_on_held_out_faces(bundled: Path, held_out_samples: list) -> None:
    variant, _ = load_generator(bundled)
    gains = []
    for s in held_out_samples:
        with torch.no_grad():
            cleaned = to_image(variant.translate(to_tensor(s.input)[None])[0])
        gains.append(psnr(cleaned, s.target) - psnr(s.input, s.target))
    assert min(gains) >= 3.0, f"cleaning raised PSNR by less than 3 dB on a held-out sample: gains {gains}"
