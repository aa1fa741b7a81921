"""Videos on a full disk: `reflect stream` fails the run in one line and keeps no broken file under the
sink's name; `reflect clean` never leaves an unplayable video under its output name, and a resume
finishes it. The stream's video keeps the source's frame rate.

FFmpeg does not raise on a full disk: OpenCV's ``write`` returns False (AVI) or the MP4 is left
without its index at ``release``. Both are simulated here by wrapping ``cv2.VideoWriter`` (works
anywhere); the real thing runs on a small tmpfs where this machine lets the tests mount one.
"""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

import pipelines.videos
from pipelines.batch_clean.runner import CleanOptions, job_paths, run_clean
from reflect.cli import main
from reflect.errors import OutputError
from reflect.utils.atomic import TMP_SUFFIX
from tests.bundled.tiny import tiny_generator_file
from tests.pipelines.conftest import write_video

REAL_WRITER = cv2.VideoWriter


def _failing_writer(monkeypatch: pytest.MonkeyPatch, *, after: int, mode: str) -> None:
    """``cv2.VideoWriter`` on a disk that fills up after ``after`` frames.

    ``mode='avi'``: ``write`` returns False from then on; ``'mp4'``: every write "succeeds" but the file
    is cut short at ``release`` (no index). ``shutil.disk_usage`` reports the disk full.
    """

    class Writer:
        fourcc = staticmethod(REAL_WRITER.fourcc)

        def __init__(self, path: str, *args: Any) -> None:
            self.path, self.real, self.n = path, REAL_WRITER(path, *args), 0

        def isOpened(self) -> bool:  # noqa: N802 - OpenCV's name
            return bool(self.real.isOpened())

        def write(self, frame: np.ndarray) -> bool:
            self.n += 1
            if self.n > after and mode == "avi":
                return False
            self.real.write(frame)
            return True

        def release(self) -> None:
            self.real.release()
            if self.n > after and mode == "mp4" and Path(self.path).exists():
                Path(self.path).write_bytes(Path(self.path).read_bytes()[:44])

    monkeypatch.setattr(cv2, "VideoWriter", Writer)
    monkeypatch.setattr(
        pipelines.videos.shutil, "disk_usage", lambda p: shutil._ntuple_diskusage(1 << 20, 1 << 20, 0)
    )


def _frame_count(path: Path) -> tuple[int, float]:
    cap = cv2.VideoCapture(str(path))
    n = 0
    while cap.read()[0]:
        n += 1
    fps = float(cap.get(cv2.CAP_PROP_FPS))
    cap.release()
    return n, fps


def _leftovers(folder: Path) -> list[Path]:
    return list(folder.rglob(f"*{TMP_SUFFIX}*"))


