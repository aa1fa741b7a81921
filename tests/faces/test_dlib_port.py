"""The torch port of dlib's face ResNet reads the shipped .dat file and matches dlib itself."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

from tests.faces.conftest import FACES

ALL_PHOTOS = [
    "obama.jpg",
    "obama2.jpg",
    "obama3.jpg",
    "obama_partial_face.jpg",
    "biden.jpg",
    "group_six_people.jpg",
    "32bit.png",
    "hanks_aligned_112.png",
]


@pytest.fixture(scope="module")
def dlib_faces(read, hog):
    """Every face dlib finds in the sample photos: (name, dlib chip uint8, dlib descriptor)."""
    dlib = pytest.importorskip("dlib")
    from reflect.faces.resources import DLIB_RESNET, DLIB_SHAPE_5, dlib_model_path

    if not FACES.is_dir():
        pytest.skip(f"sample faces {FACES} are absent")
    sp = dlib.shape_predictor(str(dlib_model_path(DLIB_SHAPE_5)))
    rec = dlib.face_recognition_model_v1(str(dlib_model_path(DLIB_RESNET)))
    out = []
    for name in ALL_PHOTOS:
        img = read(name)
        faces = hog.detect([img])[0]
        if len(faces) == 0:  # e.g. the tight 112 px crop: let dlib see the whole image as the face
            faces = None
            rects = [dlib.rectangle(0, 0, img.shape[1] - 1, img.shape[0] - 1)]
        else:
            rects = [
                dlib.rectangle(*[int(v) for v in b[:2]], *[int(v) - 1 for v in b[2:]]) for b in faces.boxes
            ]
        for i, r in enumerate(rects):
            chip = dlib.get_face_chip(img, sp(img, r), 150, 0.25)
            out.append((f"{name}#{i}", chip, np.asarray(rec.compute_face_descriptor(chip))))
    return out


def test_reader_parses_the_whole_shipped_file():
    pytest.importorskip("face_recognition_models")
    from reflect.faces.dlib_format import read_dlib_net
    from reflect.faces.resources import DLIB_RESNET, dlib_model_path

    net = read_dlib_net(dlib_model_path(DLIB_RESNET))
    assert net.input_fields["nr"] == net.input_fields["nc"] == 150
    assert net.input_fields["mean_rgb"] == pytest.approx((122.782, 117.001, 104.298), abs=1e-3)
    assert net.loss_fields["dist_thresh"] == pytest.approx(0.6)
    assert [lyr.kind for lyr in net.layers].count("con") == 29
    assert net.layers[-1].kind == "fc" and net.layers[-1].fields["num_outputs"] == 128


def test_truncated_file_is_reported_by_name(tmp_path):
    pytest.importorskip("face_recognition_models")
    from reflect.faces.dlib_format import DlibFormatError, read_dlib_net
    from reflect.faces.resources import DLIB_RESNET, dlib_model_path

    bad = tmp_path / "cut.dat"
    bad.write_bytes(dlib_model_path(DLIB_RESNET).read_bytes()[:50_000])
    with pytest.raises(DlibFormatError, match="cut.dat"):
        read_dlib_net(bad)
    with pytest.raises(DlibFormatError, match="does not exist"):
        read_dlib_net(tmp_path / "none.dat")


def test_port_matches_dlib_on_every_sample_face(dlib_faces, torch_port):
    assert len(dlib_faces) >= 10
    chips = torch.stack([torch.from_numpy(np.array(c)).permute(2, 0, 1) for _, c, _ in dlib_faces]).float()
    with torch.no_grad():
        ours = torch_port(chips / 127.5 - 1).double().numpy()
    ref = np.stack([d for _, _, d in dlib_faces])
    cos = (ours * ref).sum(1) / np.linalg.norm(ours, axis=1) / np.linalg.norm(ref, axis=1)
    assert cos.min() >= 0.999, dict(zip([n for n, _, _ in dlib_faces], cos.round(5), strict=True))
    # same-person decisions at dlib's 0.6 threshold agree on every pair
    for i, j in itertools.combinations(range(len(ref)), 2):
        assert (np.linalg.norm(ours[i] - ours[j]) < 0.6) == (np.linalg.norm(ref[i] - ref[j]) < 0.6)


def test_port_is_differentiable_and_exports_to_onnx(torch_port, tmp_path):
    ort = pytest.importorskip("onnxruntime")
    from reflect.faces.dlib_resnet import export_onnx

    x = (torch.rand(2, 3, 150, 150) * 2 - 1).requires_grad_(True)
    y = torch_port(x)
    y.sum().backward()
    assert y.shape == (2, 128) and torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0
    path = export_onnx(torch_port, tmp_path / "dlib_resnet.onnx")
    got = ort.InferenceSession(str(path)).run(None, {"chips": x.detach().numpy()})[0]
    np.testing.assert_allclose(got, y.detach().numpy(), atol=1e-4)
