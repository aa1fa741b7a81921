"""The remover variant, its generator and its losses."""

from __future__ import annotations

import logging

import pytest
import torch

from reflect import registry
from reflect.config import build_config
from reflect.errors import CheckpointError, ConfigError
from reflect.losses.layers import exclusion, gradient_l1, layer_reconstruction
from reflect.losses.perceptual import PerceptualLoss
from reflect.losses.removal import box_mask, face_region_l1
from reflect.nn.unet import RemovalUNet
from reflect.utils.flops import count_flops


def test_untrained_generator_is_the_identity_at_any_size() -> None:
    g = RemovalUNet(ngf=8, n_bottleneck=1).eval()
    x = torch.rand(2, 3, 48, 80) * 2 - 1
    t, r = g.layers(x)
    assert torch.equal(t.detach(), x) and r is not None and float(r.detach().abs().max()) == 0.0
    cfg = build_config({"model": {"variant": "remover", "ngf": 8, "n_bottleneck": 1}})
    variant = registry.get("remover")(cfg.model).eval()
    y = variant.translate(torch.rand(1, 3, 37, 45) * 2 - 1)
    assert y.shape == (1, 3, 37, 45)


@pytest.mark.parametrize(("n_refine", "n_context"), [(0, 0), (2, 0), (2, 2)])
def test_bundled_size_generator_fits_the_cpu_budget(n_refine: int, n_context: int) -> None:
    g = RemovalUNet(ngf=32, n_bottleneck=3, n_refine=n_refine, n_context=n_context, output="layers")
    macs = count_flops(lambda: g(torch.zeros(1, 3, 256, 256))) / 2
    assert macs <= 5e9, f"{macs / 1e9:.2f} GMACs at 256x256 (budget 5)"
    x = torch.rand(1, 3, 32, 32) * 2 - 1
    with torch.no_grad():
        assert torch.equal(g(x), x)  # untrained, refinement and context blocks included: the identity


def test_gradient_loss_sees_edges_and_respects_the_mask() -> None:
    x = torch.zeros(2, 3, 32, 32)
    y = x.clone()
    y[0, :, :, 16:] = 1.0  # an edge in sample 0 only
    assert float(gradient_l1(x, x)) == 0.0
    assert float(gradient_l1(x, y)) > 0.0
    assert float(gradient_l1(x, y, mask=torch.tensor([False, True]))) == 0.0
    assert float(gradient_l1(x, y, mask=torch.tensor([False, False]))) == 0.0


def test_exclusion_is_lower_for_layers_with_separate_edges() -> None:
    g = torch.Generator().manual_seed(0)
    base = torch.rand(1, 3, 64, 64, generator=g)
    left, right = base.clone(), base.clone()
    left[..., 32:] = 0.5  # T has edges on the left only
    right[..., :32] = 0.5  # R on the right only
    apart = float(exclusion(left, right))
    together = float(exclusion(left, left * 0.5))
    assert apart < 0.5 * together


def test_layer_reconstruction_checks_the_sum() -> None:
    t, r = torch.rand(1, 3, 8, 8), torch.rand(1, 3, 8, 8)
    assert float(layer_reconstruction(t + r, t, r)) < 1e-7
    assert float(layer_reconstruction(t, t, r)) > 0.1


def test_face_region_loss_judges_only_the_faces_pixels() -> None:
    boxes = torch.tensor(
        [[[8.0, 4.0, 20.0, 28.0], [0.0, 0.0, 32.0, 32.0]], [[2.0, 2.0, 10.0, 10.0], [0.0, 0.0, 0.0, 0.0]]]
    )
    counts = torch.tensor([1, 1])  # sample 0's second row is an unused slot: it must not count
    m = box_mask(boxes, counts, 32, 32)
    assert m.shape == (2, 1, 32, 32) and int(m[0].sum()) == 12 * 24 and int(m[1].sum()) == 8 * 8
    x = torch.rand(2, 3, 32, 32) * 2 - 1
    y = x.clone()
    y[0, :, :, 24:] = -1.0  # outside sample 0's face
    y[1, :, 20:, :] = 1.0  # outside sample 1's face
    assert float(face_region_l1(x, y, boxes, counts)) == 0.0
    y[0, :, 10, 12] += 0.5  # one pixel inside the face
    assert float(face_region_l1(x, y, boxes, counts)) > 0.0
    assert float(face_region_l1(x, y, boxes, torch.tensor([0, 0]))) == 0.0  # no face: 0, not NaN


