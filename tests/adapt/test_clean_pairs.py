"""`reflect adapt --clean-pairs F`: clean crops of the site's camera, behind a new reflection, become
supervised pairs in the site's own world (the re-synthesis loss cannot do that: its target is the
model's own output, so a backdrop the base model darkens stays dark)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from reflect.cli import main
from reflect.data.io import list_images, read_image, to_tensor, write_image
from reflect.data.site import SiteDataset
from reflect.data.synth import glass
from reflect.data.synth.blends import BLEND_PARAMS, RESYNTH_BLENDS, apply_row
from reflect.losses.adaptation import resynthesise
from reflect.utils.images import float_to_uint8
from tests.adapt.test_adapt_cli import adapt
from tests.adapt.test_site_data import SIZE, index_of

STEPS = "60"


def _bright_clean(site: Path, out: Path) -> Path:
    """This camera's clean crops: bright scenes (the site's crops lifted toward white)."""
    out.mkdir()
    for p in list_images(site):
        write_image(out / p.name, (155 + read_image(p).astype(np.float32) * 0.35).astype(np.uint8))
    return out


def test_apply_row_is_the_re_synthesis_blend_for_every_glass_model():
    rng = np.random.default_rng(0)
    t, r = rng.random((2, 1, 16, 16, 3), dtype=np.float32)
    for k in range(len(RESYNTH_BLENDS)):
        row = np.array([k, 0.4, 1.5, 0.8, 0.9, 0.85, 0.3, 0.35, 0.4])
        assert row.size == BLEND_PARAMS
        x = apply_row(t[0], r[0], row)
        assert x.shape == t[0].shape and float(np.abs(x - t[0]).mean()) > 0.02  # a visible reflection
        batch = resynthesise(
            torch.from_numpy(t).permute(0, 3, 1, 2) * 2 - 1,
            torch.from_numpy(r).permute(0, 3, 1, 2),
            torch.from_numpy(row)[None],
        )
        assert np.allclose(batch[0].permute(1, 2, 0).numpy(), x * 2 - 1, atol=1e-5), RESYNTH_BLENDS[k]


def test_clean_pairs_are_the_clean_crops_behind_a_new_reflection(toy_site, tmp_path):
    clean = _bright_clean(toy_site, tmp_path / "clean")
    targets = [to_tensor(read_image(p)) for p in list_images(clean)]
    ds = SiteDataset(index_of(toy_site), SIZE, seed=3, clean=str(clean), clean_pair_fraction=0.5)
    samples = [ds[k] for k in range(16)]
    pairs = [s for s in samples if s["clean_pair"]]
    assert 0 < len(pairs) < len(samples)  # both kinds in 16 draws
    for s in samples:
        assert set(s) == set(samples[0])
    for s in pairs:
        assert bool(s["has_target"]) and not bool(s["site"]) and int(s["faces_n"]) == 0
        t = s["A_target"]
        assert any(torch.equal(t, c) or torch.equal(t, c.flip(-1)) for c in targets)  # a clean crop as it is
        assert float((s["A"] - t).abs().mean()) > 0.02  # behind a reflection
    again = ds[int(np.flatnonzero([bool(s["clean_pair"]) for s in samples])[0])]
    assert torch.equal(again["A"], pairs[0]["A"])  # a pure function of (seed, key)
    plain = SiteDataset(index_of(toy_site), SIZE, seed=3, clean=str(clean))
    assert not any(bool(plain[k]["clean_pair"]) for k in range(16))


def _behind_glass(clean: Path, out: Path, seed: int, shift: int) -> tuple[Path, list[np.ndarray]]:
    """The site's glass: each clean crop (the ``shift``-th next one) behind a random reflection, linear
    blend at 0.3 with a 2 px blur. Returns the folder and the clean crops shown, as floats 0-255."""
    rng = np.random.default_rng(seed)
    out.mkdir()
    files = list_images(clean)
    shown = []
    for i in range(len(files)):
        t = read_image(files[(i + shift) % len(files)]).astype(np.float32) / 255.0
        r = rng.random((SIZE, SIZE, 3), dtype=np.float32)
        write_image(
            out / f"c{i:02d}.png", float_to_uint8(apply_row(t, r, np.array([0, 0.3, 2.0, 1, 1, 1, 0, 0, 0])))
        )
        shown.append(t * 255.0)
    return out, shown


def test_pairs_are_calibrated_to_the_site_s_brightness(toy_site, tmp_path):
    """A glass that takes half the light (site crops darker than its clean crops, where the blends add
    light): the pairs' inputs are scaled down to the site's mean brightness."""
    clean = _bright_clean(toy_site, tmp_path / "clean")
    site = tmp_path / "site"
    site.mkdir()
    for p in list_images(clean):
        write_image(
            site / p.name, float_to_uint8(glass.to_display(glass.to_linear(read_image(p) / 255.0) * 0.5))
        )
    ds = SiteDataset(index_of(site), SIZE, seed=3, clean=str(clean), clean_pair_fraction=0.99)
    assert ds.pair_gain is not None and float(ds.pair_gain.max()) < 0.8, ds.pair_gain

    def linear_mean(images: list[np.ndarray]) -> float:
        return float(np.mean([glass.to_linear(im.astype(np.float32) / 255.0).mean() for im in images]))

    pairs = [((ds[k]["A"] + 1) * 127.5).permute(1, 2, 0).numpy() for k in range(24)]
    site_mean = linear_mean([read_image(p) for p in list_images(site)])
    assert abs(linear_mean(pairs) / site_mean - 1) < 0.15, (linear_mean(pairs), site_mean)
    raw = SiteDataset(
        index_of(site), SIZE, seed=3, clean=str(clean), clean_pair_fraction=0.99, calibrate_pairs=False
    )
    assert raw.pair_gain is None
    assert (
        linear_mean([((raw[k]["A"] + 1) * 127.5).permute(1, 2, 0).numpy() for k in range(24)])
        > 1.5 * site_mean
    )


def test_clean_pairs_teach_the_site_s_bright_scenes(toy_site, tiny_remover, tmp_path):
    """The same budget with and without the pairs: on new crops of the site (its clean crops behind its
    glass), the pairs' model comes much closer to the clean crops."""
    clean = _bright_clean(toy_site, tmp_path / "clean")
    site, _ = _behind_glass(clean, tmp_path / "site", seed=1, shift=1)
    tests, targets = _behind_glass(clean, tmp_path / "tests", seed=7, shift=0)

    def error(*pairs: str) -> float:
        run = tmp_path / f"run{len(pairs)}"
        extra = ("--clean", str(clean), *pairs, "--full", "--anchor", "0", "--report-crops", "0")
        assert adapt(site, tiny_remover, run, "--steps", STEPS, *extra, "model.lr=0.002") == 0
        out = tmp_path / f"out{len(pairs)}"
        model = run / "adapted.safetensors"
        assert main(["translate", "--model", str(model), "--input", str(tests), "--output", str(out)]) == 0
        outs = [read_image(p).astype(np.float32) for p in list_images(out)]
        return float(np.mean([np.abs(o - t).mean() for o, t in zip(outs, targets, strict=True)]))

    without, with_pairs = error(), error("--clean-pairs", "0.9")
    assert with_pairs < without * 0.8, (without, with_pairs)


def test_clean_pairs_need_clean_crops_and_a_share(toy_site, tiny_remover, tmp_path, capsys):
    assert adapt(toy_site, tiny_remover, tmp_path / "a", "--clean-pairs", "0.3", "--steps", "2") == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--clean-pairs" in err[0] and "--clean" in err[0], err
    clean = _bright_clean(toy_site, tmp_path / "clean")
    assert adapt(toy_site, tiny_remover, tmp_path / "b", "--clean", str(clean), "--clean-pairs", "1.5") == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--clean-pairs 1.5" in err[0], err
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()
