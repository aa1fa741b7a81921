"""reflect clean: outputs, error table, ROI paste-back, and resume after kill -9."""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from pipelines.batch_clean.runner import CleanOptions, job_paths, run_clean
from reflect.utils.atomic import TMP_SUFFIX
from tests.pipelines.conftest import write_video

ROOT = Path(__file__).resolve().parents[2]


def _tree(folder: Path) -> dict[str, bytes]:
    return {
        p.relative_to(folder).as_posix(): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and ".reflect" not in p.parts
    }


def _make_inputs(root: Path, n_images: int, video_frames: list[int]) -> None:
    rng = np.random.default_rng(1)
    (root / "cam1").mkdir(parents=True)
    (root / "cam2" / "day").mkdir(parents=True)
    for i in range(n_images):
        ext = "png" if i % 2 else "jpg"
        cv2.imwrite(
            str(root / "cam1" / f"img{i:03d}.{ext}"), rng.integers(0, 255, (32, 48, 3), dtype=np.uint8)
        )
    for k, n in enumerate(video_frames):
        write_video(root / "cam2" / "day" / f"clip{k}.avi", n, seed=k)


def test_clean_writes_every_output_and_records_corrupt_inputs(tiny_model: Path, tmp_path: Path) -> None:
    src, out = tmp_path / "in", tmp_path / "out"
    _make_inputs(src, 5, [12])
    (src / "cam1" / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0" + b"\x00" * 50)
    (src / "cam2" / "empty.mp4").write_bytes(b"")
    (src / "cam2" / "notes.txt").write_text("not an input")
    summary = run_clean(CleanOptions(str(tiny_model), str(src), str(out), progress=False))
    assert summary.total == 8 and summary.done == 6
    assert dict(summary.errors).keys() == {"cam1/broken.jpg", "cam2/empty.mp4"}
    assert "empty" in dict(summary.errors)["cam2/empty.mp4"]
    files = _tree(out)
    assert sorted(files) == [f"cam1/img{i:03d}.{'png' if i % 2 else 'jpg'}" for i in range(5)] + [
        "cam2/day/clip0.mp4"
    ]
    cap = cv2.VideoCapture(str(out / "cam2/day/clip0.mp4"))
    assert cap.get(cv2.CAP_PROP_FPS) == pytest.approx(10.0)
    n = 0
    while cap.read()[0]:
        n += 1
    assert n == 12
    # the error table lives in the job database with a reason per input
    with sqlite3.connect(job_paths(out)[0]) as db:
        rows = dict(db.execute("SELECT rel, status FROM items"))
    assert rows["cam1/broken.jpg"] == "error" and rows["cam1/img000.jpg"] == "done"


def test_roi_outside_is_untouched_and_crop_mode_writes_window(tiny_model: Path, tmp_path: Path) -> None:
    src = tmp_path / "in"
    _make_inputs(src, 2, [])
    roi = tmp_path / "roi.yaml"
    roi.write_text("cam1: [8, 4, 24, 16]\n")
    out = tmp_path / "out"
    run_clean(CleanOptions(str(tiny_model), str(src), str(out), roi_file=str(roi), progress=False))
    orig = cv2.imread(str(src / "cam1/img001.png"))
    cleaned = cv2.imread(str(out / "cam1/img001.png"))
    mask = np.ones(orig.shape[:2], bool)
    mask[4:20, 8:32] = False
    assert (orig[mask] == cleaned[mask]).all()
    assert not (orig[~mask] == cleaned[~mask]).all()
    crops = tmp_path / "crops"
    run_clean(
        CleanOptions(str(tiny_model), str(src), str(crops), roi_file=str(roi), write="crop", progress=False)
    )
    assert cv2.imread(str(crops / "cam1/img001.png")).shape == (16, 24, 3)
    assert (cv2.imread(str(crops / "cam1/img001.png")) == cleaned[4:20, 8:32]).all()


def test_restart_with_other_settings_is_refused(tiny_model: Path, tmp_path: Path) -> None:
    from reflect.errors import ConfigError

    src, out = tmp_path / "in", tmp_path / "out"
    _make_inputs(src, 1, [])
    run_clean(CleanOptions(str(tiny_model), str(src), str(out), progress=False))
    with pytest.raises(ConfigError, match="batch"):
        run_clean(CleanOptions(str(tiny_model), str(src), str(out), batch=2, progress=False))


def test_kill_9_at_a_random_moment_then_resume_equals_uninterrupted_run(
    tiny_model: Path, tmp_path: Path
) -> None:
    src = tmp_path / "in"
    _make_inputs(src, 120, [40, 40])  # 200 frames
    (src / "cam1" / "corrupt.jpg").write_bytes(b"\xff\xd8\xff\xe0" + os.urandom(64))
    (src / "cam2" / "zero.mp4").write_bytes(b"")
    reference = tmp_path / "reference"
    ref = run_clean(CleanOptions(str(tiny_model), str(src), str(reference), progress=False))
    assert ref.frames == 200 and len(ref.errors) == 2

    out = tmp_path / "out"
    cmd = [
        sys.executable,
        "-m",
        "reflect",
        "clean",
        "--model",
        str(tiny_model),
        "--input",
        str(src),
        "--output",
        str(out),
        "--no-progress",
    ]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    target = random.Random().randint(1, 110)  # kill once this many inputs are finished
    db_file = job_paths(out)[0]
    deadline = time.monotonic() + 120
    while proc.poll() is None and time.monotonic() < deadline:
        if db_file.exists():
            try:
                with sqlite3.connect(f"file:{db_file}?mode=ro", uri=True, timeout=1) as db:
                    finished = db.execute("SELECT COUNT(*) FROM items WHERE status != 'pending'").fetchone()[
                        0
                    ]
            except sqlite3.OperationalError:
                finished = 0
            if finished >= target:
                break
        time.sleep(0.01)
    assert proc.poll() is None, "the job finished before it could be killed"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()

    resumed = run_clean(CleanOptions(str(tiny_model), str(src), str(out), progress=False))
    assert resumed.skipped >= target
    assert resumed.done == ref.done and sorted(resumed.errors) == sorted(ref.errors)
    got, want = _tree(out), _tree(reference)
    assert sorted(got) == sorted(want)
    assert all(got[k] == want[k] for k in want), "outputs differ from the uninterrupted run"
    assert not [p for p in out.rglob("*") if TMP_SUFFIX in p.name]
    with sqlite3.connect(db_file) as db:
        assert db.execute("SELECT COUNT(*) FROM items WHERE status='done'").fetchone()[0] == ref.done


def test_clean_without_model_uses_the_bundled_model_and_records_its_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import json
    import sqlite3

    from reflect.cli import main
    from tests.bundled.tiny import tiny_generator_file, use_as_bundled

    bundled = use_as_bundled(monkeypatch, tiny_generator_file(tmp_path / "bundled.safetensors"))
    src = tmp_path / "in"
    _make_inputs(src, 2, [])
    common = ["--input", str(src), "--workers", "1", "--no-progress"]
    assert main(["clean", *common, "--output", str(tmp_path / "default")]) == 0
    assert main(["clean", *common, "--output", str(tmp_path / "explicit"), "--model", str(bundled)]) == 0
    assert (
        _tree(tmp_path / "default") == _tree(tmp_path / "explicit") and len(_tree(tmp_path / "default")) == 2
    )
    with sqlite3.connect(job_paths(tmp_path / "default")[0]) as db:
        (settings,) = db.execute("SELECT value FROM job WHERE key='settings'").fetchone()
    assert json.loads(settings)["model"] == str(bundled.resolve())
