"""`reflect dataset build`: crops from good videos, a corrupt one reported, splits by source."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from data_tools.footage.builder import BuildOptions, build_dataset
from data_tools.footage.score import reflection_score
from reflect.data.io import list_images


def _video(path: Path, frames: int, seed: int, moving: bool = True) -> None:
    w = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10, (96, 64))
    assert w.isOpened()
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 255, (64, 96, 3), dtype=np.uint8)
    for k in range(frames):
        f = base.copy()
        if moving:  # a new scene every frame: nothing is a near-duplicate
            f = np.roll(rng.integers(0, 255, (64, 96, 3), dtype=np.uint8), k, axis=1)
        w.write(f)
    w.release()


@pytest.fixture
def footage(tmp_path: Path) -> Path:
    root = tmp_path / "footage"
    (root / "cam1").mkdir(parents=True)
    (root / "cam2").mkdir()
    _video(root / "cam1" / "a.avi", 12, 1)
    _video(root / "cam2" / "b.avi", 12, 2)
    (root / "cam2" / "broken.mp4").write_bytes(np.random.default_rng(3).bytes(5000))
    return root


def _roi(tmp_path: Path) -> Path:
    f = tmp_path / "roi.yaml"
    f.write_text("size: 32\ncameras:\n  default:\n    rois: [[0.25, 0.25, 0.5, 0.5], [0, 0, 40, 30]]\n")
    return f


def test_build_reports_the_corrupt_video_and_keeps_the_good_ones(
    footage: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from reflect.cli import main

    out = tmp_path / "ds"
    rc = main(
        [
            "dataset",
            "build",
            "--footage",
            str(footage),
            "--out",
            str(out),
            "--roi",
            str(_roi(tmp_path)),
            "--every",
            "3",
            "--no-progress",
        ]
    )
    assert rc == 0
    report = json.loads((out / "report.json").read_text())
    assert [b["file"] for b in report["bad"]] == ["cam2/broken.mp4"]
    assert "bad: cam2/broken.mp4" in capsys.readouterr().out
    rows = list(csv.DictReader((out / "crops.csv").open()))
    assert {r["source"] for r in rows} == {"cam1/a.avi", "cam2/b.avi"}
    assert len(rows) == 2 * 4 * 2  # 2 videos x frames 0,3,6,9 x 2 ROIs
    assert {int(r["frame"]) for r in rows} == {0, 3, 6, 9}
    # splits by camera: each camera's crops sit in one split only
    for cam in ("cam1", "cam2"):
        assert len({r["split"] for r in rows if r["camera"] == cam}) == 1
    assert {r["split"] for r in rows} == {"train", "test"}
    total = sum(
        len(list_images(out / d)) for d in ("trainA", "trainB", "testA", "testB") if (out / d).is_dir()
    )
    assert total == len(rows)
    assert min(len(p.name) for p in list_images(out / "crops")) > 0
    assert all(min(cv2.imread(str(p)).shape[:2]) == 32 for p in list_images(out / "crops"))


def test_labels_override_the_proposal(footage: Path, tmp_path: Path) -> None:
    out = tmp_path / "ds"
    opts = BuildOptions(footage=str(footage), out=str(out), roi=str(_roi(tmp_path)), every=6, progress=False)
    build_dataset(opts)
    rows = list(csv.DictReader((out / "crops.csv").open()))
    first, second = rows[0], rows[1]
    flipped = "B" if first["proposed"] == "A" else "A"
    labels = tmp_path / "labels.csv"
    labels.write_text(f"name,label\n{first['name']},{flipped}\n{second['name']},drop\n")
    opts.labels = str(labels)
    report = build_dataset(opts)
    assert report["labels_overridden"] == 2
    assert (out / f"{first['split']}{flipped}" / first["name"]).is_file()
    assert not any((out / d / second["name"]).exists() for d in ("trainA", "trainB", "testA", "testB"))


def test_near_duplicates_are_dropped_and_scene_change_sampling(tmp_path: Path) -> None:
    root = tmp_path / "footage"
    root.mkdir()
    _video(root / "static.avi", 10, 5, moving=False)
    report = build_dataset(
        BuildOptions(
            footage=str(root), out=str(tmp_path / "o"), roi=str(_roi(tmp_path)), every=1, progress=False
        )
    )
    assert report["crops"] == 2 and report["duplicates_dropped"] == 18  # one crop per ROI survives
    report = build_dataset(
        BuildOptions(
            footage=str(root),
            out=str(tmp_path / "s"),
            roi=str(_roi(tmp_path)),
            every=1,
            scene_threshold=0.05,
            progress=False,
        )
    )
    assert report["crops"] == 2 and report["duplicates_dropped"] == 0  # only the first frame is a new scene


def test_reflection_score_ranks_a_veiled_image_higher() -> None:
    rng = np.random.default_rng(0)
    clean = (rng.random((64, 64, 3)) * 120).astype(np.uint8)
    clean[::8, ::8] = 0
    veiled = np.clip(clean.astype(int) + 90, 0, 255).astype(np.uint8)
    assert reflection_score(veiled) > reflection_score(clean) + 0.2


def test_bad_roi_file_names_the_camera(tmp_path: Path, footage: Path) -> None:
    from reflect.errors import ConfigError

    f = tmp_path / "roi.yaml"
    f.write_text("cameras:\n  cam1:\n    rois: [[0, 0, -5, 10]]\n")
    with pytest.raises(ConfigError, match="camera 'cam1' has a bad roi"):
        build_dataset(BuildOptions(footage=str(footage), out=str(tmp_path / "o"), roi=str(f), progress=False))
