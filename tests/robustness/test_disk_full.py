"""A disk that fills up mid-job, then is freed: a plain resume finishes every item, byte-identical.

Simulated (``ENOSPC`` raised by the image writer after a few files) everywhere; on a real small
tmpfs where this machine lets the tests mount one (root on Linux).
"""

from __future__ import annotations

import errno
import shutil
import sqlite3
import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import pipelines.batch_clean.writer as writer_module
from pipelines.batch_clean.runner import CleanOptions, job_paths, run_clean
from reflect.errors import OutputError
from reflect.utils.atomic import TMP_SUFFIX
from tests.pipelines.conftest import write_video
from tests.robustness.bad_inputs import snapshot


def _inputs(root: Path, n: int = 10, size: tuple[int, int] = (32, 40)) -> None:
    rng = np.random.default_rng(3)
    root.mkdir(parents=True)
    for i in range(n):
        Image.fromarray(rng.integers(0, 255, (*size, 3), dtype=np.uint8)).save(root / f"im{i:02d}.png")
    write_video(root / "clip.avi", 6)


def _statuses(out: Path) -> dict[str, int]:
    with sqlite3.connect(job_paths(out)[0]) as db:
        return dict(db.execute("SELECT status, COUNT(*) FROM items GROUP BY status").fetchall())


def test_simulated_enospc_stops_the_job_and_a_plain_resume_finishes_it(
    smoke_run: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    src = tmp_path / "in"
    _inputs(src)
    reference = tmp_path / "reference"
    run_clean(CleanOptions(str(smoke_run), str(src), str(reference), progress=False, workers=1))

    out = tmp_path / "out"
    real_write = writer_module.write_image
    calls = {"n": 0}

    def filling_disk(path: Path, image: np.ndarray, **kwargs: object) -> None:
        calls["n"] += 1
        if calls["n"] > 4:
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        real_write(path, image, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(writer_module, "write_image", filling_disk)
    with pytest.raises(OutputError) as e:
        run_clean(CleanOptions(str(smoke_run), str(src), str(out), progress=False, workers=1))
    assert "No space left on device" in str(e.value) and "run the same command again" in str(e.value)
    assert "\n" not in str(e.value)
    states = _statuses(out)
    assert states.get("done", 0) >= 4 and states.get("failed") == 1 and "error" not in states

    monkeypatch.setattr(writer_module, "write_image", real_write)  # space freed
    summary = run_clean(CleanOptions(str(smoke_run), str(src), str(out), progress=False, workers=1))
    assert summary.done == summary.total == 11 and not summary.errors and not summary.failed
    assert snapshot(out) == snapshot(reference) | {
        k: v for k, v in snapshot(out).items() if k.startswith(".reflect")
    }
    assert not list(out.rglob(f"*{TMP_SUFFIX}*"))


def _mount_tmpfs(path: Path, size: str) -> bool:
    path.mkdir(parents=True, exist_ok=True)
    if shutil.which("mount") is None:
        return False
    res = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)], capture_output=True
    )
    return res.returncode == 0


def test_real_small_tmpfs_fills_then_is_enlarged_and_resume_finishes(smoke_run: Path, tmp_path: Path) -> None:
    src = tmp_path / "in"
    _inputs(src, n=24, size=(64, 96))  # about 18 KB per output: 430 KB in all, on a 256 KB disk
    mnt = tmp_path / "disk"
    if not _mount_tmpfs(mnt, "256k"):
        pytest.skip("cannot mount a tmpfs here (needs root on Linux); the simulated ENOSPC test covers this")
    try:
        out = mnt / "out"
        with pytest.raises(OutputError) as e:
            run_clean(CleanOptions(str(smoke_run), str(src), str(out), progress=False, workers=1))
        assert "run the same command again" in str(e.value)
        subprocess.run(["mount", "-o", "remount,size=16m", str(mnt)], check=True)  # the disk is freed
        summary = run_clean(CleanOptions(str(smoke_run), str(src), str(out), progress=False, workers=1))
        assert summary.done == summary.total == 25 and not summary.errors and not summary.failed
        assert not list(out.rglob(f"*{TMP_SUFFIX}*"))
    finally:
        subprocess.run(["umount", "-l", str(mnt)], capture_output=True)
