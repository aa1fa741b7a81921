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
