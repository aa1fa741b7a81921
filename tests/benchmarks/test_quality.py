"""benchmarks/quality.py end to end on a tiny setting: the identity model, 1 sample per type, 2 types.

The portraits stay outside the repository: ``held_out_portraits`` (conftest.py) links a few held-out
ones into a temporary folder and skips when ../shared/data/portraits is absent.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def result(held_out_portraits: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    tmp = tmp_path_factory.mktemp("quality")
    cmd = [
        sys.executable,
        str(REPO / "benchmarks" / "quality.py"),
        "--model",
        "identity",
        "--per-type",
        "1",
        "--types",
        "sky,photo",
        "--no-mtcnn",
        "--parts",
        "camera",
        "--portraits",
        str(held_out_portraits),
        "--out",
        str(tmp / "out"),
        "--threads",
        "1",
    ]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "| overall |" in proc.stdout and "machine:" in proc.stdout
    assert (tmp / "out" / "index.html").is_file()
    return json.loads((tmp / "out" / "quality.json").read_text())


def test_json_has_the_expected_keys(result: dict) -> None:
    assert {"model", "rows", "speed", "machine", "samples", "total_s", "people"} <= set(result)
    assert list(result["rows"]) == ["sky", "photo", "overall", "overall, camera only", "other recipe"]
    keys = {
        "n",
        "skipped",
        "psnr_in",
        "psnr_out",
        "ssim_in",
        "ssim_out",
        "fpsnr_in",
        "fpsnr_out",
        "fssim_in",
        "fssim_out",
        "hog_clean",
        "hog_in",
        "hog_out",
        "mtcnn_clean",
        "lm_in",
        "lm_out",
        "dist_in",
        "dist_out",
        "closer",
        "rank1_clean",
        "rank1_in",
        "rank1_out",
        "psnr_io",
        "still",
        "ci",
    }
    for row in result["rows"].values():
        assert keys <= set(row)
    assert result["rows"]["overall"]["n"] == 2 and result["rows"]["other recipe"]["n"] == 1
    assert result["speed"] is None  # nothing to time for the identity model
    assert {"cpu", "cores", "torch_threads"} <= set(result["machine"])


def test_identity_model_changes_nothing(result: dict) -> None:
    for s in result["samples"]:
        assert s["psnr_out"] == s["psnr_in"] and s["ssim_out"] == s["ssim_in"]
        assert s["fpsnr_out"] == s["fpsnr_in"] and s["psnr_io"] == 100.0
        assert s["hog_out"] == s["hog_in"]
        if not s["skipped"]:
            assert s["dist_out"] == s["dist_in"]
    for row in result["rows"].values():
        assert row["psnr_out"] == row["psnr_in"]
        assert row["closer"] in (0.0, None)


def test_camera_only_part_renders_the_same_samples_without_reflections(result: dict) -> None:
    rows = result["rows"]
    part, full = rows["overall, camera only"], rows["overall"]
    assert part["n"] == full["n"] == 2
    # no reflection left: only sensor noise and JPEG between the input and the clean target
    assert part["psnr_in"] > full["psnr_in"] + 5, (part["psnr_in"], full["psnr_in"])
    assert {s["part"] for s in result["samples"]} == {"full", "camera"}


def test_recipe_parts_switch_off_what_they_say() -> None:
    from benchmarks.quality_lib.render import recipe_part, type_config

    cfg, _ = type_config("sky", 64, 0)
    assert recipe_part(cfg, "full") is cfg
    refl = recipe_part(cfg, "reflection")
    assert refl.reflection.enabled and not refl.camera.noise and not refl.camera.jpeg
    cam = recipe_part(cfg, "camera")
    assert not (cam.reflection.enabled or cam.ghost.enabled or cam.glare.enabled or cam.false_colour.enabled)
    assert cam.camera.noise and cam.camera.jpeg and cam.camera.nir_veil == [0.0, 0.0]
    assert cfg.reflection.enabled and cfg.camera.noise  # the original is untouched
    with pytest.raises(ValueError, match="unknown recipe part 'glass'"):
        recipe_part(cfg, "glass")


def test_an_unknown_part_is_one_line_naming_it() -> None:
    cmd = [sys.executable, str(REPO / "benchmarks" / "quality.py"), "--parts", "camera,glass"]
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert (
        "unknown part(s) glass; valid: reflection, camera" in proc.stderr and "Traceback" not in proc.stderr
    )


def test_a_bad_work_size_is_one_line() -> None:
    proc = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "quality.py"), "--model", "identity", "--work-size", "8"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2 and len(lines) == 1 and "--work-size 8" in lines[0], proc.stderr


def test_the_model_at_a_work_size_sees_small_frames_and_returns_full_ones() -> None:
    import numpy as np

    from benchmarks.quality_lib.models import Model, at_work_size

    seen: list[tuple[int, ...]] = []

    def brighten(frames: np.ndarray) -> np.ndarray:
        seen.append(frames.shape)
        return np.clip(frames.astype(np.int16) + 20, 0, 255).astype(np.uint8)

    frames = np.random.default_rng(0).integers(50, 200, (2, 128, 96, 3), dtype=np.uint8)
    out = at_work_size(Model("brighten", brighten), 64).translate(frames)
    assert seen == [(1, 64, 48, 3), (1, 64, 48, 3)] and out.shape == frames.shape
    assert np.abs(out.astype(np.int16) - frames - 20).max() <= 1
