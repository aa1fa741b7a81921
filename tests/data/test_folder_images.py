"""``folder_images``: the images of a folder a setting names, or one line saying why there are none."""

import numpy as np
import pytest

from reflect.data.io import folder_images, write_image
from reflect.errors import ConfigError


def test_lists_the_images_sorted_and_only_recurses_when_asked(tmp_path) -> None:
    img = np.zeros((4, 4, 3), np.uint8)
    (tmp_path / "sub").mkdir()
    for name in ("b.png", "a.jpg", "sub/c.png"):
        write_image(tmp_path / name, img)
    (tmp_path / "notes.txt").write_text("not an image")
    assert [p.name for p in folder_images(tmp_path, "data folder")] == ["a.jpg", "b.png"]
    assert [p.name for p in folder_images(tmp_path, "data folder", recursive=True)] == [
        "a.jpg",
        "b.png",
        "c.png",
    ]


def test_a_missing_or_empty_folder_is_one_line_naming_it(tmp_path) -> None:
    with pytest.raises(ConfigError, match=f"^faces folder {tmp_path / 'nope'} does not exist$"):
        folder_images(tmp_path / "nope", "faces folder")
    (tmp_path / "notes.txt").write_text("not an image")
    with pytest.raises(ConfigError, match=rf"^--site folder {tmp_path} holds no images \(give crops\)$"):
        folder_images(tmp_path, "--site folder", hint=" (give crops)")
