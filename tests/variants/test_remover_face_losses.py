"""The remover's face terms: identity at known boxes, the recogniser's stage activations, the relative weighting."""

from __future__ import annotations

import pytest
import torch

from reflect import registry
from reflect.config import build_config
from reflect.errors import ConfigError


def test_box_identity_loss_compares_faces_at_known_boxes() -> None:
    pytest.importorskip("face_recognition_models")
    from reflect.losses.removal import BoxIdentityLoss

    loss = BoxIdentityLoss(max_faces=1)
    g = torch.Generator().manual_seed(1)
    target = torch.rand(1, 3, 96, 96, generator=g) * 2 - 1
    fake = target.clone().requires_grad_(True)
    boxes, counts = torch.tensor([[[20.0, 20.0, 76.0, 76.0]]]), torch.tensor([1])
    same = loss(fake, target, boxes, counts)
    assert float(same) < 1e-4
    other = loss(torch.flip(target, dims=[2]).requires_grad_(True), target, boxes, counts)
    assert float(other) > float(same)
    (grad,) = torch.autograd.grad(loss(fake * 0.9, target, boxes, counts), fake)
    assert float(grad.abs().sum()) > 0
    assert float(loss(fake, target, boxes, torch.tensor([0]))) == 0.0  # no face: an exact zero


def test_box_identity_loss_with_landmarks_judges_the_aligned_face_wherever_the_box_lies() -> None:
    """With 5 landmarks per face the chips are cut as a recogniser cuts them (aligned to dlib's
    template): the box only picks the face, so a loose or shifted box changes nothing."""
    pytest.importorskip("face_recognition_models")
    from reflect.losses.removal import BoxIdentityLoss

    loss = BoxIdentityLoss(max_faces=1)
    g = torch.Generator().manual_seed(2)
    target = torch.rand(1, 3, 96, 96, generator=g) * 2 - 1
    fake = (target * 0.7 + 0.2 * torch.rand(1, 3, 96, 96, generator=g)).requires_grad_(True)
    marks = torch.tensor([[[[62.0, 40.0], [54.0, 41.0], [30.0, 40.0], [38.0, 41.0], [46.0, 58.0]]]])
    tight, loose = torch.tensor([[[24.0, 24.0, 72.0, 76.0]]]), torch.tensor([[[14.0, 18.0, 80.0, 86.0]]])
    n = torch.tensor([1])
    aligned = [float(loss.terms(fake, target, b, n, landmarks=marks)["face_id"]) for b in (tight, loose)]
    boxed = [float(loss.terms(fake, target, b, n)["face_id"]) for b in (tight, loose)]
    assert aligned[0] > 1e-3 and aligned[0] == pytest.approx(aligned[1], abs=1e-6)
    assert abs(boxed[0] - aligned[0]) > 1e-5  # not the square around the box
    assert float(loss.terms(target, target, tight, n, landmarks=marks)["face_id"]) < 1e-4
    (grad,) = torch.autograd.grad(loss.terms(fake, target, tight, n, landmarks=marks)["face_id"], fake)
    assert float(grad[..., 30:70, 25:70].abs().sum()) > 0


def test_face_features_judge_blur_the_descriptor_barely_sees() -> None:
    """The recogniser's stage activations see detail lost to a 1-px blur in proportion, zero for
    the face itself, with a gradient to the image; the same pass gives the identity term."""
    pytest.importorskip("face_recognition_models")
    import torchvision.transforms.functional as TF

    from reflect.losses.removal import BoxIdentityLoss

    loss = BoxIdentityLoss(max_faces=1)
    g = torch.Generator().manual_seed(2)
    target = TF.gaussian_blur(torch.rand(1, 3, 96, 96, generator=g) * 2 - 1, [5, 5], [1.0, 1.0])
    boxes, counts = torch.tensor([[[20.0, 20.0, 76.0, 76.0]]]), torch.tensor([1])
    same = loss.terms(target.clone(), target, boxes, counts, features=True)
    assert set(same) == {"face_id", "face_features"} and float(same["face_features"]) < 1e-5
    blurred = [TF.gaussian_blur(target, [7, 7], [s, s]) for s in (0.5, 1.0)]
    feats = [float(loss.terms(b, target, boxes, counts, features=True)["face_features"]) for b in blurred]
    assert 0 < feats[0] < feats[1], feats
    fake = blurred[1].clone().requires_grad_(True)
    terms = loss.terms(fake, target, boxes, counts, features=True)
    assert float(terms["face_id"]) == pytest.approx(float(loss(blurred[1], target, boxes, counts)), abs=1e-6)
    (grad,) = torch.autograd.grad(terms["face_features"], fake)
    inside, outside = grad[..., 30:66, 30:66].abs().sum(), grad[..., :, :8].abs().sum()
    assert float(inside) > 0 and float(outside) == 0.0  # only the face box is judged
    none = loss.terms(fake, target, boxes, torch.tensor([0]), features=True)
    assert float(none["face_features"]) == 0.0 and float(none["face_id"]) == 0.0


