"""Face enhancement (reflect.face_enhance): faces are replaced by the face model's output, blended
without a visible seam; images without a face, and faces too small, stay as the global model made them."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from reflect.face_enhance import FaceEnhancer, eye_distance, feather_mask
from reflect.faces.types import Faces


class Brighten(nn.Module):
    """A stand-in face model: +delta everywhere (a tone the global result does not have)."""

    def __init__(self, delta: float = 0.3) -> None:
        super().__init__()
        self.delta = delta
        self.calls = 0
        self.w = nn.Parameter(torch.zeros(1))

    def translate(self, x: torch.Tensor, target: str | None = None) -> torch.Tensor:
        self.calls += 1
        return (x + self.delta).clamp(-1, 1)


class FixedFaces:
    name = "fixed"

    def __init__(self, faces: list[Faces]) -> None:
        self.faces = faces

    def detect(self, images):
        return self.faces


@pytest.fixture(scope="module")
def face_and_landmarks(read):
    """A photo (1,3,H,W) in [-1,1] scaled so the face is about 90 px wide, and its dlib-HOG faces."""
    pytest.importorskip("dlib")
    from reflect.data.io import to_tensor
    from reflect.faces.detectors import make_detector

    img = to_tensor(np.ascontiguousarray(read("obama.jpg")))[None]
    hog = make_detector("dlib-hog")
    face = hog.detect(img)[0].largest()
    scale = 90.0 / float(face.boxes[0, 2] - face.boxes[0, 0])
    img = F.interpolate(img, scale_factor=scale, mode="bilinear", antialias=True, align_corners=False)
    faces = hog.detect(img)[0].largest()
    assert len(faces) == 1
    return img, faces


def _grad(img: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean absolute horizontal and vertical differences per pixel (H-1, W-1)."""
    gx = (img[..., :-1, 1:] - img[..., :-1, :-1]).abs().mean(1)[0]
    gy = (img[..., 1:, :-1] - img[..., :-1, :-1]).abs().mean(1)[0]
    return gx, gy


class _White(Brighten):
    def translate(self, x: torch.Tensor, target: str | None = None) -> torch.Tensor:
        return torch.ones_like(x)


def _alpha(img: torch.Tensor, faces: Faces, feather: float) -> torch.Tensor:
    """The blend weight of the face model's output at every image pixel (H, W)."""
    black = torch.full_like(img, -1.0)
    out, _ = FaceEnhancer(
        _White(), FixedFaces([faces]), chip=128, min_eye_distance=0, feather=feather
    ).enhance(black, black)
    return (out[0, 0] + 1) / 2


def test_no_seam_at_the_mask_border(face_and_landmarks):
    img, faces = face_and_landmarks
    cleaned = img * 0.8  # the "global" result: darker than the face model's brightened face
    out, stats = FaceEnhancer(Brighten(0.3), FixedFaces([faces]), chip=128, min_eye_distance=0).enhance(
        img, cleaned
    )
    assert stats.enhanced == 1
    alpha = _alpha(img, faces, 0.18)[:-1, :-1]
    gx, gy = _grad(out)
    grad = torch.maximum(gx, gy)
    border, inside = (alpha > 0.02) & (alpha < 0.98), alpha >= 0.999
    assert border.sum() > 50 and inside.sum() > 500
    assert float(grad[border].mean()) <= float(grad[inside].mean())
    # the criterion can fail: a hard paste (no feathering) shows a step along the chip's edge
    hard, _ = FaceEnhancer(
        Brighten(0.3), FixedFaces([faces]), chip=128, min_eye_distance=0, feather=0.0
    ).enhance(img, cleaned)
    a = _alpha(img, faces, 0.0)[None, None]
    ring = ((F.max_pool2d(a, 3, 1, 1) > 0.5) & (-F.max_pool2d(-a, 3, 1, 1) < 0.5))[0, 0, :-1, :-1]
    hx, hy = _grad(hard)
    assert float(torch.maximum(hx, hy)[ring].mean()) > float(grad[inside].mean())


