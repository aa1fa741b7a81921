"""The variant contract (docs/ARCHITECTURE.md), checked on every registered variant.

Registering a variant adds it here; its tiny spec (small widths, what its batches need) is its line
in tests/specs.py, shared with the golden outputs and the deployment tests.
"""

from __future__ import annotations

import hashlib
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from deploy.export import export_onnx
from reflect import registry
from reflect.config import ExperimentConfig
from reflect.train.trainer import Trainer
from reflect.variants.base import Variant
from tests.specs import SIZE, SPECS, first_batch, spec, tiny_config

STEPS = 20
VARIANTS = registry.names()


def build(cfg: ExperimentConfig, seed: int = 0) -> Variant:
    torch.manual_seed(seed)
    return registry.get(type(cfg.model).variant_name)(cfg.model)


def tiny_trainer(name: str, out_dir: Path, overrides: list[str] | None = None) -> Trainer:
    """The real trainer on ``name``'s tiny spec, its batches made as the variant's own data makes them."""
    trainer = Trainer(tiny_config(name, out_dir, overrides, steps=STEPS))
    s = spec(name)
    if s.prepare is not None:
        plain = trainer.batches
        trainer.batches = lambda: map(s.batch, plain())  # type: ignore[method-assign]
    return trainer


def images(seed: int, h: int, w: int, n: int = 2) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.rand(n, 3, h, w, generator=g) * 2 - 1


def test_every_variant_has_a_spec() -> None:
    missing = [n for n in VARIANTS if n not in SPECS]
    assert not missing, f"add a tiny spec to tests/specs.py for {missing}"


