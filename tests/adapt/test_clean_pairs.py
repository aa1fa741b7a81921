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


# ---- --pair-glass site-mean: the site's mean glass, fitted to its crops' statistics ------------------


def _veiled(clean: Path, out: Path, contrast: float, airlight: np.ndarray) -> Path:
    """The site's glass: every clean crop at ``contrast`` plus a warm airlight growing to the right (in
    linear light), the same over every crop, as a dusty windshield in a low sun."""
    out.mkdir()
    ramp = np.linspace(0.4, 1.6, SIZE, dtype=np.float32)[None, :, None]
    for p in list_images(clean):
        lin = glass.to_linear(read_image(p).astype(np.float32) / 255.0)
        write_image(
            out / p.name, float_to_uint8(glass.to_display(np.clip(contrast * lin + ramp * airlight, 0, 1)))
        )
    return out


def test_site_mean_glass_is_fitted_from_the_site_s_crops(toy_site, tmp_path):
    """The contrast the glass takes and the light it adds (its colour, and where it grows) are read off
    the site's crops against the clean crops, with no model: the pairs come out with the site's veil,
    where the brightness calibration alone only scales them."""
    clean = _bright_clean(toy_site, tmp_path / "clean")
    airlight = np.array([0.2, 0.13, 0.06], np.float32)
    site = _veiled(clean, tmp_path / "site", 0.6, airlight)
    ds = SiteDataset(
        index_of(site), SIZE, seed=3, clean=str(clean), clean_pair_fraction=0.99, pair_glass="site-mean"
    )
    assert ds.site_glass is not None and ds.pair_gain is None
    k, b = ds.site_glass
    assert k.shape == (3,) and b.shape == (SIZE, SIZE, 3)
    assert float(k.max()) < 0.85, k  # the contrast the veil takes (the pairs' reflections add spread)
    added = b.reshape(-1, 3).mean(0)
    assert added[0] > added[1] > added[2] and added[0] - added[2] > 0.05, added  # a warm light
    assert float(b[:, -8:, 0].mean() - b[:, :8, 0].mean()) > 0.1  # growing toward the sun's side
    plain = SiteDataset(index_of(site), SIZE, seed=3, clean=str(clean), clean_pair_fraction=0.99)
    assert plain.site_glass is None and plain.pair_gain is not None

    def redness(ds: SiteDataset) -> float:
        """The mean red-blue difference of the pairs' inputs (the veil's warmth), display units."""
        xs = [ds[k]["A"] for k in range(24) if bool(ds[k]["clean_pair"])]
        return float(np.mean([float((x[0] - x[2]).mean()) for x in xs]))

    site_red = float(
        np.mean(
            [
                (read_image(p)[..., 0] - read_image(p)[..., 2].astype(float)).mean() / 127.5
                for p in list_images(site)
            ]
        )
    )
    assert abs(redness(ds) - site_red) < 0.5 * abs(redness(plain) - site_red), (
        redness(ds),
        redness(plain),
        site_red,
    )