def test_the_face_is_replaced_and_the_rest_kept(face_and_landmarks):
    img, faces = face_and_landmarks
    cleaned = img * 0.8
    model = Brighten(0.3)
    enh = FaceEnhancer(model, FixedFaces([faces]), chip=128, min_eye_distance=0)
    out, stats = enh.enhance(img, cleaned)
    assert (stats.found, stats.enhanced, model.calls) == (1, 1, 1)
    box = faces.boxes[0].round().int().tolist()
    cx, cy = (box[0] + box[2]) // 2, (box[1] + box[3]) // 2
    # the face centre comes from the face model run on the ORIGINAL pixels (+0.3), not from the clean
    centre = out[0, :, cy - 3 : cy + 4, cx - 3 : cx + 4]
    expected = (img[0, :, cy - 3 : cy + 4, cx - 3 : cx + 4] + 0.3).clamp(-1, 1)
    assert (centre - expected).abs().mean() < 0.05
    # far from the face nothing changed
    assert torch.equal(out[..., :5, :], cleaned[..., :5, :])
    assert torch.equal(img * 0.8, cleaned)  # inputs are not written


def test_no_face_or_a_small_face_leaves_the_global_result(face_and_landmarks):
    img, faces = face_and_landmarks
    cleaned = img * 0.8
    model = Brighten()
    none = FaceEnhancer(model, FixedFaces([Faces.empty()]), chip=128)
    out, stats = none.enhance(img, cleaned)
    assert torch.equal(out, cleaned) and stats.enhanced == 0 and model.calls == 0
    eyes = float(eye_distance(faces)[0])
    small = FaceEnhancer(model, FixedFaces([faces]), chip=128, min_eye_distance=eyes + 1)
    out, stats = small.enhance(img, cleaned)
    assert torch.equal(out, cleaned) and (stats.found, stats.enhanced, stats.too_small) == (1, 0, 1)


def test_feather_mask_is_one_inside_and_zero_at_the_edge():
    m = feather_mask(64, 0.2)[0, 0]
    assert m[32, 32] == 1.0 and float(m[0, 0]) < 0.01 and float(m[0, 32]) < 0.1
    assert torch.all(m[32, :32].diff() >= 0)  # monotone towards the centre


def identity_remover_file(path):
    """A tiny remover generator file straight from its initialisation: its zero-initialised head makes
    it the identity, like a global model that leaves a face as it is."""
    from reflect import registry
    from reflect.config import build_config
    from reflect.generator_file import save_generator

    cfg = build_config({"name": "tiny", "model": {"variant": "remover", "ngf": 8, "n_bottleneck": 1}})
    return save_generator(registry.get("remover")(cfg.model).eval(), cfg, path)


def test_translate_enhance_faces_changes_only_the_face(read, tmp_path, capsys):
    """`reflect translate --enhance-faces` with a (tiny, random) face model: the face region differs from
    the plain translation, the rest of the image is identical, and the summary counts the face."""
    pytest.importorskip("facenet_pytorch")
    from reflect.cli import main
    from reflect.data.io import read_image as read_file
    from reflect.data.io import write_image
    from tests.bundled.tiny import tiny_generator_file

    image = read("obama.jpg")
    h, w = image.shape[:2]
    small = (
        F.interpolate(
            torch.from_numpy(image.copy()).permute(2, 0, 1)[None].float(),
            size=(200, round(200 * w / h)),
            mode="area",
        )[0]
        .permute(1, 2, 0)
        .round()
        .byte()
        .numpy()
    )
    write_image(tmp_path / "in" / "face.png", small)
    write_image(tmp_path / "blank" / "flat.png", np.full((64, 64, 3), 90, np.uint8))
    model = identity_remover_file(tmp_path / "global.safetensors")  # the global clean keeps the face findable
    face_model = tiny_generator_file(tmp_path / "face.safetensors", seed=2)
    base = ["translate", "--model", str(model), "--input", str(tmp_path / "in")]
    assert main([*base, "--output", str(tmp_path / "plain")]) == 0
    capsys.readouterr()
    assert (
        main([*base, "--output", str(tmp_path / "enh"), "--enhance-faces", "--face-model", str(face_model)])
        == 0
    )
    assert "faces: 1 enhanced" in capsys.readouterr().out
    plain, enh = read_file(tmp_path / "plain" / "face.png"), read_file(tmp_path / "enh" / "face.png")
    changed = np.abs(plain.astype(int) - enh.astype(int)).max(2) > 0
    assert changed.any()
    ys, xs = np.nonzero(changed)
    assert (xs.max() - xs.min()) < small.shape[1] * 0.8 and (ys.max() - ys.min()) < small.shape[
        0
    ] * 0.8  # the face only
    assert (
        main(
            [
                "translate",
                "--model",
                str(model),
                "--input",
                str(tmp_path / "blank"),
                "--output",
                str(tmp_path / "b"),
                "--enhance-faces",
                "--face-model",
                str(face_model),
            ]
        )
        == 0
    )
    assert "faces: 0 enhanced" in capsys.readouterr().out


