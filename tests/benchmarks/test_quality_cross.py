"""The cross-recipe benchmark of issue 23: scene, recipe and do-no-harm types, bootstrap intervals,
the left-out-of-training line and the must-show checks (tiny: 2 samples per type, 64-128 px)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from benchmarks.quality_lib import summary

REPO = Path(__file__).resolve().parents[2]
QUALITY = [sys.executable, str(REPO / "benchmarks" / "quality.py")]
ENV = {**os.environ, "OMP_NUM_THREADS": "1"}
PSNR_CAP = 100.0  # benchmarks/quality.py's cap for identical images


@pytest.fixture(scope="module")
def faces(held_out_portraits: Path, tmp_path_factory: pytest.TempPathFactory) -> list:
    from benchmarks.quality_lib.render import test_faces
    from reflect.data.synth.faces import load_face_bank

    cache = tmp_path_factory.mktemp("bank") / "face_cache.json"
    return test_faces(load_face_bank(held_out_portraits, cache=cache), 1234)


def test_cross_types_render_what_they_name_the_same_bytes_every_time(faces: list) -> None:
    from benchmarks.quality_lib.render import CROSS_TYPES, NOHARM_TYPES, RECIPE_SCENES, SCENE_BLENDS, pairs

    for kind in CROSS_TYPES + NOHARM_TYPES:
        first, again = list(pairs(kind, faces, 3, 64, 1234)), list(pairs(kind, faces, 2, 64, 1234))
        for p, q in zip(first, again, strict=False):  # a sample depends on its position only
            assert np.array_equal(p.input, q.input) and np.array_equal(p.target, q.target), kind
        family, _, name = kind.partition(":")
        for p in first:
            assert p.input.shape == p.target.shape == (64, 64, 3) and p.input.dtype == np.uint8
            if family == "noharm":
                assert p.blend == "none" and np.array_equal(p.input, p.target), kind
                assert p.scene == "backdrop" or name != "sharp", p.scene  # the sitter before a sharp photo
                continue
            assert not np.array_equal(p.input, p.target), kind
            if family == "scene":
                assert (
                    p.scene == ("backdrop" if name.startswith("backdrop") else name)
                    and p.blend in SCENE_BLENDS
                )
            else:
                assert p.blend == name and p.scene in RECIPE_SCENES
    seeded = [next(iter(pairs("recipe:screen", faces, 1, 64, seed))).input for seed in (1234, 99)]
    assert not np.array_equal(seeded[0], seeded[1])


def test_without_the_photo_cache_the_cross_types_use_test_photos_and_say_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from benchmarks.quality_lib.render import cross_photos
    from reflect.data.synth.split import TEST_PHOTOS

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))  # an empty cache
    bank, note = cross_photos.__wrapped__()
    assert bank.names == list(TEST_PHOTOS) and "TEST_PHOTOS" in note and "reflect photos fetch" in note


def test_dark_and_bright_backdrops_are_what_they_say(faces: list) -> None:
    from benchmarks.quality_lib.render import pairs

    def level(kind: str) -> float:
        return float(np.mean([p.target.mean() for p in pairs(kind, faces, 4, 64, 1234)]))

    assert level("scene:backdrop_dark") + 30 < level("scene:backdrop_bright")


@pytest.fixture(scope="module")
def run(
    held_out_portraits: Path, tmp_path_factory: pytest.TempPathFactory
) -> tuple[dict[str, Any], str, Path]:
    out = tmp_path_factory.mktemp("quality") / "out"
    types = "scene:backdrop_bright,recipe:screen,noharm:clean,noharm:tinted"
    cmd = [
        *QUALITY,
        "--model",
        "identity",
        "--types",
        types,
        "--no-other",
        "--per-type",
        "2",
        "--size",
        "128",
        "--no-mtcnn",
        "--examples",
        "1",
        "--portraits",
        str(held_out_portraits),
        "--out",
        str(out),
        "--threads",
        "1",
    ]
    proc = subprocess.run(cmd, cwd=REPO, env=ENV, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads((out / "quality.json").read_text()), proc.stdout, out


def test_rows_and_outputs_of_the_new_types(run: tuple[dict[str, Any], str, Path]) -> None:
    result, stdout, out = run
    assert list(result["rows"]) == ["scene:backdrop_bright", "recipe:screen", "noharm:clean", "noharm:tinted"]
    assert "| recipe:screen * |" in stdout and "do no harm (reflection-free crops" in stdout
    assert (
        result["photos"]
        and result["photo_names"]
        and {s["blend"] for s in result["samples"] if s["type"] == "recipe:screen"} == {"screen"}
    )
    page = (out / "index.html").read_text()
    for name in (
        "scene_backdrop_bright_0.png",
        "recipe_screen_0.png",
        "noharm_clean_0.png",
        "noharm_tinted_0.png",
    ):
        assert f"examples/{name}" in page and (out / "examples" / name).is_file()


def test_the_identity_model_does_no_harm(run: tuple[dict[str, Any], str, Path]) -> None:
    result, stdout, _ = run
    for name in ("noharm:clean", "noharm:tinted"):
        row = result["rows"][name]
        assert row["skipped"] == 0, "128 px faces must be found on the clean crop"
        assert row["psnr_io"] == row["psnr_io_min"] == row["psnr_in"] == PSNR_CAP  # identical images
        assert row["still"] == 1.0 and row["ci"]["still"] == [1.0, 1.0] and row["dist_io"] == 0.0
        assert f"PASS  do no harm ({name})" in stdout


def test_left_out_line_and_checks_follow_the_rows(run: tuple[dict[str, Any], str, Path]) -> None:
    result, stdout, _ = run
    assert result["held_out_types"] == ["scene:rear_window", "recipe:screen", "recipe:veil"]
    assert result["left_out"]["types"] == ["recipe:screen"] and result["left_out"]["fpsnr_gain"] == 0.0
    assert (
        "left out of training (recipe:screen; 2 samples)" in stdout and "| left out, pooled | 2 |" in stdout
    )
    assert "NaN" not in json.dumps(result)
    checks = {c["check"]: c["result"] for c in result["checks"]}
    assert checks["bright backdrop: whole-crop PSNR >= input + 1 dB"] == "FAIL"  # the identity gains nothing
    assert checks["left out of training: face-box PSNR >= input + 2 dB on average"] == "FAIL"
    assert "FAIL  bright backdrop" in stdout


def test_a_saved_run_is_tabulated_again_with_other_left_out_types(
    run: tuple[dict[str, Any], str, Path],
) -> None:
    result, stdout, out = run
    cmd = [*QUALITY, "--from-json", str(out / "quality.json"), "--held-out-types", "scene:backdrop_bright"]
    proc = subprocess.run(cmd, cwd=REPO, env=ENV, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    table = [ln for ln in stdout.splitlines() if ln.startswith("| noharm:")]
    assert table and all(ln in proc.stdout for ln in table)  # the same rows from the saved records
    assert "| scene:backdrop_bright * |" in proc.stdout and "| recipe:screen |" in proc.stdout
    assert "left out of training (scene:backdrop_bright; 2 samples)" in proc.stdout
    bad_cmd = [*QUALITY, "--from-json", str(out / "index.html")]
    bad = subprocess.run(bad_cmd, cwd=REPO, env=ENV, capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and "cannot read" in bad.stderr


def test_bootstrap_intervals_hold_the_point_estimate(run: tuple[dict[str, Any], str, Path]) -> None:
    for row in run[0]["rows"].values():
        for key, ci in row["ci"].items():
            if ci is not None:
                assert ci[0] <= row[key] <= ci[1], (key, ci, row[key])
    rng = np.random.default_rng(0)
    for n in (1, 2, 7, 50, 300):
        values = (rng.random(n) < 0.8).astype(float).tolist()
        ci = summary.bootstrap(values)
        assert ci is not None
        lo, hi = ci
        assert lo <= float(np.mean(values)) <= hi and summary.bootstrap(values) == [lo, hi]
    assert summary.bootstrap([]) is None and summary.bootstrap([1.0, 1.0, 1.0]) == [1.0, 1.0]
    wide, narrow = summary.bootstrap([0.0, 1.0] * 5), summary.bootstrap([0.0, 1.0] * 200)
    assert wide and narrow and wide[1] - wide[0] > 2 * (narrow[1] - narrow[0])


def _record(
    kind: str,
    *,
    psnr: tuple[float, float] = (15, 20),
    face: tuple[float, float] = (15, 20),
    dist: tuple[float, float] = (0.3, 0.2),
    hog: bool = True,
    moved: float = 0.0,
) -> dict[str, Any]:
    return {
        "type": kind,
        "skipped": False,
        "psnr_in": psnr[0],
        "psnr_out": psnr[1],
        "fpsnr_in": face[0],
        "fpsnr_out": face[1],
        "psnr_io": 100.0 if moved == 0 else 30.0,
        "hog_clean": True,
        "hog_in": True,
        "hog_out": hog,
        "rank1_clean": True,
        "rank1_in": True,
        "rank1_out": True,
        "dist_in": dist[0],
        "dist_out": dist[1],
        "dist_io": moved,
    }


def test_checks_pass_and_fail_on_the_issues_thresholds() -> None:
    records = (
        [_record("scene:rear_window", face=(15, 18)) for _ in range(8)]
        + [_record("scene:rear_window", dist=(0.2, 0.3)) for _ in range(2)]  # 80 % closer
        + [_record("scene:backdrop_bright", psnr=(15, 14), face=(15, 14.5)) for _ in range(4)]  # painted dark
        + [_record("noharm:clean") for _ in range(19)]
        + [_record("noharm:clean", moved=0.1)]  # 95 % still
        + [_record("noharm:tinted") for _ in range(18)]
        + [_record("noharm:tinted", moved=0.1) for _ in range(2)]
    )
    kinds = ["scene:rear_window", "scene:backdrop_bright", "noharm:clean", "noharm:tinted"]
    rows = {k: summary.summarise([r for r in records if r["type"] == k]) for k in kinds}
    left_out = summary.held_out(records, ["scene:rear_window", "recipe:screen"])
    assert left_out is not None and left_out["types"] == ["scene:rear_window"]
    by_name = {c["check"]: c["result"] for c in summary.checks(rows, left_out)}
    assert by_name["left out of training: face-box PSNR >= input + 2 dB on average"] == "PASS"  # +2.6 dB
    assert by_name["left out of training: identity closer for >= 75 % of faces"] == "PASS"
    assert by_name["left out of training: dlib detection within 3 points of the clean crops"] == "PASS"
    assert (
        by_name["face-box PSNR above the input on every scene type"] == "FAIL"
    )  # the bright backdrop: -0.5 dB
    assert by_name["bright backdrop: whole-crop PSNR >= input + 1 dB"] == "FAIL"
    assert (
        by_name["do no harm (noharm:clean): PSNR vs input >= 35 dB and >= 95 % of faces moved < 0.05"]
        == "PASS"
    )
    assert (
        by_name["do no harm (noharm:tinted): PSNR vs input >= 35 dB and >= 95 % of faces moved < 0.05"]
        == "FAIL"
    )
    assert summary.checks({}, None)[0]["result"] == "n/a"


@pytest.mark.parametrize(
    "args, message",
    [
        (["--types", "sky,scene:kitchen"], "unknown type(s) scene:kitchen; valid: sky,"),
        (["--suite", "everything"], "unknown suite everything; valid: held-out, cross, noharm, all"),
        (["--held-out-types", "recipe:glue"], "unknown --held-out-types recipe:glue"),
    ],
)
def test_an_unknown_type_or_suite_is_one_line_and_exit_2(args: list[str], message: str) -> None:
    proc = subprocess.run([*QUALITY, *args], cwd=REPO, env=ENV, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.count("\n") == 1 and message in proc.stderr and "Traceback" not in proc.stderr
