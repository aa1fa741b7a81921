"""The face-identity loss: ~0 against itself, larger for another person, gradients reach the
generator, zero without a face, and it stays out of CycleGAN's weights and optimisers."""

from __future__ import annotations

import pytest
import torch


@pytest.fixture(scope="module")
def loss():
    pytest.importorskip("facenet_pytorch")
    pytest.importorskip("face_recognition_models")
    from reflect.losses import FaceIdentityLoss

    return FaceIdentityLoss(detector="mtcnn", embedder="dlib-torch")


def test_self_near_zero_other_person_clearly_larger(loss, face_crop):
    obama, obama2, biden = face_crop("obama.jpg"), face_crop("obama2.jpg"), face_crop("biden.jpg")
    faces = loss.detect(obama)
    assert len(faces[0]) == 1
    same = float(loss(obama, obama, faces))
    other_photo = float(loss(obama2, obama, faces))
    other_person = float(loss(biden, obama, faces))
    assert same < 1e-4
    assert other_person > 0.1 and other_person > other_photo + 0.05, (other_photo, other_person)


def test_gradient_reaches_the_generator_input(loss, face_crop):
    torch.manual_seed(0)
    real = face_crop("obama.jpg")
    x = real.clone().requires_grad_(True)
    g = torch.nn.Conv2d(3, 3, 3, padding=1)
    fake = (x + 0.1 * torch.tanh(g(x))).clamp(-1, 1)
    value = loss(fake, real)
    value.backward()
    assert torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0
    assert g.weight.grad is not None and g.weight.grad.abs().sum() > 0
    assert all(p.grad is None for p in loss._embedder.net.parameters())  # frozen


def test_no_face_is_zero_not_nan(loss):
    fake = torch.zeros(2, 3, 64, 64, requires_grad=True)
    value = loss(fake, torch.zeros(2, 3, 64, 64))
    assert value.item() == 0.0
    value.backward()
    assert torch.equal(fake.grad, torch.zeros_like(fake))


def test_small_faces_are_skipped(face_crop):
    pytest.importorskip("facenet_pytorch")
    from reflect.losses import FaceIdentityLoss

    strict = FaceIdentityLoss(min_size=1000)
    real = face_crop("obama.jpg")
    assert strict(real.flip(-1), real).item() == 0.0


def test_cyclegan_face_term_is_weighted_and_not_saved(face_crop):
    pytest.importorskip("facenet_pytorch")
    from reflect.variants.cyclegan import CycleGAN, CycleGANConfig

    cfg = CycleGANConfig(ngf=8, ndf=8, n_blocks=1, n_layers_d=2, lambda_face=0.5, lambda_idt=0.0)
    model = CycleGAN(cfg)
    assert CycleGAN.loss_weights(cfg)["face_id"] == 0.5
    plain = CycleGAN(CycleGANConfig(ngf=8, ndf=8, n_blocks=1, n_layers_d=2))
    assert model.state_dict().keys() == plain.state_dict().keys()
    a = face_crop("obama.jpg", 128)
    out = model.phase_losses("generator", {"A": a, "B": torch.zeros_like(a)})
    assert torch.isfinite(out["face_id"]) and out["face_id"].requires_grad
    embed_params = {id(p) for p in model.face_id._embedder.net.parameters()}
    grouped = {id(p) for ps in model.param_groups().values() for p in ps}
    assert embed_params and not embed_params & grouped
    assert model.state_dict().keys() == plain.state_dict().keys()  # still nothing added after use
    assert "face_id" not in CycleGAN.loss_weights(plain.cfg)


def test_cyclegan_rejects_a_non_differentiable_embedder():
    from reflect.errors import ConfigError
    from reflect.variants.cyclegan import CycleGAN, CycleGANConfig

    with pytest.raises(ConfigError, match="differentiable"):
        CycleGAN(CycleGANConfig(ngf=8, ndf=8, n_blocks=1, lambda_face=1.0, face_embedder="dlib"))
