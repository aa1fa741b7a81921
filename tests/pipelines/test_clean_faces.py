"""reflect clean --detect faces: regions around real faces are cleaned, the rest is left alone."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import cv2
import numpy as np
import pytest

from pipelines.batch_clean.runner import CleanOptions, job_paths, run_clean
from pipelines.regions import grow_box, square_region
from reflect.errors import ConfigError
from tests.pipelines.conftest import FACES, write_video

needs_faces = pytest.mark.skipif(
    not (FACES / "obama.jpg").is_file() or not (FACES / "biden.jpg").is_file(),
    reason=f"sample faces not found in {FACES}",
)
MARGIN = 0.6


def _read(path: Path) -> np.ndarray:
    im = cv2.imread(str(path))
    assert im is not None, f"cannot read {path}"
    return im


def _load(name: str, width: int = 240) -> np.ndarray:
    """A sample face photo (BGR) scaled to ``width``: small enough for dlib's HOG detector to be quick."""
    im = _read(FACES / name)
    return cv2.resize(im, (width, round(im.shape[0] * width / im.shape[1])), interpolation=cv2.INTER_AREA)


def _inputs(root: Path) -> dict[str, np.ndarray]:
    """one.png (one face), pair.png (two faces side by side), plain.png (no face); BGR as written."""
    obama, biden = _load("obama.jpg"), _load("biden.jpg")
    h = min(len(obama), len(biden))
    plain = np.zeros((120, 160, 3), np.uint8)
    plain[:] = np.linspace(0, 255, 160, dtype=np.uint8)[None, :, None]
    images = {
        "one.png": obama,
        "pair.png": np.concatenate([obama[:h], biden[:h]], axis=1),
        "plain.png": plain,
    }
    root.mkdir(parents=True)
    for name, im in images.items():
        cv2.imwrite(str(root / name), im)
    return images


def _faces(image_bgr: np.ndarray) -> list[tuple[int, int, int, int]]:
    from pipelines.regions import box_detector

    return box_detector("dlib-hog")(cv2.cvtColor(image_bgr, cv2.COLOR_BGR2RGB))


def _opts(model: Path, src: Path, out: Path, **kw: object) -> CleanOptions:
    base: dict[str, object] = {
        "detect": "faces",
        "face_margin": MARGIN,
        "face_size": 64,
        "workers": 1,
        "batch": 2,
        "progress": False,
    }
    return CleanOptions(str(model), str(src), str(out), **(base | kw))  # type: ignore[arg-type]


def _db_rows(out: Path) -> dict[str, tuple[str, str, int]]:
    with sqlite3.connect(job_paths(out)[0]) as db:
        return {r[0]: r[1:] for r in db.execute("SELECT rel, status, output, faces FROM items")}


@needs_faces
def test_frame_mode_cleans_around_the_face_and_passes_faceless_images(
    tiny_model: Path, tmp_path: Path
) -> None:
    src, out = tmp_path / "in", tmp_path / "out"
    images = _inputs(src)
    (src / "pair.png").unlink()
    write_video(src / "noface.avi", 4)
    summary = run_clean(_opts(tiny_model, src, out))
    assert summary.done == 3 and not summary.errors and summary.faces == 1 and summary.frames == 1 + 1 + 4
    orig, cleaned = images["one.png"], _read(out / "one.png")
    (face,) = _faces(orig)
    x1, y1, x2, y2 = square_region(face, MARGIN, (0, 0, orig.shape[1], orig.shape[0]))
    changed = (orig != cleaned).any(axis=2)
    inside = np.zeros_like(changed)
    inside[y1:y2, x1:x2] = True
    assert changed[face[1] : face[3], face[0] : face[2]].mean() > 0.5  # the face itself was translated
    assert not changed[~inside].any()  # nothing outside the square around it
    assert (cleaned[y2 + 10 :] == orig[y2 + 10 :]).all() and y2 + 10 < len(orig)  # far pixels: same bytes
    assert (_read(out / "plain.png") == images["plain.png"]).all()  # no face: unchanged
    assert _db_rows(out) == {
        "one.png": ("done", "one.png", 1),
        "plain.png": ("done", "plain.png", 0),
        "noface.avi": ("done", "noface.mp4", 0),
    }
    cap = cv2.VideoCapture(str(out / "noface.mp4"))
    n = 0
    while cap.read()[0]:
        n += 1
    assert n == 4  # a video without faces keeps every frame


