"""`reflect adapt --site` with videos: frames become window crops (as `reflect dataset build` makes them)."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np

from reflect.cli import main
from reflect.data.io import read_image
from tests.adapt.test_adapt_cli import adapt

WHOLE_FRAME = "cameras:\n  default:\n    rois: [[0.0, 0.0, 1.0, 1.0]]\n"


def write_video(path: Path, frames: list[np.ndarray], repeat: int = 2) -> Path:
    h, w = frames[0].shape[:2]
    out = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10.0, (w, h))
    assert out.isOpened()
    for frame in frames:
        for _ in range(repeat):
            out.write(np.ascontiguousarray(frame[..., ::-1]))
    out.release()
    return path


def test_site_videos_become_the_crops_the_run_adapts_on(toy_site, tiny_remover, tmp_path, caplog):
    crops = sorted(toy_site.iterdir())
    site = tmp_path / "footage"
    (site / "cam01").mkdir(parents=True)
    write_video(site / "cam01" / "lane1.avi", [read_image(p) for p in crops])
    (site / "cam01" / "broken.mp4").write_bytes(b"\x00" * 100)  # one line, and the run goes on
    roi = tmp_path / "roi.yaml"
    roi.write_text(WHOLE_FRAME)
    run = tmp_path / "run"
    assert (
        adapt(
            site, tiny_remover, run, "--roi", str(roi), "--every", "1", "--steps", "2", "--report-crops", "0"
        )
        == 0
    )
    index = json.loads((run / "site_index.json").read_text())
    paths = [Path(c["path"]) for c in index["crops"]]
    # every distinct frame once (each was written twice: the repeats are near-duplicates), inside the run
    assert len(paths) == len(crops)
    assert all(p.parent == run / "site_frames" and p.is_file() for p in paths)
    assert any("broken.mp4" in r.getMessage() for r in caplog.records if r.levelname == "ERROR")
    assert (run / "adapted.safetensors").is_file()
    # the crops show the video's frames (at the training size: here the frames' own 64 px)
    first = read_image(crops[0]).astype(np.float32)
    assert np.abs(read_image(paths[0]).astype(np.float32) - first).mean() < 12.0


def test_a_site_of_unreadable_videos_is_one_line_and_leaves_no_run(tiny_remover, tmp_path, capsys):
    site = tmp_path / "footage"
    site.mkdir()
    (site / "broken.mp4").write_bytes(b"not a video")
    assert adapt(site, tiny_remover, tmp_path / "run", "--steps", "2") == 2
    err = [line for line in capsys.readouterr().err.strip().splitlines() if line]
    assert "no window crop" in err[-1] and str(site) in err[-1], err
    assert not (tmp_path / "run").exists()


def test_roi_without_videos_is_refused(toy_site, tiny_remover, tmp_path, capsys):
    roi = tmp_path / "roi.yaml"
    roi.write_text(WHOLE_FRAME)
    assert (
        main(
            [
                "adapt",
                "--site",
                str(toy_site),
                "--from",
                str(tiny_remover),
                "--out",
                str(tmp_path / "r"),
                "--roi",
                str(roi),
                "--steps",
                "1",
            ]
        )
        == 2
    )
    assert "--roi is for videos" in capsys.readouterr().err


def test_max_crops_takes_the_first_crops_of_images_and_videos_together(toy_site, tiny_remover, tmp_path):
    crops = sorted(toy_site.iterdir())
    site = tmp_path / "footage"
    site.mkdir()
    for p in crops[:2]:
        (site / p.name).write_bytes(p.read_bytes())
    write_video(site / "lane.avi", [read_image(p) for p in crops[2:]])
    roi = tmp_path / "roi.yaml"
    roi.write_text(WHOLE_FRAME)
    run = tmp_path / "run"
    args = ("--roi", str(roi), "--every", "1", "--max-crops", "3", "--steps", "1", "--report-crops", "0")
    assert adapt(site, tiny_remover, run, *args) == 0
    paths = [Path(c["path"]) for c in json.loads((run / "site_index.json").read_text())["crops"]]
    assert len(paths) == 3
    assert [p.name for p in paths[:2]] == [p.name for p in crops[:2]] and paths[
        2
    ].parent == run / "site_frames"
