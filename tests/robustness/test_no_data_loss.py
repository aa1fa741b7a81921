"""Nothing lost: originals are never written, outputs never collide, a new run never writes into an old one."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from pipelines.batch_clean.naming import assign_stems
from pipelines.batch_clean.runner import CleanOptions, run_clean
from tests.pipelines.conftest import FACES, write_video
from tests.robustness.bad_inputs import make_good_inputs, snapshot
from tests.robustness.test_bad_inputs import reflect

SMOKE = Path(__file__).resolve().parents[2] / "configs" / "smoke.yaml"


def _one_error_line(res: object) -> str:
    lines = [ln for ln in (res.stdout + res.stderr).splitlines() if ln.strip()]  # type: ignore[attr-defined]
    assert len(lines) == 1, lines
    return lines[0]


@pytest.mark.parametrize("command", ["translate", "clean"])
def test_output_equal_to_or_holding_the_input_is_refused(
    command: str, smoke_run: Path, tmp_path: Path
) -> None:
    src = tmp_path / "photos" / "s"
    make_good_inputs(src)
    before = snapshot(tmp_path)
    model = ["--checkpoint" if command == "translate" else "--model", str(smoke_run)]
    for out, words in ((src, "is the input folder"), (tmp_path / "photos", "holds the input")):
        res = reflect(command, *model, "--input", str(src), "--output", str(out))
        assert res.returncode == 2
        line = _one_error_line(res)
        assert "--output" in line and words in line and str(out) in line
    res = reflect(
        command, *model, "--input", str(src / "good1.png"), "--output", str(src)
    )  # one file, its folder
    assert res.returncode == 2 and "is the input folder" in _one_error_line(res)
    assert snapshot(tmp_path) == before


def test_clean_gives_videos_that_would_meet_their_own_names(smoke_run: Path, tmp_path: Path) -> None:
    src, out = tmp_path / "in", tmp_path / "out"
    src.mkdir()
    write_video(src / "x.avi", 5, seed=1)
    write_video(src / "x.mp4", 7, seed=2)  # (MJPG in an .mp4 name: OpenCV reads it by content)
    write_video(src / "y.avi", 3, seed=3)
    summary = run_clean(CleanOptions(str(smoke_run), str(src), str(out), progress=False, workers=1))
    assert summary.done == 3 and not summary.errors
    frames = {}
    for name in ("x_avi.mp4", "x_mp4.mp4", "y.mp4"):
        cap = cv2.VideoCapture(str(out / name))
        n = 0
        while cap.read()[0]:
            n += 1
        frames[name] = n
    assert frames == {"x_avi.mp4": 5, "x_mp4.mp4": 7, "y.mp4": 3}
    # a later run that finds a new input keeps every name it gave before
    write_video(src / "y.mkv", 2, seed=4)
    again = run_clean(CleanOptions(str(smoke_run), str(src), str(out), progress=False, workers=1))
    assert again.done == 4 and (out / "y_mkv.mp4").is_file() and (out / "y.mp4").is_file()


def test_face_crop_names_keep_the_source_extension_where_inputs_meet() -> None:
    new = [("cam/a.jpg", "image"), ("cam/a.png", "image"), ("cam/b.jpg", "image"), ("cam/a.mp4", "video")]
    stems = {rel: stem for rel, _, stem in assign_stems(new, [], "mp4v", face_crops=True)}
    assert stems == {
        "cam/a.jpg": "cam/a_jpg",
        "cam/a.png": "cam/a_png",
        "cam/b.jpg": "cam/b",
        "cam/a.mp4": "cam/a",
    }
    # frame mode: images keep their names, only videos re-encoded into one container can meet
    stems = {rel: stem for rel, _, stem in assign_stems(new, [], "mp4v", face_crops=False)}
    assert stems["cam/a.jpg"] == "cam/a" and stems["cam/a.mp4"] == "cam/a"
    # a tagged name that is itself taken gets a number; known inputs keep theirs
    later = assign_stems(
        [("cam/x_avi.avi", "video"), ("cam/x.avi", "video")],
        [("cam/x.mp4", "video", "cam/x")],
        "mp4v",
        face_crops=False,
    )
    assert sorted(s for _, _, s in later) == ["cam/x_avi", "cam/x_avi_2"]


@pytest.mark.skipif(not (FACES / "obama.jpg").is_file(), reason=f"sample faces not found in {FACES}")
def test_clean_face_crops_of_a_jpg_and_a_png_both_survive(smoke_run: Path, tmp_path: Path) -> None:
    src, out = tmp_path / "in", tmp_path / "out"
    src.mkdir()
    face = cv2.imread(str(FACES / "obama.jpg"))
    face = cv2.resize(face, (240, round(face.shape[0] * 240 / face.shape[1])), interpolation=cv2.INTER_AREA)
    cv2.imwrite(str(src / "a.jpg"), face)
    cv2.imwrite(str(src / "a.png"), np.ascontiguousarray(face[:, ::-1]))
    summary = run_clean(
        CleanOptions(
            str(smoke_run),
            str(src),
            str(out),
            progress=False,
            workers=1,
            batch=2,
            detect="faces",
            write="crop",
            face_size=64,
        )
    )
    assert summary.done == 2 and summary.faces == 2
    assert sorted(p.name for p in out.glob("*.png")) == ["a_jpg_face0.png", "a_png_face0.png"]


def test_train_refuses_an_existing_run_without_resume(tmp_path: Path) -> None:
    args = ["train", str(SMOKE), f"out_dir={tmp_path}", "name=r", "train.steps=2", "train.checkpoint_every=1"]
    assert reflect(*args).returncode == 0
    run = tmp_path / "r"
    before = snapshot(run)
    res = reflect(*args[:-2], "train.steps=4", "model.ngf=4")
    assert res.returncode == 2
    line = _one_error_line(res)
    assert str(run) in line and "--resume" in line
    assert snapshot(run) == before  # config, checkpoints and metrics.jsonl untouched


def test_train_resume_removes_partial_checkpoints_of_a_killed_run(tmp_path: Path) -> None:
    args = ["train", str(SMOKE), f"out_dir={tmp_path}", "name=r", "train.steps=2", "train.checkpoint_every=1"]
    assert reflect(*args).returncode == 0
    partial = tmp_path / "r" / "checkpoints" / ".step_000000003.x1y2z3.tmp-reflect.pt"
    partial.write_bytes(b"half a checkpoint")
    res = reflect("train", "--resume", str(tmp_path / "r"), "train.steps=3")
    assert res.returncode == 0, res.stderr
    assert not partial.exists()
    assert sorted(p.name for p in (tmp_path / "r" / "checkpoints").iterdir())[-1] == "step_000000003.pt"
