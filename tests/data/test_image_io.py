from __future__ import annotations

import logging

import numpy as np
import pytest
from PIL import Image

from reflect.data.io import read_image, write_image
from reflect.errors import ImageReadError
from reflect.utils.atomic import TMP_SUFFIX


@pytest.mark.parametrize(
    ("mode", "array", "warns"),
    [
        ("L", np.full((5, 7), 200, np.uint8), "grayscale"),
        ("RGBA", np.dstack([np.full((5, 7, 3), 200, np.uint8), np.full((5, 7), 255, np.uint8)]), "RGBA"),
        ("I;16", np.full((5, 7), 65535, np.uint16), "16-bit"),
    ],
)
def test_conversions_give_rgb_uint8_with_a_warning(tmp_path, caplog, monkeypatch, mode, array, warns):
    import reflect.data.io as io_module

    monkeypatch.setattr(io_module, "_warned", set())  # each conversion is reported once per process
    p = tmp_path / "x.png"
    (Image.fromarray(array) if mode == "I;16" else Image.fromarray(array, mode=mode)).save(p)
    with caplog.at_level(logging.WARNING):
        img = read_image(p)
    assert img.shape == (5, 7, 3) and img.dtype == np.uint8
    assert img.max() in (200, 255)
    assert warns in caplog.text and "x.png" in caplog.text


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        ("empty.jpg", b"", "empty"),
        ("junk.png", b"not an image at all", "not a readable image"),
    ],
)
def test_bad_files_name_the_file(tmp_path, name, content, reason):
    p = tmp_path / name
    p.write_bytes(content)
    with pytest.raises(ImageReadError, match=f"{name}.*{reason}"):
        read_image(p)


def test_write_is_atomic_and_leaves_no_temporaries(tmp_path):
    img = np.random.default_rng(0).integers(0, 255, (9, 11, 3), dtype=np.uint8)
    write_image(tmp_path / "a" / "out.png", img)
    assert np.array_equal(read_image(tmp_path / "a" / "out.png"), img)
    assert not list(tmp_path.rglob(f"*{TMP_SUFFIX}*"))