def test_face_region_weight_adds_a_loss_that_trains_the_generator() -> None:
    cfg = build_config(
        {"model": {"variant": "remover", "ngf": 8, "n_bottleneck": 1, "lambda_face_region": 2.0}}
    )
    model = registry.get("remover")(cfg.model)
    assert model.loss_weights(cfg.model)["face_region"] == 2.0
    x = torch.rand(2, 3, 32, 32) * 2 - 1
    boxes = torch.zeros(2, 2, 4)
    boxes[:, 0] = torch.tensor([8.0, 8.0, 24.0, 24.0])
    batch = {
        "A": x,
        "A_target": x.flip(-1),
        "has_target": torch.tensor([True, False]),
        "B": x,
        "faces_box": boxes,
        "faces_n": torch.tensor([1, 1]),
    }
    torch.nn.init.normal_(model.g.head.weight, 0.0, 0.02)  # off the zero-initialised identity start
    loss = model.phase_losses("generator", batch)["face_region"]
    loss.backward()
    assert float(loss) > 0 and any(
        p.grad is not None and p.grad.abs().sum() > 0 for p in model.g.parameters()
    )
    batch["has_target"] = torch.tensor([False, False])  # no target: nothing to compare the face with
    assert float(model.phase_losses("generator", batch)["face_region"]) == 0.0


def test_every_loss_reaches_the_generator() -> None:
    cfg = build_config({"model": {"variant": "remover", "ngf": 8, "n_bottleneck": 1, "ndf": 8}})
    variant = registry.get("remover")(cfg.model).train()
    for p in variant.g.head.parameters():  # leave the identity start so every term has a gradient
        torch.nn.init.normal_(p, 0, 0.05)
    x = torch.rand(2, 3, 64, 64) * 2 - 1
    batch = {"A": x, "A_target": (x * 0.5).clamp(-1, 1), "has_target": torch.tensor([True, True]), "B": x}
    for name, loss in variant.phase_losses("generator", batch).items():
        grads = torch.autograd.grad(loss, list(variant.g.parameters()), allow_unused=True, retain_graph=True)
        assert any(gr is not None and float(gr.abs().sum()) > 0 for gr in grads), (
            f"loss '{name}' does not reach the generator"
        )


def test_bad_network_sizes_are_one_config_error_naming_the_key() -> None:
    with pytest.raises(ConfigError, match="model.n_refine: -1 must be at least 0"):
        build_config({"model": {"variant": "remover", "n_refine": -1}})
    cfg = build_config({"model": {"variant": "remover", "ngf": 6, "n_bottleneck": 1}})
    with pytest.raises(ConfigError, match="model.ngf: 6 is not allowed: the remover needs a multiple of 4"):
        registry.get("remover")(cfg.model)


def test_face_features_need_the_dlib_identity_term() -> None:
    with pytest.raises(ConfigError, match="lambda_face_features needs model.lambda_face > 0"):
        cfg = build_config(
            {"model": {"variant": "remover", "ngf": 8, "n_bottleneck": 1, "lambda_face_features": 1.0}}
        )
        registry.get("remover")(cfg.model)


def test_perceptual_loss_never_downloads(caplog: pytest.LogCaptureFixture, tmp_path) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(CheckpointError, match="does not exist"):
        PerceptualLoss(tmp_path / "vgg19.pth")
    cfg = build_config({"model": {"variant": "remover", "ngf": 8, "n_bottleneck": 1, "lambda_vgg": 1.0}})
    with caplog.at_level(logging.INFO):
        variant = registry.get("remover")(cfg.model)
    assert "perceptual loss off" in caplog.text
    x = torch.rand(1, 3, 32, 32) * 2 - 1
    out = variant.phase_losses(
        "generator", {"A": x, "A_target": x, "has_target": torch.tensor([True]), "B": x}
    )
    assert float(out["perceptual"]) == 0.0


def test_translate_refuses_the_other_direction() -> None:
    cfg = build_config({"model": {"variant": "remover", "ngf": 8, "n_bottleneck": 1}})
    variant = registry.get("remover")(cfg.model)
    with pytest.raises(ValueError, match="only removes reflections"):
        variant.translate(torch.zeros(1, 3, 16, 16), target="A")


