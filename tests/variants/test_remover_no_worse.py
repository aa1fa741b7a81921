"""The remover's no-worse hinges: a face (``face_no_worse``) or a whole crop (``no_worse``) must not come out
worse than through the glass, relative to how little the glass hurt it, and per colour channel on request."""

from __future__ import annotations

import pytest
import torch

from reflect import registry
from reflect.config import build_config
from reflect.errors import ConfigError
from reflect.losses.removal import face_no_worse, face_region_l1, no_worse


def test_face_no_worse_weighs_a_darkened_faint_face_by_the_input_error() -> None:
    """A pale face behind a faint reflection, darkened by the model, must cost more than a face made
    worse by a larger absolute error behind a heavy reflection: the plain L1 sees a few grey levels, the
    relative hinge a face made worse than the glass left it; a face that cleaning improved costs nothing."""
    boxes = torch.tensor([[[8.0, 8.0, 24.0, 24.0]], [[8.0, 8.0, 24.0, 24.0]]])
    counts = torch.tensor([1, 1])
    target = torch.full((2, 3, 32, 32), 0.6)
    x = target.clone()
    x[0] += 0.03  # faint reflection
    x[1] += 0.6  # heavy reflection
    darkened = target.clone()
    darkened[0] -= 0.06  # 0.03 through the glass, 0.06 after: worse (about 8 grey levels)
    darkened[1] = x[1] - 0.3  # half the heavy reflection removed: better
    worse_faint = float(face_no_worse(darkened[:1], x[:1], target[:1], boxes[:1], counts[:1]))
    helped_heavy = float(face_no_worse(darkened[1:], x[1:], target[1:], boxes[1:], counts[1:]))
    assert helped_heavy == 0.0
    assert worse_faint == pytest.approx(0.03 / 0.05, rel=1e-4)  # (0.06 - 0.03) / (0.03 + eps)
    plain_faint = float(face_region_l1(darkened[:1], target[:1], boxes[:1], counts[:1]))
    assert worse_faint > 5 * plain_faint  # the plain L1 hardly sees the darkened faint face
    worse_heavy = float(face_no_worse(x[1:] + 0.3, x[1:], target[1:], boxes[1:], counts[1:]))
    assert worse_faint > worse_heavy > 0  # relative to the glass's own error: 0.03 of 0.03 > 0.3 of 0.6
    assert float(face_no_worse(x, x, target, boxes, counts)) == 0.0  # left as the glass left it: 0
    assert float(face_no_worse(darkened, x, target, boxes, torch.tensor([0, 0]))) == 0.0  # no face: 0


def _trains_the_generator_and_checks_its_eps(
    name: str, has_target: list[bool], faces: bool, bad_eps: float
) -> None:
    """``model.lambda_<name>`` adds the term ``name`` to the generator's losses; it reaches the generator's
    weights on a clean input that the model changes (any change makes it worse), is 0 without targets,
    and a non-positive ``model.<name>_eps`` (``bad_eps``) is one config error naming the key."""
    cfg = build_config({"model": {"variant": "remover", "ngf": 8, "n_bottleneck": 1, f"lambda_{name}": 1.0}})
    model = registry.get("remover")(cfg.model)
    assert model.loss_weights(cfg.model)[name] == 1.0
    x = torch.rand(2, 3, 32, 32) * 2 - 1
    batch = {"A": x, "A_target": x, "has_target": torch.tensor(has_target), "B": x}
    if faces:
        boxes = torch.zeros(2, 1, 4)
        boxes[:, 0] = torch.tensor([8.0, 8.0, 24.0, 24.0])
        batch |= {"faces_box": boxes, "faces_n": torch.tensor([1, 1])}
    torch.nn.init.normal_(model.g.head.weight, 0.0, 0.02)  # any change of a clean input makes it worse
    loss = model.phase_losses("generator", batch)[name]
    loss.backward()
    assert float(loss) > 0 and any(
        p.grad is not None and p.grad.abs().sum() > 0 for p in model.g.parameters()
    )
    batch["has_target"] = torch.tensor([False, False])
    assert float(model.phase_losses("generator", batch)[name]) == 0.0
    bad = build_config(
        {"model": {"variant": "remover", "ngf": 8, f"lambda_{name}": 1.0, f"{name}_eps": bad_eps}}
    )
    with pytest.raises(ConfigError, match=f"model.{name}_eps must be > 0 with model.lambda_{name}"):
        registry.get("remover")(bad.model)


def test_face_no_worse_weight_trains_the_generator_and_checks_its_eps() -> None:
    _trains_the_generator_and_checks_its_eps("face_no_worse", [True, True], faces=True, bad_eps=0.0)


def test_no_worse_charges_a_backdrop_darkened_past_what_the_glass_did() -> None:
    """The whole-crop hinge: a bright crop behind faint glass, darkened overall by the model, costs about
    as much as its face-box form would on a face; a crop whose reflection was partly removed costs 0."""
    target = torch.full((2, 3, 16, 16), 0.7)
    x = target + torch.tensor([0.02, 0.5]).view(2, 1, 1, 1)  # faint, heavy reflection
    out = torch.stack([target[0] - 0.1, x[1] - 0.3])  # darkened; partly cleaned
    every = torch.ones(2, 1, 16, 16)
    assert float(no_worse(out[1:], x[1:], target[1:], every[1:])) == 0.0
    assert float(no_worse(out[:1], x[:1], target[:1], every[:1])) == pytest.approx(
        (0.1 - 0.02) / 0.04, rel=1e-4
    )
    assert float(no_worse(out, x, target, torch.zeros(2, 1, 16, 16))) == 0.0  # nothing to judge: 0
    _trains_the_generator_and_checks_its_eps("no_worse", [True, False], faces=False, bad_eps=-1.0)


def test_no_worse_per_channel_charges_a_colour_cast_the_pooled_hinge_misses() -> None:
    """A bluish faint reflection (the glass added 12 levels of blue, 2 of red): a model that takes a grey
    reflection away fixes the blue and takes 7 levels of red. Pooled over the channels that is better than
    the input (no charge); per channel the red is worse than the glass left it."""
    target = torch.zeros(1, 3, 8, 8)
    x = target + torch.tensor([2.0, 4.0, 12.0]).view(1, 3, 1, 1) / 127.5
    out = target + torch.tensor([-7.0, 0.0, 2.0]).view(1, 3, 1, 1) / 127.5
    every = torch.ones(1, 1, 8, 8)
    assert float(no_worse(out, x, target, every)) == 0.0
    per_channel = float(no_worse(out, x, target, every, per_channel=True))
    red = (7.0 - 2.0) / 127.5 / (2.0 / 127.5 + 0.02)
    assert per_channel == pytest.approx(red / 3, rel=1e-4)
    assert float(no_worse(x, x, target, every, per_channel=True)) == 0.0
