"""Detectors: MTCNN finds real faces; RetinaFace loads its checkpoint layout and never downloads."""

from __future__ import annotations

import pytest
import torch


@pytest.fixture(scope="module")
def mtcnn():
    pytest.importorskip("facenet_pytorch")
    from reflect.faces.detectors import make_detector

    return make_detector("mtcnn")


def test_mtcnn_finds_obama_and_the_group(mtcnn, read):
    from reflect.faces.types import EYES_NOSE_MOUTH

    obama, group = mtcnn.detect([read("obama.jpg")])[0], mtcnn.detect([read("group_six_people.jpg")])[0]
    assert len(obama) == 1 and obama.layout == EYES_NOSE_MOUTH
    x1, y1, x2, y2 = obama.boxes[0].tolist()
    eyes = obama.landmarks[0, :2]
    assert (
        (eyes[:, 0] > x1).all()
        and (eyes[:, 0] < x2).all()
        and (eyes[:, 1] > y1).all()
        and (eyes[:, 1] < y2).all()
    )
    assert eyes[0, 0] < eyes[1, 0]  # image-left eye first
    assert len(group) >= 5


def test_mtcnn_takes_a_tensor_batch_and_finds_nothing_in_noise(mtcnn, face_crop):
    batch = torch.cat([face_crop("obama.jpg", 128), torch.zeros(1, 3, 128, 128)])
    found = mtcnn.detect(batch)
    assert [len(f) for f in found] == [1, 0]
    assert found[1].landmarks.shape == (0, 5, 2)


def test_retinaface_without_weights_is_a_clear_error(monkeypatch):
    from reflect.faces.detectors import make_detector
    from reflect.faces.resources import FaceModelMissing

    def no_network(*a, **k):
        raise AssertionError("RetinaFace tried to reach the network")

    monkeypatch.setattr("socket.socket.connect", no_network)
    with pytest.raises(FaceModelMissing, match="needs a weights file.*never downloaded"):
        make_detector("retinaface")
    with pytest.raises(FaceModelMissing, match="do not exist"):
        make_detector("retinaface", weights="/nonexistent/mobilenet0.25_Final.pth")


@pytest.mark.parametrize("backbone", ["mobilenet0.25", "resnet50"])
def test_retinaface_loads_a_pytorch_retinaface_style_checkpoint(backbone, tmp_path):
    from reflect.faces.detectors import make_detector
    from reflect.faces.detectors.retinaface_net import RetinaFaceNet

    torch.manual_seed(0)
    net = RetinaFaceNet(backbone)
    # checkpoints saved from DataParallel carry a "module." prefix
    torch.save({f"module.{k}": v for k, v in net.state_dict().items()}, tmp_path / "w.pth")
    det = make_detector("retinaface", weights=tmp_path / "w.pth", min_score=0.0)
    assert all(
        torch.equal(a, b)
        for a, b in zip(det.net.state_dict().values(), net.state_dict().values(), strict=True)
    )
    found = det.detect(torch.zeros(1, 3, 64, 96))
    assert len(found) == 1 and found[0].landmarks.shape[1:] == (5, 2)


def test_retinaface_rejects_foreign_weights(tmp_path):
    from reflect.errors import CheckpointError
    from reflect.faces.detectors import make_detector

    torch.save({"conv.weight": torch.zeros(3)}, tmp_path / "other.pth")
    with pytest.raises(CheckpointError, match="do not fit"):
        make_detector("retinaface", weights=tmp_path / "other.pth")


def test_unknown_detector_lists_the_choices():
    from reflect.faces.detectors import make_detector

    with pytest.raises(ValueError, match="mtcnn, retinaface, dlib-hog, dlib-cnn"):
        make_detector("yolo")


def test_tensor_images_reach_the_detectors_in_c_order():
    """Tensors become C-contiguous uint8 arrays: dlib reads raw memory and, given the strided view of
    a permuted tensor, found a face in some runs and not in others."""
    import numpy as np

    from reflect.faces.detectors import as_uint8_list

    x = torch.rand(2, 3, 19, 23) * 2 - 1
    arrays = as_uint8_list(x)
    assert all(a.flags["C_CONTIGUOUS"] and a.shape == (19, 23, 3) and a.dtype == np.uint8 for a in arrays)
    expected = x[1].clamp(-1, 1).add(1).mul(127.5).round().to(torch.uint8).permute(1, 2, 0).numpy()
    assert np.array_equal(arrays[1], expected)
