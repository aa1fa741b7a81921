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
