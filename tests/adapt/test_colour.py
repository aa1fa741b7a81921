"""`reflect adapt --match-colour`: clean crops of the site's camera teach what no single crop reveals, the
glass's light loss and tint, through the cleaned crops' per-channel colour mean and spread."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from reflect.cli import main
from reflect.data.io import list_images, read_image, write_image
from reflect.losses.adaptation import colour_moments
from reflect.utils.images import image_moments
from tests.adapt.test_adapt_cli import adapt


def test_colour_moments_are_zero_at_the_clean_statistics_and_pull_a_dark_output_up():
    clean = torch.rand(4, 3, 16, 16) * 0.6 + 0.3  # [0, 1] units
    mean, std = image_moments(clean)
    assert float(colour_moments(clean * 2 - 1, mean, std)) < 1e-6
    dark = (clean * 0.5 * 2 - 1).requires_grad_(True)  # the same crops at half the light
    loss = colour_moments(dark, mean, std)
    assert float(loss.detach()) > 0.05
    loss.backward()
    assert dark.grad is not None and float(dark.grad.mean()) < 0  # descending raises every pixel


def _dimmed(site: Path, out: Path, factor: float) -> Path:
    out.mkdir()
    for p in list_images(site):
        write_image(out / p.name, (read_image(p) * factor).astype(np.uint8))
    return out


def _mean_output(model: Path, site: Path, out: Path) -> float:
    assert main(["translate", "--model", str(model), "--input", str(site), "--output", str(out)]) == 0
    return float(np.mean([read_image(p).mean() for p in list_images(out)]))


def test_match_colour_moves_the_outputs_toward_the_clean_crops(toy_site, tiny_remover, tmp_path):
    clean = _dimmed(toy_site, tmp_path / "clean", 0.5)  # this camera's clean crops are half as bright
    run = tmp_path / "run"
    extra = ("--clean", str(clean), "--match-colour", "--full", "--anchor", "0", "--report-crops", "0")
    assert adapt(toy_site, tiny_remover, run, "--steps", "12", *extra, "model.lr=0.002") == 0
    base = _mean_output(tiny_remover, toy_site, tmp_path / "base")
    adapted = _mean_output(run / "adapted.safetensors", toy_site, tmp_path / "adapted")
    target = float(np.mean([read_image(p).mean() for p in list_images(clean)]))
    assert abs(adapted - target) < abs(base - target) - 5, (base, adapted, target)


def test_match_colour_without_clean_crops_is_one_line(toy_site, tiny_remover, tmp_path, capsys):
    assert adapt(toy_site, tiny_remover, tmp_path / "run", "--match-colour", "--steps", "2") == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--match-colour" in err[0] and "--clean" in err[0], err
    assert not (tmp_path / "run").exists()


def _colour_variant(momentum: float):
    from reflect.variants.adapt import Adapt, AdaptConfig

    cfg = AdaptConfig(ngf=8, lambda_colour=1.0, lambda_identity=0.0, clean="clean", colour_momentum=momentum)
    return Adapt(cfg).train()


def test_colour_term_follows_the_site_wide_mismatch_not_one_batch():
    # the cleaned crops are too dark site-wide, but this batch's one crop is a bright scene: a
    # batch-only term pushes it down, the running term (the site's mismatch) pushes it up
    torch.manual_seed(0)
    target_mean, target_std = torch.full((3,), 0.5), torch.full((3,), 0.2)
    variant = _colour_variant(0.95)
    for _ in range(40):  # the site so far: cleaned crops at mean ~0.35
        variant._colour(torch.rand(2, 3, 16, 16) * 0.6 - 0.6, target_mean, target_std)
    bright = (torch.rand(1, 3, 16, 16) * 0.4 + 0.6).requires_grad_(True)  # one crop at mean ~0.8
    variant._colour(bright, target_mean, target_std).backward()
    assert bright.grad is not None and float(bright.grad.mean()) < 0  # descending brightens
    alone = bright.detach().clone().requires_grad_(True)
    colour_moments(alone, target_mean, target_std).backward()
    assert alone.grad is not None and float(alone.grad.mean()) > 0  # the batch alone darkens
    state = variant.state_dict()  # the running moments resume with the checkpoint
    assert "colour_running" in state and float(state["colour_count"]) == 41


def test_colour_momentum_outside_its_range_is_one_line():
    import pytest

    from reflect.errors import ConfigError

    with pytest.raises(ConfigError, match="model.colour_momentum: 1.0"):
        _colour_variant(1.0)
