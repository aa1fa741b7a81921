"""reflect clean --engine ray: the same outputs as the local engine, the same job database semantics.

One private Ray cluster (2 CPUs, loopback) serves the whole module; the Ray tests skip when Ray is
not installed (it is the optional ``reflect[ray]`` extra).
"""

from __future__ import annotations

import importlib.util
import socket
import sqlite3
import sys
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest

from pipelines.batch_clean.runner import CleanOptions, job_paths, run_clean
from reflect.cli import main
from reflect.utils.atomic import TMP_SUFFIX
from tests.pipelines.conftest import write_video

# Ray Data's own DataContext construction warns about its deprecated fields
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:ray.data.context")
needs_ray = pytest.mark.skipif(
    importlib.util.find_spec("ray") is None,
    reason="Ray is not installed (optional extra: pip install 'reflect[ray]')",
)


def _tree(folder: Path) -> dict[str, bytes]:
    return {
        p.relative_to(folder).as_posix(): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and ".reflect" not in p.parts
    }


def _rows(out: Path) -> dict[str, tuple[str, int, str | None]]:
    with sqlite3.connect(job_paths(out)[0]) as db:
        return {
            r[0]: (r[1], r[2], r[3]) for r in db.execute("SELECT rel, status, attempts, error FROM items")
        }


@pytest.fixture(scope="module")
def ray_cluster() -> Iterator[None]:
    """Started once for the module (the engine reuses a connected cluster and leaves it running)."""
    pytest.importorskip("ray", reason="Ray is not installed (optional extra: pip install 'reflect[ray]')")
    import ray

    from pipelines.batch_clean.ray_engine import connect

    assert connect(None, num_cpus=2)
    yield
    ray.shutdown()


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """10 images of two sizes (32x48 and 48x40, jpg and png), a corrupt JPEG, a 6-frame video, and
    ``roi.yaml`` (a window rectangle for img00-img04; the other inputs are cleaned whole)."""
    root = tmp_path_factory.mktemp("ray_in")
    rng = np.random.default_rng(7)
    (root / "cam1").mkdir()
    (root / "cam2").mkdir()
    for i in range(10):
        h, w = (32, 48) if i % 3 else (48, 40)
        name = f"img{i:02d}.{'png' if i % 2 else 'jpg'}"
        cv2.imwrite(str(root / "cam1" / name), rng.integers(0, 255, (h, w, 3), dtype=np.uint8))
    (root / "cam1" / "corrupt.jpg").write_bytes(b"\xff\xd8\xff\xe0" + b"\x00" * 60)
    write_video(root / "cam2" / "clip.avi", 6)
    (root / "roi.yaml").write_text("'cam1/img0[0-4]*': [4, 6, 24, 20]\n")  # not an input (by extension)
    return root


@pytest.fixture(scope="module")
def local_run(tiny_model: Path, inputs: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("ray_local") / "out"
    run_clean(
        CleanOptions(
            str(tiny_model), str(inputs), str(out), roi_file=str(inputs / "roi.yaml"), progress=False
        )
    )
    return out


@needs_ray
def test_ray_outputs_equal_the_local_engine_and_a_rerun_does_nothing(
    ray_cluster: None, tiny_model: Path, inputs: Path, local_run: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    opts = CleanOptions(
        str(tiny_model), str(inputs), str(out), roi_file=str(inputs / "roi.yaml"), engine="ray"
    )
    opts.progress = False
    summary = run_clean(opts)
    assert summary.total == 12 and summary.done == 11 and summary.frames == 10 + 6
    got, want = _tree(out), _tree(local_run)
    assert (
        sorted(got)
        == sorted(want)
        == [f"cam1/img{i:02d}.{'png' if i % 2 else 'jpg'}" for i in range(10)] + ["cam2/clip.mp4"]
    )
    assert [k for k in want if got[k] != want[k]] == [], "ray outputs differ from the local engine's"
    rows = _rows(out)
    assert rows["cam1/corrupt.jpg"][0] == "error" and "not a readable image" in str(
        rows["cam1/corrupt.jpg"][2]
    )
    assert rows["cam1/corrupt.jpg"] == _rows(local_run)["cam1/corrupt.jpg"]  # same reason as the local engine
    assert rows["cam2/clip.avi"][:2] == ("done", 1)  # the video was cleaned by the driver
    assert not [p for p in out.rglob("*") if TMP_SUFFIX in p.name]

    again = run_clean(opts)
    assert again.frames == 0 and again.skipped == 12 and again.done == 11
    assert _rows(out) == rows and _tree(out) == got  # nothing written, nothing attempted twice


@needs_ray
def test_ray_resumes_an_interrupted_job_without_duplicates(
    ray_cluster: None,
    tiny_model: Path,
    inputs: Path,
    local_run: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """As after kill -9: some items still pending, one output missing, one half-written temporary file."""
    out = tmp_path / "out"
    roi = str(inputs / "roi.yaml")
    run_clean(
        CleanOptions(str(tiny_model), str(inputs), str(out), roi_file=roi, progress=False)
    )  # local engine
    lost = ["cam1/img03.png", "cam1/img04.jpg", "cam1/img06.jpg", "cam2/clip.avi"]
    with sqlite3.connect(job_paths(out)[0]) as db:
        db.executemany("UPDATE items SET status='pending', output=NULL WHERE rel=?", [(r,) for r in lost])
    (out / "cam1/img04.jpg").unlink()
    (out / "cam1" / f".img06.x{TMP_SUFFIX}.jpg").write_bytes(b"partial")

    code = main(["clean", "--model", str(tiny_model), "--input", str(inputs), "--output", str(out),
                 "--roi", roi, "--engine", "ray", "--workers", "1", "--no-progress"])  # fmt: skip
    assert code == 1  # the corrupt input is still an error
    assert "cleaned 11 of 12 inputs (8 finished by an earlier run); 9 frames" in capsys.readouterr().out
    assert _tree(out) == _tree(local_run)
    assert not [p for p in out.rglob("*") if TMP_SUFFIX in p.name]
    rows = _rows(out)
    assert len(rows) == 12 and {rows[r][0] for r in lost} == {"done"}
    assert {r: rows[r][1] for r in lost} == dict.fromkeys(lost, 2)  # each redone once, by one engine


@needs_ray
def test_unreachable_ray_address_fails_fast_with_one_line(
    tiny_model: Path, inputs: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    code = main(["clean", "--model", str(tiny_model), "--input", str(inputs), "--output", str(tmp_path / "out"),
                 "--engine", "ray", "--ray-address", f"127.0.0.1:{port}", "--no-progress"])  # fmt: skip
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1 and f"--ray-address 127.0.0.1:{port}" in err


def test_missing_ray_is_one_clear_line(
    tiny_model: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` raises ImportError
    (tmp_path / "in").mkdir()
    cv2.imwrite(str(tmp_path / "in" / "a.png"), np.zeros((32, 32, 3), np.uint8))
    out = tmp_path / "out"
    code = main(["clean", "--model", str(tiny_model), "--input", str(tmp_path / "in"), "--output", str(out),
                 "--engine", "ray", "--no-progress"])  # fmt: skip
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1
    assert "pip install 'reflect[ray]'" in err
    assert not out.exists()  # refused before the job database was made


def test_help_documents_the_ray_engine(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["clean", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "--engine {local,ray}" in text and "--ray-address" in text and "reflect[ray]" in text