# ---- the 'layers' output form: T = g * (x - R) + d, composed from the input ----


def _randomised(g: torch.nn.Module, seed: int = 0) -> torch.nn.Module:
    torch.manual_seed(seed)
    for p in g.parameters():
        torch.nn.init.normal_(p, 0.0, 0.08)
    return g.eval()


def test_the_layers_form_starts_as_the_identity_and_cannot_invent_light() -> None:
    from reflect.nn.unet import DETAIL, GAIN_HIGH, GAIN_LOW

    x = torch.rand(3, 3, 48, 64) * 2 - 1
    g = RemovalUNet(ngf=8, n_bottleneck=1, output="layers").eval()
    t, r = g.layers(x)
    assert torch.equal(t.detach(), x) and r is not None and float(r.abs().max()) == 0.0
    for seed in range(3):  # whatever the weights: brighter than the gain allows is impossible
        wild = _randomised(RemovalUNet(ngf=8, n_bottleneck=1, output="layers"), seed)
        with torch.no_grad():
            t, r = wild.layers(x)
            gains = wild.gains(x)
        assert r is not None and float(r.min()) >= 0.0
        x01, t01, r01 = (x + 1) / 2, (t + 1) / 2, r / 2
        assert (t01 <= GAIN_HIGH * x01 + DETAIL + 1e-5).all()
        rest = x01 - r01  # darker only by the claimed reflection
        assert (t01 >= torch.minimum(GAIN_LOW * rest, GAIN_HIGH * rest) - DETAIL - 1e-4).all()
        assert float(r.max()) > 0.01 and float((t - x).abs().max()) > 0.01  # the random weights do act
        assert gains is not None and float(gains.min()) >= GAIN_LOW and float(gains.max()) <= GAIN_HIGH


def test_a_correction_model_converts_to_the_layers_form_keeping_what_it_removed() -> None:
    from reflect.nn.unet import layers_from_correction

    old = _randomised(RemovalUNet(ngf=8, n_bottleneck=1, n_refine=1))
    new = RemovalUNet(ngf=8, n_bottleneck=1, n_refine=1, output="layers").eval()
    new.load_state_dict(layers_from_correction(old.state_dict()))
    x = torch.rand(2, 3, 32, 48) * 2 - 1
    with torch.no_grad():
        t_old, _ = old.layers(x)
        t_new, r = new.layers(x)
    delta = t_old - x
    assert torch.allclose(t_new, x + delta.clamp(max=0.0), atol=1e-5)  # removals kept, additions dropped
    assert r is not None and torch.allclose(r, (-delta).clamp(min=0.0), atol=1e-5)


def test_the_no_reflection_loss_asks_reflection_free_inputs_back_unchanged() -> None:
    cfg = build_config(
        {
            "model": {
                "variant": "remover",
                "ngf": 8,
                "n_bottleneck": 1,
                "output": "layers",
                "lambda_no_reflection": 5.0,
            }
        }
    )
    model = registry.get("remover")(cfg.model)
    weights = model.default_loss_weights(cfg.model)
    assert weights["no_reflection"] == 5.0 and "reconstruction" not in weights
    x = torch.rand(2, 3, 32, 32) * 2 - 1
    batch = {
        "A": x,
        "A_target": x,
        "has_target": torch.tensor([True, True]),
        "B": x,
        "reflection_free": torch.tensor([True, False]),
    }
    assert (
        float(model.phase_losses("generator", batch)["no_reflection"]) == 0.0
    )  # the untrained model is the identity
    _randomised(model.g)
    model.train()
    loss = model.phase_losses("generator", batch)["no_reflection"]
    loss.backward()
    assert (
        float(loss) > 0
        and model.g.head.weight.grad is not None
        and float(model.g.head.weight.grad.abs().sum()) > 0
    )
    none = {**batch, "reflection_free": torch.tensor([False, False])}
    assert float(model.phase_losses("generator", none)["no_reflection"]) == 0.0


def test_an_unknown_output_form_is_one_config_error() -> None:
    with pytest.raises(ConfigError, match="model.output"):
        build_config({"model": {"variant": "remover", "ngf": 8, "output": "free"}})
    with pytest.raises(ConfigError, match="predict_reflection"):
        registry.get("remover")(
            build_config(
                {"model": {"variant": "remover", "ngf": 8, "output": "layers", "predict_reflection": False}}
            ).model
        )