@pytest.fixture(scope="module", params=VARIANTS)
def trained(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> tuple[str, Trainer, list]:
    """Each variant trained for STEPS steps by the real trainer (shared by the tests below)."""
    name = request.param
    trainer = tiny_trainer(name, tmp_path_factory.mktemp(name))
    history = trainer.fit()
    trainer.model.eval()
    return name, trainer, history


@pytest.mark.parametrize("name", VARIANTS)
def test_losses_are_finite_and_weighted(name: str, tmp_path: Path) -> None:
    cfg = tiny_config(name, tmp_path)
    variant = build(cfg).train()
    batch = first_batch(cfg)
    weights = variant.loss_weights(cfg.model)
    d_losses = variant.phase_losses("discriminator", batch)
    g_losses = variant.phase_losses("generator", batch)
    assert d_losses and g_losses
    for k, v in {**d_losses, **g_losses}.items():
        assert v.dim() == 0, f"{name}: loss '{k}' is not a scalar"
        assert math.isfinite(float(v.detach())), f"{name}: loss '{k}' = {float(v.detach())}"
        assert k in weights, f"{name}: loss '{k}' has no default weight"
    recon = variant.reconstruction_losses
    assert recon, f"{name}: declare reconstruction_losses (names of its reconstruction/cycle losses)"
    assert set(recon) <= set(g_losses), f"{name}: reconstruction_losses {recon} not among {sorted(g_losses)}"


@pytest.mark.parametrize("name", VARIANTS)
def test_each_phase_updates_only_its_own_parameters(name: str, tmp_path: Path) -> None:
    trainer = tiny_trainer(name, tmp_path)
    model = trainer.model
    batch = trainer.to_device(first_batch(trainer.cfg))
    shared = {id(p) for m in model.shared_modules for p in getattr(model, m).parameters()}
    groups = model.param_groups()
    d_ids = {id(p) for g in model.discriminator_groups for p in groups.get(g, [])}
    assert d_ids, f"{name}: no parameters in its discriminator groups {model.discriminator_groups}"
    params = dict(model.named_parameters())

    for phase, mine in (("generator", lambda i: i not in d_ids), ("discriminator", lambda i: i in d_ids)):
        before = {n: p.detach().clone() for n, p in params.items()}
        trainer.phase_step(phase, batch)
        changed = {n for n, p in params.items() if not torch.equal(p, before[n])}
        own = {n for n, p in params.items() if mine(id(p))}
        foreign = {n for n in changed - own if id(params[n]) not in shared}
        assert not foreign, f"{name}: a {phase} step changed other parameters: {sorted(foreign)[:5]}"
        assert changed & own, f"{name}: a {phase} step changed none of its own parameters"


@pytest.fixture(scope="module")
def face_loss() -> Any:
    """The contract's face-identity loss, built once for the suite (MTCNN takes seconds to load)."""
    pytest.importorskip("facenet_pytorch")
    from reflect.losses import FaceIdentityLoss

    loss = FaceIdentityLoss()
    loss(images(5, SIZE, SIZE, n=1), images(5, SIZE, SIZE, n=1))
    return loss


@pytest.mark.parametrize("name", VARIANTS)
def test_every_variant_takes_the_application_losses(name: str, tmp_path: Path, face_loss: Any) -> None:
    """``model.lambda_sup`` and ``model.lambda_face`` work for every variant: weighted by the config,
    judged on the variant's A -> clean output, the supervised term only on paired samples."""
    from reflect.losses import FaceIdentityLoss

    cfg = tiny_config(name, tmp_path, ["model.lambda_sup=0.5", "model.lambda_face=0.25"])
    variant = build(cfg).train()
    assert variant.face_id is not None, f"{name}: model.lambda_face > 0 built no face loss"
    if isinstance(variant.face_id, FaceIdentityLoss):  # the contract's: share the warmed-up one
        variant.face_id = face_loss
    weights = variant.loss_weights(cfg.model)
    assert weights["supervised"] == 0.5 and weights["face_id"] == 0.25, f"{name}: {weights}"
    batch = first_batch(cfg)
    source = variant.clean_source(batch)  # A, or every image of a multi-domain batch
    batch["A_target"] = source.flip(-1)
    batch["has_target"] = torch.tensor([False] * len(source))
    unpaired = variant.phase_losses("generator", batch)
    assert float(unpaired["supervised"].detach()) == 0.0, (
        f"{name}: supervised term on a sample without a target"
    )
    assert math.isfinite(float(unpaired["face_id"].detach())), f"{name}: face_id not finite"
    batch["has_target"] = torch.tensor([True] * len(source))
    sup = variant.phase_losses("generator", batch)["supervised"]
    assert float(sup.detach()) > 0, f"{name}: supervised term is zero on a paired sample"
    gen = [p for m in generator_children(variant).values() for p in m.parameters() if p.requires_grad]
    grads = torch.autograd.grad(sup, gen, allow_unused=True)
    assert any(g is not None and float(g.abs().sum()) > 0 for g in grads), (
        f"{name}: supervised term does not reach the generator"
    )


def generator_children(model: Variant) -> dict[str, torch.nn.Module]:
    """Top-level submodules whose trained parameters all belong to the generator phase (frozen
    weights, such as the base under ``adapt``'s LoRA adapters, belong to no phase)."""
    groups = model.param_groups()
    g_ids = {id(p) for g, ps in groups.items() if g not in model.discriminator_groups for p in ps}
    return {
        n: m
        for n, m in model.named_children()
        if any(True for _ in m.parameters())
        and all(id(p) in g_ids for p in m.parameters() if p.requires_grad)
    }


@pytest.mark.parametrize("name", VARIANTS)
def test_an_iteration_runs_each_generator_once_per_input(name: str, tmp_path: Path) -> None:
    """One forward per iteration: the discriminator steps (two here) and the application losses
    reuse the generator phase's outputs instead of running a generator again on the same input."""
    trainer = tiny_trainer(name, tmp_path, ["train.d_steps=2", "model.lambda_sup=1.0"])
    model = trainer.model
    calls: list[tuple[str, tuple[int, ...], str]] = []

    def record(name: str):  # type: ignore[no-untyped-def]
        def hook(module: torch.nn.Module, args: tuple[Any, ...], out: Any) -> None:
            x = args[0].detach().float().contiguous()
            calls.append((name, tuple(x.shape), hashlib.sha1(x.numpy().tobytes()).hexdigest()))

        return hook

    gens = generator_children(model)
    assert gens, f"{name}: no generator submodules found"
    # every layer with weights inside the generators (a generator may run through a method other
    # than forward, e.g. the remover's layers())
    layers = {
        f"{g}.{n}": m
        for g, gen in gens.items()
        for n, m in gen.named_modules()
        if any(True for _ in m.parameters(recurse=False))
    }
    hooks = [m.register_forward_hook(record(n)) for n, m in layers.items()]
    try:
        trainer.train_step(first_batch(trainer.cfg))
    finally:
        for h in hooks:
            h.remove()
    twice = sorted({c[0] for c in calls if calls.count(c) > 1})
    assert calls and not twice, f"{name}: {twice} ran more than once on the same input in one iteration"
    d_param = next(p for g in model.discriminator_groups for p in model.param_groups()[g])
    opt = next(trainer.optimizers[g] for g in model.discriminator_groups)
    assert int(opt.state[d_param]["step"]) == 2, (
        f"{name}: train.d_steps=2 did not step the discriminator twice"
    )


def test_translate_is_deterministic_bounded_and_keeps_odd_sizes(trained: tuple[str, Trainer, list]) -> None:
    name, trainer, _ = trained
    model = trainer.model
    for target in [None, *model.domains]:
        x = images(1, 37, 45)
        x_copy = x.clone()
        with torch.no_grad():
            y1 = model.translate(x, target=target)
            y2 = model.translate(x, target=target)
        assert y1.shape == x.shape, f"{name} -> {target}: {tuple(x.shape)} became {tuple(y1.shape)}"
        assert torch.equal(y1, y2), f"{name} -> {target}: translate is not deterministic"
        assert torch.equal(x, x_copy), f"{name}: translate modified its input"
        assert y1.min() >= -1 and y1.max() <= 1, f"{name}: output outside [-1, 1]"
        assert y1.std() > 0, f"{name}: constant output"


def test_state_dict_round_trip_gives_identical_outputs(trained: tuple[str, Trainer, list]) -> None:
    name, trainer, _ = trained
    clone = build(trainer.cfg, seed=123)
    x = images(2, SIZE, SIZE)
    with torch.no_grad():
        before = clone.eval().translate(x)
        clone.load_state_dict(trainer.model.state_dict())
        assert torch.equal(clone.translate(x), trainer.model.translate(x)), (
            f"{name}: round trip changed outputs"
        )
        assert not torch.equal(before, clone.translate(x)), f"{name}: weights did not matter (seed ignored?)"


def test_training_lowers_reconstruction_loss(trained: tuple[str, Trainer, list]) -> None:
    name, trainer, history = trained
    keys = trainer.model.reconstruction_losses
    assert len(history) == STEPS
    per_step = [sum(h[k] for k in keys) for h in history]
    assert all(math.isfinite(v) for v in per_step)
    first, last = float(np.mean(per_step[:3])), float(np.mean(per_step[-3:]))
    assert last < first, f"{name}: {'+'.join(keys)} went from {first:.4f} to {last:.4f} in {STEPS} steps"


def test_onnx_export_matches_torch(trained: tuple[str, Trainer, list], tmp_path: Path) -> None:
    """The deployed graph (deploy.export: dynamic batch, height and width; multi-domain variants take
    the target index, DUNIT the face boxes) agrees with torch at the training size and at an odd
    size and batch it never saw; export_onnx raises ParityError beyond the tolerance."""
    name, trainer, _ = trained
    sizes = [(1, SIZE, SIZE), (2, 37, 45)]
    result = export_onnx(
        trainer.model, tmp_path / f"{name}.onnx", cfg=trainer.cfg, parity_sizes=sizes, tolerance=1e-4
    )
    assert set(result.parity) == {f"{n}x3x{h}x{w}" for n, h, w in sizes}, f"{name}: {result.parity}"
    assert result.max_abs_diff <= 1e-4 and result.path.is_file()
    assert result.nodes_after <= result.nodes_before, f"{name}: the optimiser added nodes"