def test_face_features_weight_trains_the_generator_in_the_identity_pass() -> None:
    pytest.importorskip("face_recognition_models")
    cfg = build_config(
        {
            "model": {
                "variant": "remover",
                "ngf": 8,
                "n_bottleneck": 1,
                "lambda_face": 1.0,
                "lambda_face_features": 2.0,
                "face_max_faces": 1,
            }
        }
    )
    model = registry.get("remover")(cfg.model)
    weights = model.loss_weights(cfg.model)
    assert weights["face_features"] == 2.0 and weights["face_id"] == 1.0
    torch.nn.init.normal_(model.g.head.weight, 0.0, 0.02)
    g = torch.Generator().manual_seed(3)
    x = torch.rand(1, 3, 64, 64, generator=g) * 2 - 1
    batch = {
        "A": x,
        "A_target": (x * 0.7).clamp(-1, 1),
        "has_target": torch.tensor([True]),
        "B": x,
        "faces_box": torch.tensor([[[8.0, 8.0, 56.0, 56.0]]]),
        "faces_n": torch.tensor([1]),
    }
    loss = model.phase_losses("generator", batch)["face_features"]
    loss.backward()
    assert float(loss) > 0 and any(
        p.grad is not None and p.grad.abs().sum() > 0 for p in model.g.parameters()
    )
    batch["has_target"] = torch.tensor([False])  # no clean face to compare with: an exact zero
    assert float(model.phase_losses("generator", batch)["face_features"]) == 0.0


def test_face_relative_weighs_a_nearly_clean_face_as_much_as_a_hidden_one() -> None:
    """The same identity loss after cleaning counts for more where the glass cost little: the
    ratio is below 1 where cleaning helped, above 1 where the model made a face worse than the glass
    left it, and its gradient is larger for the face that was nearly clean."""
    pytest.importorskip("face_recognition_models")
    import torchvision.transforms.functional as TF

    from reflect.losses.removal import BoxIdentityLoss

    loss = BoxIdentityLoss(max_faces=1)
    g = torch.Generator().manual_seed(4)
    target = TF.gaussian_blur(torch.rand(1, 3, 96, 96, generator=g) * 2 - 1, [5, 5], [1.0, 1.0])
    boxes, counts = torch.tensor([[[20.0, 20.0, 76.0, 76.0]]]), torch.tensor([1])
    mild = TF.gaussian_blur(target, [7, 7], [0.6, 0.6])
    heavy = (0.5 * target + 0.5 * torch.rand(1, 3, 96, 96, generator=g) * 2 - 0.5).clamp(-1, 1)
    fixed = TF.gaussian_blur(target, [7, 7], [0.9, 0.9])  # the same output for both inputs
    terms = loss.terms(fixed, target, boxes, counts, features=True, inputs=heavy, relative_eps=1e-4)
    assert set(terms) == {"face_id", "face_features", "face_relative"}
    assert float(terms["face_relative"]) < 1.0  # closer than the heavy glass left it
    worse = loss.terms(
        fixed, target, boxes, counts, inputs=mild, relative_eps=1e-4
    )  # noise faces: tiny losses
    assert float(worse["face_relative"]) > 1.0  # the model's own change cost more than the glass
    assert float(worse["face_id"]) == pytest.approx(float(terms["face_id"]), abs=1e-6)
    grads = []
    for x in (heavy, mild):
        fake = fixed.clone().requires_grad_(True)
        rel = loss.terms(fake, target, boxes, counts, inputs=x, relative_eps=1e-4)["face_relative"]
        (grad,) = torch.autograd.grad(rel, fake)
        grads.append(float(grad.abs().sum()))
    assert grads[1] > 2 * grads[0] > 0, grads
    none = loss.terms(fixed, target, boxes, torch.tensor([0]), inputs=heavy)
    assert set(none) == {"face_id", "face_relative"} and float(none["face_relative"]) == 0.0


def test_face_relative_weight_trains_the_generator_and_needs_the_identity_term() -> None:
    pytest.importorskip("face_recognition_models")
    cfg = build_config(
        {
            "model": {
                "variant": "remover",
                "ngf": 8,
                "n_bottleneck": 1,
                "lambda_face": 1.0,
                "lambda_face_relative": 0.5,
                "face_max_faces": 1,
            }
        }
    )
    model = registry.get("remover")(cfg.model)
    assert model.loss_weights(cfg.model)["face_relative"] == 0.5
    torch.nn.init.normal_(model.g.head.weight, 0.0, 0.02)
    g = torch.Generator().manual_seed(5)
    target = torch.rand(1, 3, 64, 64, generator=g) * 2 - 1
    batch = {
        "A": (target * 0.6 + 0.3).clamp(-1, 1),
        "A_target": target,
        "has_target": torch.tensor([True]),
        "B": target,
        "faces_box": torch.tensor([[[8.0, 8.0, 56.0, 56.0]]]),
        "faces_n": torch.tensor([1]),
    }
    loss = model.phase_losses("generator", batch)["face_relative"]
    loss.backward()
    assert float(loss) > 0 and any(
        p.grad is not None and p.grad.abs().sum() > 0 for p in model.g.parameters()
    )
    for bad in (
        {"lambda_face_relative": 1.0},
        {"lambda_face": 1.0, "lambda_face_relative": 1.0, "face_relative_eps": 0.0},
    ):
        with pytest.raises(ConfigError, match="lambda_face_relative needs"):
            registry.get("remover")(
                build_config({"model": {"variant": "remover", "ngf": 8, "n_bottleneck": 1, **bad}}).model
            )
