"""Multi-domain variants (StarGAN, DRIT++/MDMM): their configs train at other sizes and batch sizes,
every target domain gives its own output, ONNX takes the target as an input, and the CLI's --target."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from reflect.cli import main
from reflect.config import load_config
from reflect.loader import load_variant
from reflect.train import Trainer, resume_config
from reflect.variants.multidomain import MultiDomainVariant

REPO = Path(__file__).resolve().parents[2]
MULTI = ["stargan", "drit"]
# narrow, at the configs' depth (discriminator layers, residual blocks) so sizes and strides are real
NARROW = {
    "stargan": ["model.ngf=8", "model.ndf=8", "model.n_blocks=2"],
    "drit": ["model.ngf=8", "model.ndf=8", "model.n_res=2", "model.n_res_dec=1"],
}


def run_config(name: str, tmp: Path, size: int, batch: int, steps: int, *extra: str):  # type: ignore[no-untyped-def]
    overrides = [
        f"out_dir={tmp}",
        f"name={name}_{size}",
        "data.kind=toy",
        "data.root=",
        f"data.load_size={size}",
        f"data.crop_size={size}",
        f"data.batch_size={batch}",
        "data.num_workers=0",
        "data.max_images=8",
        f"train.steps={steps}",
        "train.decay_steps=0",
        "train.progress=false",
        "train.tensorboard=false",
        "train.sample_every=0",
        "train.device=cpu",
        "train.log_every=1",
        *NARROW[name],
        *extra,
    ]
    return load_config(REPO / "configs" / f"{name}.yaml", overrides)


@pytest.fixture(scope="module", params=MULTI)
def md_run(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path]:
    name = request.param
    cfg = run_config(name, tmp_path_factory.mktemp(name), 64, 2, 4, "train.d_steps=1")
    Trainer(cfg).fit()
    return name, cfg.run_dir


@pytest.mark.parametrize("size", [96, 160])
@pytest.mark.parametrize("name", MULTI)
def test_config_trains_at_other_sizes_with_batch_3(name: str, size: int, tmp_path: Path) -> None:
    trainer = Trainer(run_config(name, tmp_path, size, 3, 2))
    history = trainer.fit()
    assert len(history) == 2 and all(np.isfinite(v) for h in history for v in h.values())


@pytest.mark.parametrize("name", MULTI)
def test_resume_equals_uninterrupted_with_random_targets_and_attributes(name: str, tmp_path: Path) -> None:
    """The random targets (and DRIT's attribute and noise draws) come from the checkpointed RNG,
    once per iteration: a run stopped and resumed gives the same weights as one that was not."""
    extra = ("train.d_steps=2", "train.checkpoint_every=100")
    straight = Trainer(run_config(name, tmp_path / "straight", 64, 2, 4, *extra))
    straight.fit()
    first = Trainer(run_config(name, tmp_path / "split", 64, 2, 4, *extra))
    first.fit(until=2)
    resumed = Trainer(resume_config(first.run_dir), resume=True)
    resumed.fit()
    assert resumed.step == straight.step == 4
    want, got = straight.model.state_dict(), resumed.model.state_dict()
    for k in want:
        torch.testing.assert_close(got[k], want[k], atol=1e-6, rtol=0, msg=f"{name}: {k}")


def test_each_target_domain_gives_a_different_output(md_run: tuple[str, Path]) -> None:
    name, run = md_run
    variant, _ = load_variant(run)
    assert isinstance(variant, MultiDomainVariant) and len(variant.domains) == 6
    x = torch.rand(1, 3, 37, 45) * 2 - 1
    with torch.no_grad():
        outs = {d: variant.translate(x, target=d) for d in variant.domains}
    for i, a in enumerate(variant.domains):
        for b in variant.domains[i + 1 :]:
            diff = float((outs[a] - outs[b]).abs().mean())
            assert diff > 1e-3, f"{name}: '{a}' and '{b}' give the same output (mean |diff| {diff:.1e})"


def test_onnx_takes_the_target_index_and_matches_torch_for_every_domain(
    md_run: tuple[str, Path], tmp_path: Path
) -> None:
    import onnxruntime as ort

    from deploy.export import export_onnx

    name, run = md_run
    variant, cfg = load_variant(run)
    result = export_onnx(variant, tmp_path / f"{name}.onnx", cfg=cfg, parity_sizes=[(3, 67, 45)])
    assert result.max_abs_diff <= 1e-4
    sess = ort.InferenceSession(str(result.path), providers=["CPUExecutionProvider"])
    assert [i.name for i in sess.get_inputs()] == ["input", "target_index"]
    n = len(variant.domains)
    x = (torch.rand(1, 3, 51, 39) * 2 - 1).expand(n, -1, -1, -1).contiguous()  # a size the export never saw
    got = sess.run(None, {"input": x.numpy(), "target_index": np.arange(n, dtype=np.int64)})[0]
    with torch.no_grad():
        want = torch.cat([variant.translate(x[i : i + 1], target=d) for i, d in enumerate(variant.domains)])
    assert float(np.abs(got - want.numpy()).max()) <= 1e-4


def test_translate_cli_target_and_unknown_domain(md_run: tuple[str, Path], tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    _, run = md_run
    src = tmp_path / "in.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (45, 61, 3), dtype=np.uint8)).save(src)
    args = ["translate", "--checkpoint", str(run), "--input", str(src)]
    assert main([*args, "--output", str(tmp_path / "glare"), "--target", "glare"]) == 0
    assert main([*args, "--output", str(tmp_path / "clean")]) == 0  # default target: clean
    glare, clean = (np.asarray(Image.open(tmp_path / d / "in.png")) for d in ("glare", "clean"))
    assert glare.shape == (45, 61, 3) and not np.array_equal(glare, clean)
    capsys.readouterr()
    assert main([*args, "--output", str(tmp_path / "x"), "--target", "rain"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0
    assert "unknown target domain 'rain'; valid: clean, sky, foliage, glare, false_colour, nir" in err


def test_random_targets_stay_within_each_samples_label_set(md_run: tuple[str, Path]) -> None:
    variant, _ = load_variant(md_run[1])
    mask = torch.tensor([[True, False, False, True, False, False]] * 64)
    batch = {
        "image": torch.zeros(64, 3, 8, 8),
        "domain": torch.zeros(64, dtype=torch.long),
        "domain_mask": mask,
    }
    assert set(variant.random_targets(batch).tolist()) == {0, 3}
    del batch["domain_mask"]  # no mask: every domain
    assert set(variant.random_targets(batch).tolist()) == set(range(6))