@needs_faces
def test_crop_mode_writes_one_crop_per_face_and_video_frames(tiny_model: Path, tmp_path: Path) -> None:
    src, out = tmp_path / "in", tmp_path / "out"
    images = _inputs(src)
    (src / "one.png").unlink()
    pair = images["pair.png"]
    writer = cv2.VideoWriter(str(src / "clip.avi"), cv2.VideoWriter.fourcc(*"MJPG"), 5.0, (240, 300))
    for i in range(3):
        writer.write(np.roll(images["one.png"], 2 * i, axis=1))
    writer.release()
    summary = run_clean(_opts(tiny_model, src, out, write="crop"))
    assert summary.done == 3 and not summary.errors and summary.faces == 2 + 3
    files = sorted(p.name for p in out.iterdir() if p.is_file())
    assert files == [f"clip_frame{i:06d}_face0.png" for i in range(3)] + ["pair_face0.png", "pair_face1.png"]
    bounds = (0, 0, pair.shape[1], pair.shape[0])
    regions = [square_region(b, MARGIN, bounds) for b in _faces(pair)]  # largest face first
    for k, (x1, y1, x2, y2) in enumerate(regions):
        assert _read(out / f"pair_face{k}.png").shape == (y2 - y1, x2 - x1, 3)
    rows = _db_rows(out)
    assert rows["pair.png"] == ("done", "pair_face*.png", 2) and rows["plain.png"] == (
        "done",
        "plain_face*.png",
        0,
    )
    assert rows["clip.avi"] == ("done", "clip_frame*_face*.png", 3)


@needs_faces
def test_faces_are_found_only_inside_the_roi(tiny_model: Path, tmp_path: Path) -> None:
    src, out = tmp_path / "in", tmp_path / "out"
    pair = _inputs(src)["pair.png"]
    for name in ("one.png", "plain.png"):
        (src / name).unlink()
    roi = tmp_path / "roi.yaml"
    roi.write_text(f"default: [240, 0, 240, {len(pair)}]\n")  # the right half: the second face only
    summary = run_clean(_opts(tiny_model, src, out, roi_file=str(roi)))
    assert summary.faces == 1
    cleaned = _read(out / "pair.png")
    assert (cleaned[:, :240] == pair[:, :240]).all()  # the face outside the window is untouched
    assert not (cleaned[:, 240:] == pair[:, 240:]).all()


@needs_faces
def test_resume_is_byte_identical_and_other_detect_settings_are_refused(
    tiny_model: Path, tmp_path: Path
) -> None:
    src, out = tmp_path / "in", tmp_path / "out"
    _inputs(src)
    first = run_clean(_opts(tiny_model, src, out, workers=2))
    assert first.done == 3 and first.faces == 3
    before = {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()}
    # as after a kill -9: one input not finished and its output gone; it is redone alone (other batches)
    with sqlite3.connect(job_paths(out)[0]) as db:
        db.execute("UPDATE items SET status='pending' WHERE rel='pair.png'")
    (out / "pair.png").unlink()
    again = run_clean(_opts(tiny_model, src, out, workers=2))
    assert again.skipped == 2 and again.done == 3 and again.faces == 3
    assert {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()} == before
    with pytest.raises(ConfigError, match="face_margin"):
        run_clean(_opts(tiny_model, src, out, face_margin=0.3))
    with pytest.raises(ConfigError, match="detector"):
        run_clean(_opts(tiny_model, src, out, detector="mtcnn"))
    with pytest.raises(ConfigError, match="detect"):
        run_clean(_opts(tiny_model, src, out, detect="none"))


def test_ray_engine_with_faces_is_refused_in_one_line(tmp_path: Path) -> None:
    src = tmp_path / "in"
    src.mkdir()
    with pytest.raises(ConfigError, match="not supported with --engine ray") as e:
        run_clean(_opts(Path("model.pt"), src, tmp_path / "out", engine="ray"))
    assert "\n" not in str(e.value)


def test_unknown_detector_is_a_config_error(tmp_path: Path) -> None:
    src = tmp_path / "in"
    src.mkdir()
    with pytest.raises(ConfigError, match="--detector must be one of"):
        run_clean(_opts(Path("model.pt"), src, tmp_path / "out", detector="haar"))


def test_square_region_is_centred_and_clipped_and_grow_box_is_the_streams_rule() -> None:
    assert square_region((40, 50, 60, 80), 0.5, (0, 0, 200, 200)) == (20, 35, 80, 95)  # side 30 * 2, centred
    assert square_region((0, 0, 20, 20), 0.5, (0, 0, 200, 200)) == (0, 0, 30, 30)  # clipped at the corner
    assert square_region((40, 50, 60, 80), 0.5, (30, 0, 70, 90)) == (30, 35, 70, 90)  # clipped to a window
    assert grow_box((10, 20, 30, 60), 0.5, 100, 70) == (0, 0, 40, 70)  # stream: margin per side, unchanged