@pytest.mark.parametrize("mode", ["avi", "mp4"])
def test_stream_sink_on_a_full_disk_fails_in_one_line_and_keeps_no_broken_video(
    mode: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    model = tiny_generator_file(tmp_path / "tiny.safetensors")
    src = tmp_path / "in.avi"
    write_video(src, 12)
    out = tmp_path / "out" / f"clean.{mode}"
    _failing_writer(monkeypatch, after=5, mode=mode)
    rc = main(["stream", "--model", str(model), "--source", str(src), "--sink", str(out), "--batch", "2"])
    captured = capsys.readouterr()
    assert rc == 2
    errors = [line for line in captured.err.splitlines() if "error" in line]
    assert len(errors) == 1 and "No space left on device" in errors[0] and str(out) in errors[0], captured.err
    assert "Traceback" not in captured.err
    assert not out.exists() and not _leftovers(out.parent)  # no file that no player opens
    assert f"0 frame(s) written to {out}" in captured.out  # the summary counts what was really written


def test_stream_into_a_folder_on_a_full_disk_counts_the_frames_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import reflect.utils.atomic as atomic

    model = tiny_generator_file(tmp_path / "tiny.safetensors")
    src = tmp_path / "in.avi"
    write_video(src, 12)
    out = tmp_path / "frames"
    real, calls = atomic.atomic_write_bytes, {"n": 0}

    def filling(path: Path, data: bytes) -> None:
        calls["n"] += 1
        if calls["n"] > 4:
            raise OSError(28, "No space left on device", str(path))
        real(path, data)

    monkeypatch.setattr("pipelines.stream.sinks.atomic_write_bytes", filling)
    rc = main(["stream", "--model", str(model), "--source", str(src), "--sink", str(out), "--batch", "2"])
    captured = capsys.readouterr()
    assert rc == 2 and "Traceback" not in captured.err
    assert len(captured.err.strip().splitlines()) == 1 and "No space left on device" in captured.err
    assert len(list(out.glob("*.jpg"))) == 4 and f"4 frame(s) written to {out}" in captured.out


def test_stream_video_keeps_the_source_frame_rate(tmp_path: Path) -> None:
    model = tiny_generator_file(tmp_path / "tiny.safetensors")
    src, out = tmp_path / "in.avi", tmp_path / "out.avi"
    write_video(src, 12, fps=12.0)
    assert main(["stream", "--model", str(model), "--source", str(src), "--sink", str(out)]) == 0
    assert _frame_count(out) == (12, 12.0)


def _clean_inputs(root: Path) -> None:
    root.mkdir(parents=True)
    write_video(root / "clip.avi", 10)
    cv2.imwrite(str(root / "still.png"), np.full((32, 48, 3), 90, np.uint8))


def _statuses(out: Path) -> dict[str, str]:
    with sqlite3.connect(job_paths(out)[0]) as db:
        return dict(db.execute("SELECT rel, status FROM items").fetchall())


@pytest.mark.parametrize("mode", ["avi", "mp4"])
def test_clean_never_leaves_a_broken_video_under_its_name_and_a_resume_finishes_it(
    mode: str, smoke_run: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    src, out = tmp_path / "in", tmp_path / "out"
    _clean_inputs(src)
    codec = "MJPG" if mode == "avi" else "mp4v"
    video = out / f"clip.{mode}"
    with monkeypatch.context() as m:
        _failing_writer(m, after=3, mode=mode)
        with pytest.raises(OutputError) as e:
            run_clean(
                CleanOptions(str(smoke_run), str(src), str(out), progress=False, workers=1, codec=codec)
            )
    assert "No space left on device" in str(e.value) and "\n" not in str(e.value)
    assert not video.exists() and not _leftovers(out)
    assert _statuses(out)["clip.avi"] == "failed"  # retried by a plain resume, not 'error'
    summary = run_clean(
        CleanOptions(str(smoke_run), str(src), str(out), progress=False, workers=1, codec=codec)
    )
    assert summary.done == summary.total == 2 and not summary.failed
    assert _frame_count(video)[0] == 10


def _mount_tmpfs(path: Path, size: str) -> bool:
    path.mkdir(parents=True, exist_ok=True)
    if shutil.which("mount") is None:
        return False
    res = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)], capture_output=True
    )
    return res.returncode == 0


@pytest.mark.parametrize("mode", ["avi", "mp4"])
def test_real_full_tmpfs_stream_and_clean(
    mode: str, smoke_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src = tmp_path / "in"
    src.mkdir()
    rng = np.random.default_rng(0)
    writer = REAL_WRITER(str(src / "noise.avi"), REAL_WRITER.fourcc(*"MJPG"), 12, (96, 64))
    for _ in range(60):  # the cleaned video: 100-200 KB, on a 96 KB disk
        writer.write(rng.integers(0, 255, (64, 96, 3), dtype=np.uint8))
    writer.release()
    disk = tmp_path / "disk"
    if not _mount_tmpfs(disk, "96k"):
        pytest.skip("cannot mount a tmpfs here (needs root on Linux); the simulated tests cover this")
    try:
        sink = disk / f"stream.{mode}"
        rc = main(
            ["stream", "--model", str(smoke_run), "--source", str(src / "noise.avi"), "--sink", str(sink)]
        )
        err = capsys.readouterr().err
        assert rc == 2 and "No space left on device" in err and "Traceback" not in err
        assert not sink.exists() and not _leftovers(disk)

        out = disk / "out"
        codec = "MJPG" if mode == "avi" else "mp4v"
        with pytest.raises(OutputError, match="No space left on device|disk is full"):
            run_clean(
                CleanOptions(str(smoke_run), str(src), str(out), progress=False, workers=1, codec=codec)
            )
        assert not (out / f"noise.{mode}").exists() and not _leftovers(out)
        subprocess.run(["mount", "-o", "remount,size=16m", str(disk)], check=True)  # space freed
        summary = run_clean(
            CleanOptions(str(smoke_run), str(src), str(out), progress=False, workers=1, codec=codec)
        )
        assert summary.done == summary.total == 1
        assert _frame_count(out / f"noise.{mode}")[0] == 60
    finally:
        subprocess.run(["umount", "-l", str(disk)], capture_output=True)
