"""reflect faces eval: real metrics on the sample faces, and an HTML report that renders."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import cv2
import numpy as np
import pytest

from pipelines.face_eval.metrics import eer, rank_k, roc_curve, tar_at_far
from reflect.data.io import read_image, write_image
from tests.pipelines.conftest import FACES

needs_faces = pytest.mark.skipif(not FACES.is_dir(), reason=f"sample faces not found at {FACES}")


def test_roc_eer_and_rank_on_known_scores() -> None:
    far, tar, _ = roc_curve(np.array([0.9, 0.8, 0.7]), np.array([0.75, 0.1, 0.2, 0.3]))
    assert eer(far, tar) == pytest.approx(0.25)
    assert tar_at_far(far, tar, 0.25, 4) == 1.0 and tar_at_far(far, tar, 0.1, 4) is None
    sim = np.array([[0.9, 0.1, 0.5], [0.2, 0.3, 0.8]])
    assert rank_k(sim, ["a", "b"], ["a", "b", "c"], ks=(1, 2)) == {1: 0.5, 2: 1.0}


def reflect_over(image: np.ndarray, strength: float, seed: int) -> np.ndarray:
    """A crude glass reflection: a bright, blurred, high-contrast pattern added over the image."""
    rng = np.random.default_rng(seed)
    h, w = image.shape[:2]
    layer = cv2.resize(rng.random((8, 8, 3)).astype(np.float32), (w, h), interpolation=cv2.INTER_CUBIC)
    bars = (np.sin(np.arange(w) / max(w, 1) * 40 + seed)[None, :, None] > 0.3).astype(np.float32)
    layer = cv2.GaussianBlur(np.clip(layer * 0.6 + bars * 0.8, 0, 1), (0, 0), 2)
    out = image.astype(np.float32) / 255 * (1 - 0.35 * strength) + layer * strength
    return (np.clip(out, 0, 1) * 255).astype(np.uint8)


def _small(path: Path, side: int = 220) -> np.ndarray:
    img = read_image(path)
    s = side / max(img.shape[:2])
    return cv2.resize(img, (round(img.shape[1] * s), round(img.shape[0] * s)), interpolation=cv2.INTER_AREA)


@pytest.fixture(scope="module")
def face_sets(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("faces")
    for ident, gal, probes in (
        ("obama", "obama.jpg", ["obama2.jpg", "obama3.jpg"]),
        ("biden", "biden.jpg", ["biden.jpg"]),
    ):
        write_image(root / "gallery" / ident / gal.replace(".jpg", ".png"), _small(FACES / gal))
        for k, name in enumerate(probes):
            img = _small(FACES / name, 200)
            if name == gal:
                img = np.ascontiguousarray(img[:, ::-1])  # the only biden photo: a mirrored probe
            write_image(root / "clean" / ident / f"p{k}.png", img)
            write_image(root / "glass" / ident / f"p{k}.png", reflect_over(img, 0.9, k))
    return root


@needs_faces
def test_degraded_probes_score_lower_identity_similarity(face_sets: Path, tmp_path: Path) -> None:
    from pipelines.face_eval.evaluate import run_face_eval

    res = run_face_eval(
        face_sets / "gallery", face_sets / "glass", tmp_path / "report", cleaned=face_sets / "clean"
    )
    assert res["cleaned"]["identity_similarity"] > res["probes"]["identity_similarity"] + 0.02
    assert res["cleaned"]["detection_rate"] == 1.0 and res["cleaned"]["rank1"] == 1.0
    assert res["gallery"] == {"images": 2, "identities": 2, "detection_rate": 1.0}
    saved = json.loads((tmp_path / "report" / "metrics.json").read_text())
    assert set(saved["tar_at_far"] if "tar_at_far" in saved else saved["probes"]["tar_at_far"]) == {
        "0.1",
        "0.01",
        "0.001",
    }
    page = (tmp_path / "report" / "report.html").read_text()
    assert "roc.png" in page and "images/000_cleaned.jpg" in page
    assert all(
        (tmp_path / "report" / f).is_file()
        for f in ("roc.png", "images/000_ref.jpg", "images/000_probes.jpg")
    )


@needs_faces
def test_dlib_and_torch_port_embed_alike(face_sets: Path) -> None:
    from pipelines.face_eval.backend import FaceBackend

    img = read_image(face_sets / "clean" / "obama" / "p0.png")
    a, b = FaceBackend("dlib").analyse(img), FaceBackend("dlib-torch").analyse(img)
    assert a.found and b.found and float(a.embedding @ b.embedding) > 0.999


@needs_faces
@pytest.mark.skipif(
    shutil.which("chromium") is None and shutil.which("chromium-browser") is None,
    reason="headless Chromium is not installed (apt-get install chromium)",
)
def test_report_renders_in_headless_chromium(face_sets: Path, tmp_path: Path) -> None:
    from pipelines.face_eval.evaluate import run_face_eval

    run_face_eval(face_sets / "gallery", face_sets / "glass", tmp_path / "r", cleaned=face_sets / "clean")
    shot = tmp_path / "shot.png"
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    subprocess.run(
        [
            exe,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            f"--screenshot={shot}",
            "--window-size=1100,1600",
            (tmp_path / "r" / "report.html").as_uri(),
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    img = read_image(shot)
    assert img.shape[0] >= 1000 and img.std() > 20  # not a blank page
