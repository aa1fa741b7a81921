"""Smaller promises: EXIF orientation honoured and the other tags kept in outputs, conversion warnings
once, outputs not forced to 0600, `faces detect` exits non-zero when a file failed."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from reflect.data import io
from reflect.data.io import read_image, write_image


def test_exif_orientation_is_honoured(tmp_path: Path) -> None:
    pixels = np.zeros((20, 40, 3), np.uint8)
    pixels[:, :10] = 255  # white on the left as stored
    exif = Image.Exif()
    exif[0x0112] = 6  # stored rotated: the viewer turns it 90 degrees clockwise
    Image.fromarray(pixels).save(tmp_path / "rotated.jpg", exif=exif.tobytes(), quality=95)
    upright = read_image(tmp_path / "rotated.jpg")
    assert upright.shape == (40, 20, 3)
    assert upright[:10].mean() > 200 and upright[-10:].mean() < 50  # the white band is now on top


def _camera_photo(path: Path) -> None:
    """A camera-style photo stored sideways (orientation 6) with a Make tag."""
    exif = Image.Exif()
    exif[0x0112] = 6
    exif[0x010F] = "ReflectCam"  # Make
    Image.fromarray(np.random.default_rng(1).integers(0, 255, (32, 48, 3), dtype=np.uint8)).save(
        path, exif=exif.tobytes(), **({"quality": 95} if path.suffix == ".jpg" else {})
    )


@pytest.mark.parametrize("command", ["translate", "clean"])
def test_outputs_keep_the_exif_upright(command: str, smoke_run: Path, tmp_path: Path) -> None:
    from reflect.cli import main

    src = tmp_path / "in"
    src.mkdir()
    for name in ("car.jpg", "car2.png"):
        _camera_photo(src / name)
    before = {p.name: p.read_bytes() for p in src.iterdir()}
    flag = "--checkpoint" if command == "translate" else "--model"
    argv = [command, flag, str(smoke_run), "--input", str(src), "--output", str(tmp_path / "out")]
    assert main(argv + (["--no-progress"] if command == "clean" else [])) == 0
    for name in ("car.jpg", "car2.png"):
        with Image.open(tmp_path / "out" / name) as out:
            assert out.size == (32, 48), name  # upright: the stored 48x32 turned by the tag
            exif = out.getexif()
            assert exif.get(0x010F) == "ReflectCam", name  # the camera's Make is kept
            assert exif.get(0x0112) == 1, name  # viewers must not rotate it a second time
    assert {p.name: p.read_bytes() for p in src.iterdir()} == before


def test_16_bit_rgb_is_reported_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(io, "_warned", set())
    for i in range(3):
        cv2.imwrite(str(tmp_path / f"deep{i}.png"), np.full((10, 12, 3), 40000 + i, np.uint16))
    with caplog.at_level(logging.WARNING, logger="reflect.data.io"):
        for i in range(3):
            read_image(tmp_path / f"deep{i}.png")
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "16-bit" in warnings[0] and "deep0.png" in warnings[0]


def test_outputs_follow_the_umask(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        write_image(tmp_path / "out.png", np.zeros((8, 8, 3), np.uint8))
    finally:
        os.umask(old)
    assert (tmp_path / "out.png").stat().st_mode & 0o777 == 0o644


def test_faces_detect_exits_nonzero_when_a_file_failed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from reflect.cli import main

    good, bad = tmp_path / "plain.png", tmp_path / "broken.jpg"
    Image.fromarray(np.full((64, 64, 3), 90, np.uint8)).save(good)
    bad.write_bytes(b"\xff\xd8\xff\xe0" + b"\x00" * 40)
    assert main(["faces", "detect", str(good), str(bad), "--detector", "dlib-hog"]) == 1
    out = capsys.readouterr().out
    assert "broken.jpg" in out and "plain.png" in out
