"""scripts/average_generators.py: the weight-space average of two generator files opens like any model
file; files of different networks and a bad ALPHA are one line."""

from __future__ import annotations

import sys
from pathlib import Path

import torch
from safetensors.torch import load_file

from reflect.cli import main as reflect_main
from tests.adapt.conftest import make_site, tiny_remover_file

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
from average_generators import main  # noqa: E402


def test_the_average_is_each_weight_mixed_and_opens_in_translate(tmp_path: Path) -> None:
    a, b = tiny_remover_file(tmp_path / "a.safetensors", 0), tiny_remover_file(tmp_path / "b.safetensors", 1)
    out = tmp_path / "mix.safetensors"
    assert main([str(a), str(b), "0.25", str(out)]) == 0
    ta, tb, tm = load_file(str(a)), load_file(str(b)), load_file(str(out))
    assert tm.keys() == ta.keys()
    for k in tm:
        torch.testing.assert_close(tm[k], 0.75 * ta[k] + 0.25 * tb[k], rtol=1e-5, atol=1e-6, msg=k)
    site = make_site(tmp_path / "site", count=2)
    cleaned = tmp_path / "cleaned"
    assert (
        reflect_main(["translate", "--model", str(out), "--input", str(site), "--output", str(cleaned)]) == 0
    )
    assert len(list(cleaned.iterdir())) == 2


def test_different_networks_and_a_bad_alpha_are_one_line(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    from reflect import registry
    from reflect.config import build_config
    from reflect.generator_file import save_generator

    a = tiny_remover_file(tmp_path / "a.safetensors", 0)
    cfg = build_config(
        {
            "name": "wider",
            "model": {"variant": "remover", "ngf": 16, "ndf": 8, "n_bottleneck": 1, "output": "layers"},
            "data": {"kind": "toy", "load_size": 64, "crop_size": 64},
        }
    )
    wider = save_generator(registry.get("remover")(cfg.model), cfg, tmp_path / "wider.safetensors")
    out = tmp_path / "mix.safetensors"
    assert main([str(a), str(wider), "0.5", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "different networks" in err[0], err
    assert main([str(a), str(a), "1.5", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "ALPHA" in err[0] and "1.5" in err[0], err
    assert not out.exists()


def test_a_grown_network_averages_with_the_file_it_grew_from(tmp_path: Path) -> None:
    """B = A grown by a context block and trained on: the average scales the new block's residual branch
    by ALPHA (its input conv as B's, its output conv as ALPHA x B's); at ALPHA 0 it cleans exactly as A."""
    from reflect import registry
    from reflect.config import build_config
    from reflect.generator_file import load_generator, load_weights, read_generator_metadata, save_generator

    a = tiny_remover_file(tmp_path / "a.safetensors", 0)
    cfg = build_config(
        {
            "name": "grown",
            "model": {
                "variant": "remover",
                "ngf": 8,
                "ndf": 8,
                "n_bottleneck": 1,
                "output": "layers",
                "n_context": 1,
            },
            "data": {"kind": "toy", "load_size": 64, "crop_size": 64},
        }
    )
    grown = registry.get("remover")(cfg.model).eval()
    load_weights(grown, a, read_generator_metadata(a), grow=True)
    with torch.no_grad():  # "trained on": every weight moved, the new block's output conv no longer zero
        for p in grown.g.parameters():
            p.add_(torch.randn_like(p) * 0.01)
    b = save_generator(grown, cfg, tmp_path / "b.safetensors")
    out = tmp_path / "mix.safetensors"
    assert main([str(a), str(b), "0.4", str(out)]) == 0
    ta, tb, tm = load_file(str(a)), load_file(str(b)), load_file(str(out))
    assert tm.keys() == tb.keys() and tm.keys() - ta.keys() == {k for k in tb if k.startswith("g.ctx.")}
    for k in tm:
        if k.startswith("g.ctx.0.c1."):
            expected = tb[k]
        elif k.startswith("g.ctx.0.c2."):
            expected = 0.4 * tb[k]
        else:
            expected = 0.6 * ta[k] + 0.4 * tb[k]
        torch.testing.assert_close(tm[k], expected, rtol=1e-5, atol=1e-6, msg=k)
    assert main([str(a), str(b), "0", str(out)]) == 0
    x = torch.rand(1, 3, 64, 64) * 2 - 1
    with torch.no_grad():
        same = load_generator(out)[0].translate(x)
        torch.testing.assert_close(same, load_generator(a)[0].translate(x), rtol=0, atol=1e-5)