def test_stream_enhance_faces_counts_the_faces(read, tmp_path, capsys):
    """`reflect stream --enhance-faces` over a folder of two frames with one face each: both enhanced."""
    pytest.importorskip("facenet_pytorch")
    from reflect.cli import main
    from reflect.data.io import write_image
    from tests.bundled.tiny import tiny_generator_file

    image = read("obama.jpg")
    h, w = image.shape[:2]
    small = (
        F.interpolate(
            torch.from_numpy(image.copy()).permute(2, 0, 1)[None].float(),
            size=(160, round(160 * w / h)),
            mode="area",
        )[0]
        .permute(1, 2, 0)
        .round()
        .byte()
        .numpy()
    )
    for k in range(2):
        write_image(tmp_path / "frames" / f"f{k}.png", small)
    model = identity_remover_file(tmp_path / "global.safetensors")
    face_model = tiny_generator_file(tmp_path / "face.safetensors", seed=2)
    rc = main(
        [
            "stream",
            "--model",
            str(model),
            "--source",
            str(tmp_path / "frames"),
            "--sink",
            str(tmp_path / "out"),
            "--batch",
            "1",
            "--enhance-faces",
            "--face-model",
            str(face_model),
        ]
    )
    assert rc == 0
    assert "faces: 2 enhanced" in capsys.readouterr().out
    assert len(list((tmp_path / "out").iterdir())) == 2


def test_clean_enhance_faces_counts_the_faces_and_resumes_the_same(read, tmp_path, capsys):
    """`reflect clean --enhance-faces`: the face is enhanced (count in the summary, output differs from a
    plain clean only around the face); the setting is part of the job, so a plain rerun is refused."""
    pytest.importorskip("facenet_pytorch")
    from reflect.cli import main
    from reflect.data.io import read_image as read_file
    from reflect.data.io import write_image
    from tests.bundled.tiny import tiny_generator_file

    image = read("obama.jpg")
    h, w = image.shape[:2]
    small = (
        F.interpolate(
            torch.from_numpy(image.copy()).permute(2, 0, 1)[None].float(),
            size=(160, round(160 * w / h)),
            mode="area",
        )[0]
        .permute(1, 2, 0)
        .round()
        .byte()
        .numpy()
    )
    write_image(tmp_path / "in" / "face.png", small)
    write_image(tmp_path / "in" / "flat.png", np.full((48, 64, 3), 90, np.uint8))
    model = identity_remover_file(tmp_path / "global.safetensors")
    face_model = tiny_generator_file(tmp_path / "face.safetensors", seed=2)
    base = [
        "clean",
        "--model",
        str(model),
        "--input",
        str(tmp_path / "in"),
        "--workers",
        "1",
        "--no-progress",
    ]
    assert main([*base, "--output", str(tmp_path / "plain")]) == 0
    capsys.readouterr()
    enh_cmd = [*base, "--output", str(tmp_path / "enh"), "--enhance-faces", "--face-model", str(face_model)]
    assert main(enh_cmd) == 0
    assert "; 1 face(s) enhanced" in capsys.readouterr().out
    plain, enh = read_file(tmp_path / "plain" / "face.png"), read_file(tmp_path / "enh" / "face.png")
    changed = np.abs(plain.astype(int) - enh.astype(int)).max(2) > 0
    assert changed.any() and changed.mean() < 0.6
    assert np.array_equal(
        read_file(tmp_path / "plain" / "flat.png"), read_file(tmp_path / "enh" / "flat.png")
    )
    assert main([*base, "--output", str(tmp_path / "enh")]) != 0  # the same job without enhancement: refused


def test_the_bundled_face_model_warns_that_it_hurts_on_unseen_glass(tmp_path, caplog):
    """The shipped face model is retired from recommendation (worse identity on glass it never saw,
    MODEL_CARD.md): using it says so once; a user's own face model does not get the warning."""
    pytest.importorskip("facenet_pytorch")
    from reflect.bundled import face_model_path
    from tests.robustness.test_tiny_faces import tiny_generator_file

    if not face_model_path().is_file():
        pytest.skip("the bundled face model is not in this checkout")
    with caplog.at_level("WARNING", logger="reflect"):
        FaceEnhancer.load()
    warned = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert any("bundled face model" in m and "--face-model" in m for m in warned), warned
    caplog.clear()
    own = tiny_generator_file(tmp_path / "own.safetensors")
    with caplog.at_level("WARNING", logger="reflect"):
        FaceEnhancer.load(own)
    assert not [r for r in caplog.records if "bundled face model" in r.getMessage()]
