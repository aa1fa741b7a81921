"""DUNIT specifics: the instance branch is fused at the boxes only, no face = UNIT, unused box slots
are ignored, the boxes are an input of the ONNX graph, and translate-time detection."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
import torch

from reflect.variants.dunit import DUNIT, DUNITConfig
from reflect.variants.unit import UNIT, UNITConfig

TINY = {"dim": 8, "ndf": 8, "n_res": 2, "num_scales": 2, "n_layers_d": 3, "n_inst_res": 1, "roi_size": 4}
BOXES = torch.tensor(
    [[[8.0, 12.0, 36.0, 44.0], [0.0, 0.0, 0.0, 0.0]], [[4.0, 4.0, 28.0, 28.0], [32.0, 30.0, 60.0, 62.0]]]
)
COUNT = torch.tensor([1, 2])


def tiny(**kw: object) -> DUNIT:
    torch.manual_seed(0)
    m = DUNIT(DUNITConfig(**{**TINY, "face_detector": "none", **kw})).eval()  # type: ignore[arg-type]
    with torch.no_grad():  # a trained instance encoder: its last layer no longer zero
        for p in m.inst_enc[-1].parameters():
            p.normal_(0.0, 0.2)
    return m


def images(n: int = 2, h: int = 64, w: int = 64) -> torch.Tensor:
    return torch.rand(n, 3, h, w, generator=torch.Generator().manual_seed(1)) * 2 - 1


def test_without_faces_the_output_is_unit_s() -> None:
    m = tiny()
    unit = UNIT(UNITConfig(**{k: v for k, v in TINY.items() if k not in ("n_inst_res", "roi_size")})).eval()
    unit.load_state_dict({k: v for k, v in m.state_dict().items() if not k.startswith("inst_enc")})
    x = images()
    with torch.no_grad():
        want = unit.translate(x)
        assert torch.equal(m.translate(x), want)  # detector 'none': no box found
        assert torch.equal(m.translate(x, boxes=BOXES, count=torch.tensor([0, 0])), want)
        assert not torch.equal(m.translate(x, boxes=BOXES, count=COUNT), want)
    m.cfg.fuse_instances = False  # the ablation: instance losses only, the faces decoded by the global path
    with torch.no_grad():
        assert torch.equal(m.translate(x, boxes=BOXES, count=COUNT), want)


def test_instances_are_fused_at_their_boxes_only() -> None:
    m = tiny()
    x = images()
    with torch.no_grad():
        mu = m.encode(x, "A")
        delta = (m.fuse(mu, BOXES, COUNT) - mu).abs().sum(1)  # (B, h, w) at stride 4
    inside = torch.zeros_like(delta, dtype=torch.bool)
    for b in range(2):
        for k in range(int(COUNT[b])):
            x1, y1, x2, y2 = (BOXES[b, k] / 4).tolist()
            inside[b, int(y1) : int(np.ceil(y2)), int(x1) : int(np.ceil(x2))] = True
    assert float(delta[~inside].abs().max()) == 0.0
    assert float(delta[inside].mean()) > 0.0
    for b in range(2):  # every counted box changes its own region
        for k in range(int(COUNT[b])):
            cx, cy = ((BOXES[b, k, :2] + BOXES[b, k, 2:]) / 8).long().tolist()
            assert float(delta[b, cy, cx]) > 0


def test_unused_box_slots_are_ignored() -> None:
    m = tiny()
    x = images()
    junk = BOXES.clone()
    junk[0, 1] = torch.tensor([30.0, 30.0, 50.0, 60.0])  # a box beyond the count
    with torch.no_grad():
        assert torch.equal(m.translate(x, boxes=junk, count=COUNT), m.translate(x, boxes=BOXES, count=COUNT))


def test_instance_consistency_trains_the_generator_from_the_translation() -> None:
    """The loss compares features of the translated image, so the decoder G_2 gets its gradient
    (the original DUNIT's loss, on boxes rebuilt as a new tensor, gave none)."""
    m = tiny().train()
    batch = {"A": images(), "B": images(2, 64, 64).flip(0), "faces_box": BOXES, "faces_n": COUNT}
    loss = m.phase_losses("generator", batch)["instance"]
    grads = torch.autograd.grad(
        loss, list(m.dec_b.parameters()) + list(m.inst_enc.parameters()), allow_unused=True
    )
    assert all(g is not None and g.abs().sum() > 0 for g in grads)
    no_faces = m.phase_losses("generator", {**batch, "faces_n": torch.tensor([0, 0])})["instance"]
    assert float(no_faces.detach()) == 0.0
    assert float(m.phase_losses("generator", {"A": batch["A"], "B": batch["B"]})["instance"].detach()) == 0.0


def test_instance_level_losses_judge_the_faces_and_train_the_instance_branch() -> None:
    """instance_rec / instance_sup compare only the pixels inside the boxes, and reach inst_enc."""
    m = tiny(lambda_sup=1.0).train()
    x = images()
    target = x.clone()
    target[:, :, :, 62:] = 1.0  # differs from A outside every face box only
    batch = {
        "A": x,
        "B": images(2, 64, 64).flip(0),
        "A_target": target,
        "has_target": torch.tensor([True, True]),
        "faces_box": BOXES,
        "faces_n": COUNT,
    }
    assert {"instance_rec", "instance_sup"} <= set(m.loss_weights(m.cfg))
    out = m.phase_losses("generator", batch)
    for key in ("instance_rec", "instance_sup"):
        grads = torch.autograd.grad(
            out[key], list(m.inst_enc.parameters()), retain_graph=True, allow_unused=True
        )
        assert any(g is not None and g.abs().sum() > 0 for g in grads), key
    with torch.no_grad():  # a model whose translation is its input, face pixels exact: instance_sup 0
        exact = m.application_losses(batch, {"fake_b": x, "recon_a": x, "cycle_a": x})
    assert float(exact["instance_sup"]) == 0.0 and float(exact["supervised"]) > 0.0
    none = m.phase_losses("generator", {**batch, "faces_n": torch.tensor([0, 0])})
    assert float(none["instance_rec"].detach()) == 0.0 and float(none["instance_sup"].detach()) == 0.0


def test_onnx_graph_takes_boxes_and_matches_torch(tmp_path: Path) -> None:
    from deploy.export import export_onnx
    from deploy.ort import OrtTranslator

    m = tiny()
    result = export_onnx(m, tmp_path / "dunit.onnx", parity_sizes=[(2, 67, 45), (3, 44, 52)], tolerance=1e-4)
    assert result.max_abs_diff < 1e-4, result.parity
    model = onnx.load(str(result.path))
    assert [i.name for i in model.graph.input] == ["input", "boxes", "count"]
    assert result.metadata["box_slots"] == "2"
    import onnxruntime as ort

    sess = ort.InferenceSession(str(result.path), providers=["CPUExecutionProvider"])
    x = images(2, 56, 72)
    for count in (COUNT, torch.tensor([0, 0])):
        got = sess.run(None, {"input": x.numpy(), "boxes": BOXES.numpy(), "count": count.numpy()})[0]
        with torch.no_grad():
            want = m.translate(x, boxes=BOXES, count=count).numpy()
        assert float(np.abs(got - want).max()) < 1e-4
    # the runtimes feed no boxes: the global path
    with torch.no_grad():
        global_path = m.translate(x, boxes=BOXES, count=torch.tensor([0, 0]))
    assert torch.allclose(OrtTranslator(result.path).run(x), global_path, atol=1e-4)


def test_translate_detects_faces_when_no_boxes_are_given() -> None:
    from tests.faces.conftest import face_file

    pytest.importorskip("facenet_pytorch")
    from reflect.data.io import read_image, to_tensor

    img = read_image(face_file("obama.jpg"))
    x = torch.nn.functional.interpolate(to_tensor(img).unsqueeze(0), size=(160, 160), mode="bilinear")
    m = tiny(face_detector="mtcnn")  # the default
    boxes, count = m.detect(x)
    assert int(count[0]) == 1 and boxes.shape == (1, 1, 4)
    with torch.no_grad():
        assert torch.equal(m.translate(x), m.translate(x, boxes=boxes, count=count))
        assert not torch.equal(m.translate(x), m.translate(x, boxes=boxes, count=torch.tensor([0])))
    assert "_detector" not in str(list(m.state_dict()))


def test_bad_detector_name_is_refused() -> None:
    from reflect.errors import ConfigError

    with pytest.raises(ConfigError, match="face_detector 'yolo'"):
        DUNIT(DUNITConfig(**{**TINY, "face_detector": "yolo"}))  # type: ignore[arg-type]


def test_config_load_accepts_the_no_detector_choice_and_refuses_typos() -> None:
    from reflect.config import load_config
    from reflect.errors import ConfigError

    repo = Path(__file__).resolve().parents[2]
    cfg = load_config(repo / "configs" / "dunit.yaml", ["model.face_detector=none"])
    assert cfg.model.face_detector == "none"  # the global path alone (the benchmark's setting)
    with pytest.raises(ConfigError, match="did you mean 'none'"):
        load_config(repo / "configs" / "dunit.yaml", ["model.face_detector=nonee"])


def test_face_identity_uses_the_known_boxes_without_a_detector() -> None:
    pytest.importorskip("face_recognition_models")
    m = tiny(lambda_face=1.0, face_max_faces=1).train()
    batch = {"A": images(), "B": images().flip(0), "faces_box": BOXES, "faces_n": COUNT}
    loss = m.phase_losses("generator", batch)["face_id"]
    assert 0.0 < float(loss.detach()) <= 2.0
    grads = torch.autograd.grad(loss, list(m.dec_b.parameters()), allow_unused=True)
    assert any(g is not None and g.abs().sum() > 0 for g in grads)
    assert float(m.phase_losses("generator", {"A": batch["A"], "B": batch["B"]})["face_id"].detach()) == 0.0