def test_site_mean_glass_never_adds_contrast(toy_site, tmp_path):
    """Crops with sharper, stronger reflections than the re-synthesis draws carry more detail than the
    pairs: that is the reflections', not the scene's, so the pairs' scenes keep their contrast (a glass
    takes contrast, never adds it) and only the light the reflections add is matched."""
    clean = _bright_clean(toy_site, tmp_path / "clean")
    site = tmp_path / "site"
    site.mkdir()
    rng = np.random.default_rng(0)
    for p in list_images(clean):
        lin = glass.to_linear(read_image(p).astype(np.float32) / 255.0)
        speckle = np.kron(rng.random((SIZE // 8, SIZE // 8, 1)), np.ones((8, 8, 3))).astype(np.float32)
        write_image(site / p.name, float_to_uint8(glass.to_display(np.clip(lin + 0.5 * speckle, 0, 1))))
    ds = SiteDataset(
        index_of(site), SIZE, seed=3, clean=str(clean), clean_pair_fraction=0.99, pair_glass="site-mean"
    )
    assert ds.site_glass is not None
    k, b = ds.site_glass
    assert np.array_equal(k, np.ones(3, np.float32)), k
    assert float(b.mean()) > 0.05  # the reflections' light


def test_site_floor_glass_veils_each_pair_as_one_site_crop_was(toy_site, tmp_path):
    """A dusty windshield in a low sun hazes each crop from that crop's own side: the mean over crops
    is flat, so site-mean's pairs never show a haze growing across the crop. site-floor veils each
    pair with one site crop's light floor (what the haze adds under the whole scene): the pairs' light
    grows toward the sun's side, from either side, as the site's crops do, with the haze's colour."""
    clean = _bright_clean(toy_site, tmp_path / "clean")
    site = tmp_path / "site"
    site.mkdir()
    airlight = np.array([0.2, 0.13, 0.06], np.float32)
    down = np.linspace(0.0, 2.0, SIZE, dtype=np.float32)[:, None, None]  # the sun below or above
    for i, p in enumerate(list_images(clean)):
        lin = glass.to_linear(read_image(p).astype(np.float32) / 255.0)
        haze = (down if i % 2 else down[::-1]) * airlight
        write_image(site / p.name, float_to_uint8(glass.to_display(np.clip(0.6 * lin + haze, 0, 1))))

    def fit(pair_glass: str) -> tuple[SiteDataset, np.ndarray]:
        ds = SiteDataset(
            index_of(site), SIZE, seed=3, clean=str(clean), clean_pair_fraction=0.99, pair_glass=pair_glass
        )
        assert ds.site_glass is not None
        return ds, ds.site_glass[1]

    def growth(light: np.ndarray) -> float:
        """How much more light the bottom quarter gets than the top quarter (red, linear)."""
        q = light.shape[0] // 4
        return float(light[-q:, :, 0].mean() - light[:q, :, 0].mean())

    _, mean_light = fit("site-mean")
    assert abs(growth(mean_light)) < 0.1, growth(mean_light)  # the two suns average out
    ds, floors = fit("site-floor")
    assert floors.ndim == 4 and len(floors) == len(list_images(site))
    rng = np.random.default_rng(0)
    drawn = [ds._glass_light(rng, floors) for _ in range(24)]
    assert all(d.shape == (SIZE, SIZE, 3) for d in drawn)
    grows = [growth(d) for d in drawn]
    assert min(grows) < -0.2 and max(grows) > 0.2, grows  # hazed from below and from above
    light = np.mean([d.reshape(-1, 3).mean(0) for d in drawn], axis=0)
    assert light[0] > light[1] > light[2], light  # the haze's warm colour
    inputs = [ds[k]["A"] for k in range(24) if bool(ds[k]["clean_pair"])]
    spread = [float(x[0, -SIZE // 4 :].mean() - x[0, : SIZE // 4].mean()) for x in inputs]
    assert min(spread) < -0.1 and max(spread) > 0.1, spread  # the pairs' inputs show it too


# ---- --pair-glass site: the clean crops behind the glass the model reads on the site's crops ----------


def test_the_site_glass_over_a_crop_s_own_clean_layer_gives_the_crop_back():
    """``c / g + R`` inverts the layers form: a site crop's own transmission layer, put back behind the
    glass read on that crop, is the crop again (up to the bounded detail term); another crop's clean
    layer gets that crop's transmission loss and reflection."""
    from reflect.losses.adaptation import through_site_glass
    from reflect.nn.unet import DETAIL, RemovalUNet

    torch.manual_seed(0)
    net = RemovalUNet(3, 3, ngf=8, n_bottleneck=1, predict_reflection=True, output="layers").eval()
    with torch.no_grad():
        net.head.weight.normal_(0.0, 0.05)
        net.gain.bias.copy_(torch.tensor([1.5, -1.0, 0.5]))  # type: ignore[union-attr]
        x = torch.rand(2, 3, 32, 32) * 1.6 - 0.8
        t, r = net.layers(x)
        g = net.gains(x)
        assert (
            r is not None
            and g is not None
            and float(r.abs().mean()) > 0.01
            and float((g - 1).abs().max()) > 0.02
        )
        back = through_site_glass(t, r, g[:, :, None, None])
    # |d| / g <= DETAIL in [0, 1] units, twice that in [-1, 1]
    assert float((back - x).abs().max()) <= 2 * DETAIL / 0.9 + 1e-5
    assert float((back - x).abs().mean()) < 0.5 * float((t - x).abs().mean())  # the glass is really undone
    other = through_site_glass(
        t.flip(0), r, g[:, :, None, None]
    )  # crop 1's clean layer behind crop 0's glass
    expected = ((t[1] + 1) * 0.5 / g[0, :, None, None] + r[0] * 0.5).clamp(0, 1) * 2 - 1
    assert torch.allclose(other[0], expected, atol=1e-6)


def test_pairs_through_the_site_glass_judge_the_clean_crop_behind_it():
    """With ``clean_pair_glass: site`` the pair loss judges the model on the clean crop behind the glass
    read on the batch's site crop (not on the re-synthesised input); a batch without a site crop keeps
    the re-synthesised input."""
    from reflect.variants.adapt import Adapt, AdaptConfig

    torch.manual_seed(0)
    cfg = AdaptConfig(ngf=8, n_bottleneck=1, lambda_identity=0.0, clean="clean", clean_pair_fraction=0.5)
    variant = Adapt(cfg).train()
    site_glass = Adapt(AdaptConfig(**{**cfg.__dict__, "clean_pair_glass": "site"})).train()
    with torch.no_grad():
        variant.g.head.weight.normal_(0.0, 0.05)
    site_glass.load_state_dict(variant.state_dict())
    x = torch.rand(2, 3, 32, 32) * 2 - 1
    c = torch.rand(2, 3, 32, 32) * 2 - 1
    batch = {
        "A": x,
        "A_target": torch.stack([torch.zeros_like(c[0]), c[1]]),
        "has_target": torch.tensor([False, True]),
        "site": torch.tensor([True, False]),
        "clean_pair": torch.tensor([False, True]),
        "layer": torch.rand(2, 3, 32, 32),
        "blend": torch.zeros(2, BLEND_PARAMS),
    }
    plain = variant.phase_losses("generator", batch)["clean_pairs"]
    out = site_glass.generate(batch)
    assert "pair_t" in out
    expected_input = through_site_glass_of(site_glass, x[:1], c[1:])
    assert torch.allclose(out["pair_t"], site_glass.layers(expected_input)[0], atol=1e-5)
    ours = site_glass.phase_losses("generator", batch)["clean_pairs"]
    assert abs(float(ours) - float(plain)) > 1e-4  # another input judged
    ours.backward()
    assert any(p.grad is not None and float(p.grad.abs().sum()) > 0 for p in site_glass.g.parameters())
    no_site = batch | {"site": torch.tensor([False, False]), "has_target": torch.tensor([False, True])}
    assert "pair_t" not in site_glass.generate(no_site)
    assert torch.allclose(
        site_glass.phase_losses("generator", no_site)["clean_pairs"],
        variant.phase_losses("generator", no_site)["clean_pairs"],
    )


def through_site_glass_of(variant, site_crop: torch.Tensor, clean: torch.Tensor) -> torch.Tensor:  # type: ignore[no-untyped-def]
    from reflect.losses.adaptation import through_site_glass

    with torch.no_grad():
        _, r = variant.layers(site_crop)
        g = variant.g.gains(site_crop)
    return through_site_glass(clean, r, g[:, :, None, None])


def test_pair_glass_needs_the_pairs_and_runs_with_them(toy_site, tiny_remover, tmp_path, capsys):
    assert adapt(toy_site, tiny_remover, tmp_path / "a", "--pair-glass", "site", "--steps", "2") == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--pair-glass site" in err[0] and "--clean-pairs" in err[0], err
    assert not (tmp_path / "a").exists()
    clean = _bright_clean(toy_site, tmp_path / "clean")
    run = tmp_path / "b"
    extra = ("--clean", str(clean), "--clean-pairs", "0.5", "--pair-glass", "site", "--report-crops", "0")
    assert adapt(toy_site, tiny_remover, run, "--steps", "4", *extra) == 0
    out = tmp_path / "out"
    assert (
        main(
            [
                "translate",
                "--model",
                str(run / "adapted.safetensors"),
                "--input",
                str(toy_site),
                "--output",
                str(out),
            ]
        )
        == 0
    )
    assert len(list_images(out)) == len(list_images(toy_site))
