"""Generator files (the bundled model's format): round trip, bad files, the bundled default, exports."""

from __future__ import annotations

import logging
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from reflect import registry
from reflect.cli import main
from reflect.config import config_hash, load_config
from reflect.errors import CheckpointError
from reflect.generator_file import read_generator_metadata, save_generator
from reflect.loader import load_variant
from tests.bundled.tiny import tiny_generator_file, use_as_bundled
from tests.conftest import REPO


@pytest.fixture(scope="module")
def gen_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny_generator_file(tmp_path_factory.mktemp("gen") / "tiny.safetensors", seed=1)


def _frames(n: int = 2, h: int = 37, w: int = 45, seed: int = 0) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    return torch.rand(n, 3, h, w, generator=gen) * 2 - 1


def _image(path: Path, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    Image.fromarray(rng.integers(0, 255, (29, 42, 3), dtype=np.uint8)).save(path)
    return path


def _one_line(err: str) -> str:
    lines = [ln for ln in err.strip().splitlines() if ln.strip()]
    assert len(lines) == 1, err
    return lines[0]


@torch.no_grad()
def test_round_trip_translates_like_the_saved_variant(tmp_path: Path) -> None:
    from deploy.loader import load_translator

    cfg = load_config(REPO / "configs" / "smoke.yaml")
    torch.manual_seed(3)
    variant = registry.get("cyclegan")(cfg.model).eval()
    path = save_generator(variant, cfg, tmp_path / "g.safetensors", note="made by a test")
    loaded, loaded_cfg = load_variant(path)
    x = _frames()
    assert torch.equal(loaded.translate(x), variant.translate(x))
    assert config_hash(loaded_cfg) == config_hash(cfg)
    meta = read_generator_metadata(path)
    assert meta["variant"] == "cyclegan" and meta["note"] == "made by a test"
    translator = load_translator(path)  # .safetensors -> the torch backend
    assert translator.backend == "torch"
    torch.testing.assert_close(translator.translate(x), variant.translate(x), rtol=0, atol=1e-6)


def _foreign(p: Path, _gen: Path) -> None:
    from safetensors.torch import save_file

    save_file({"weight": torch.zeros(3)}, str(p))


def _wrong_config(p: Path, _gen: Path) -> None:  # ngf 8 weights, a config that says ngf 16
    cfg = load_config(REPO / "configs" / "smoke.yaml")
    variant = registry.get("cyclegan")(cfg.model)
    save_generator(variant, load_config(REPO / "configs" / "smoke.yaml", ["model.ngf=16"]), p)


BAD_FILES: dict[str, tuple[Callable[[Path, Path], None], str]] = {
    "foreign": (_foreign, "is a safetensors file but not a reflect generator"),
    "empty": (lambda p, _g: p.write_bytes(b""), "is empty"),
    "noise": (lambda p, _g: p.write_bytes(np.random.default_rng(0).bytes(4096)), "is not a model file"),
    "cut": (lambda p, g: p.write_bytes(g.read_bytes()[: g.stat().st_size // 2]), "not a readable"),
    "mismatch": (_wrong_config, "does not match variant 'cyclegan'"),
}


@pytest.mark.parametrize("kind", sorted(BAD_FILES))
def test_bad_generator_file_is_one_clear_error(
    kind: str, gen_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    make, reason = BAD_FILES[kind]
    bad = tmp_path / f"{kind}.safetensors"
    make(bad, gen_file)
    with pytest.raises(CheckpointError, match=reason) as info:
        load_variant(bad)
    assert str(bad) in str(info.value)
    img = _image(tmp_path / "a.png")
    rc = main(["translate", "--model", str(bad), "--input", str(img), "--output", str(tmp_path / "out")])
    assert rc == 2
    line = _one_line(capsys.readouterr().err)
    assert line.startswith("reflect translate: error:") and f"{kind}.safetensors" in line and reason in line
    assert not (tmp_path / "out").exists()


def test_cli_prints_one_line_for_a_bad_generator_file(tmp_path: Path) -> None:
    bad = tmp_path / "noise.safetensors"
    bad.write_bytes(np.random.default_rng(1).bytes(1000))
    img = _image(tmp_path / "a.png")
    cmd = ["translate", "--checkpoint", str(bad), "--input", str(img), "--output", str(tmp_path / "o")]
    res = subprocess.run(
        [sys.executable, "-m", "reflect", *cmd], capture_output=True, text=True, cwd=REPO, timeout=300
    )
    assert res.returncode == 2
    assert "noise.safetensors" in _one_line(res.stderr) and res.stdout == ""


def test_translate_without_checkpoint_uses_the_bundled_model(
    gen_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from reflect.data.io import read_image
    from reflect.inference import translate_image

    use_as_bundled(monkeypatch, gen_file)
    img = _image(tmp_path / "a.png")
    with caplog.at_level(logging.INFO):
        assert main(["translate", "--input", str(img), "--output", str(tmp_path / "out")]) == 0
    assert f"using the bundled model {gen_file}" in caplog.text
    got = read_image(tmp_path / "out" / "a.png")
    variant, _ = load_variant(gen_file)
    assert np.array_equal(got, translate_image(variant, read_image(img)))
    other, _ = load_variant(tiny_generator_file(tmp_path / "other.safetensors", seed=2))
    assert not np.array_equal(got, translate_image(other, read_image(img)))  # the output tells models apart


def test_missing_bundled_model_says_what_to_do(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    use_as_bundled(monkeypatch, tmp_path / "nowhere" / "reflect-remover.safetensors")
    img = _image(tmp_path / "a.png")
    assert main(["translate", "--input", str(img), "--output", str(tmp_path / "out")]) == 2
    line = _one_line(capsys.readouterr().err)
    assert "bundled model" in line and "missing" in line and "--checkpoint" in line


def test_onnx_export_from_a_generator_file_matches_torch(gen_file: Path, tmp_path: Path) -> None:
    from deploy.export import parity_check, read_metadata

    out = tmp_path / "g.onnx"
    assert main(["export", "--checkpoint", str(gen_file), "--format", "onnx", "--out", str(out)]) == 0
    variant, cfg = load_variant(gen_file)
    sizes = [(1, 67, 45), (2, 44, 52)]
    assert max(parity_check(variant.export_module(None).eval(), out, sizes).values()) < 1e-4
    meta = read_metadata(out)
    assert meta["variant"] == "cyclegan" and meta["config_hash"] == config_hash(cfg)
    assert meta["generator_file"] == gen_file.name and meta["ema"] == "false" and meta["train_size"] == "32"


@torch.no_grad()
def test_safetensors_export_of_a_run_uses_its_ema_generator(
    ema_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "model.safetensors"
    cmd = ["export", "--checkpoint", str(ema_run), "--format", "safetensors", "--out", str(out)]
    assert main([*cmd, "--meta", "dataset=toy"]) == 0
    assert "EMA true" in capsys.readouterr().out
    x = _frames(seed=4)
    loaded, loaded_cfg = load_variant(out)
    ema, cfg = load_variant(ema_run, use_ema=True)
    raw, _ = load_variant(ema_run, use_ema=False)
    assert torch.equal(loaded.translate(x), ema.translate(x))
    assert not torch.allclose(loaded.translate(x), raw.translate(x), atol=1e-6)
    assert config_hash(loaded_cfg) == config_hash(cfg)
    meta = read_generator_metadata(out)
    assert meta["ema"] == "true" and meta["step"] == "2" and meta["dataset"] == "toy"
    assert meta["checkpoint"] == "step_000000002.pt"

    raw_out = tmp_path / "raw.safetensors"
    raw_cmd = [
        "export",
        "--checkpoint",
        str(ema_run),
        "--format",
        "generator",
        "--out",
        str(raw_out),
        "--no-ema",
    ]
    assert main(raw_cmd) == 0
    assert torch.equal(load_variant(raw_out)[0].translate(x), raw.translate(x))
    assert read_generator_metadata(raw_out)["ema"] == "false"


def test_safetensors_export_bad_requests_are_one_line(
    gen_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base = ["export", "--checkpoint", str(gen_file), "--format", "safetensors"]
    assert main([*base, "--out", str(tmp_path / "g.pt")]) == 2
    assert "must end in .safetensors" in _one_line(capsys.readouterr().err)
    assert main([*base, "--out", str(tmp_path / "g.safetensors"), "--meta", "variant=x"]) == 2
    assert "'variant' is reserved" in _one_line(capsys.readouterr().err)
    assert main([*base, "--out", str(tmp_path / "g.safetensors"), "--meta", "novalue"]) == 2
    assert "KEY=VALUE" in _one_line(capsys.readouterr().err)
    assert not (tmp_path / "g.safetensors").exists() and not (tmp_path / "g.pt").exists()


def test_export_without_checkpoint_copies_the_bundled_model(
    gen_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_as_bundled(monkeypatch, gen_file)
    out = tmp_path / "copy.safetensors"
    assert main(["export", "--format", "safetensors", "--out", str(out), "--meta", "copied=yes"]) == 0
    x = _frames(seed=5)
    with torch.no_grad():
        assert torch.equal(load_variant(out)[0].translate(x), load_variant(gen_file)[0].translate(x))
    meta = read_generator_metadata(out)
    assert meta["checkpoint"] == gen_file.name and meta["copied"] == "yes"


def test_a_generator_file_with_an_unreadable_version_is_one_clear_error(tmp_path: Path) -> None:
    from safetensors.torch import save_file

    path = tmp_path / "odd.safetensors"
    save_file({"g.x": torch.zeros(1)}, str(path), metadata={"format": "reflect-generator", "version": "one"})
    with pytest.raises(CheckpointError, match="odd.safetensors has an unreadable format version"):
        read_generator_metadata(path)


def test_training_starts_from_a_generator_file(gen_file: Path, tmp_path: Path) -> None:
    """``train.init_from``: the run's generators (and their EMA) start as the file's; a generator file
    of another variant is one clear error naming the key."""
    from reflect.train.trainer import Trainer

    cfg = load_config(
        REPO / "configs" / "smoke.yaml",
        [f"out_dir={tmp_path}", f"train.init_from={gen_file}", "train.ema=0.99", "train.tensorboard=false"],
    )
    trainer = Trainer(cfg)
    saved, _ = load_variant(gen_file)
    x = _frames(seed=5)
    with torch.no_grad():
        assert torch.equal(trainer.model.translate(x), saved.translate(x))
    assert trainer.ema is not None
    for name, module in trainer.ema.shadow.items():
        for a, b in zip(
            module.state_dict().values(), getattr(saved, name).state_dict().values(), strict=True
        ):
            assert torch.equal(a, b)
    other = load_config(
        None,
        [
            f"out_dir={tmp_path}",
            "name=other",
            "model.variant=remover",
            "model.ngf=8",
            "data.kind=toy",
            f"train.init_from={gen_file}",
        ],
    )
    with pytest.raises(CheckpointError, match="train.init_from.*cyclegan"):
        Trainer(other)


def test_a_trained_remover_grows_refinement_blocks_that_keep_what_it_does(tmp_path: Path) -> None:
    """``model.n_refine`` and ``model.n_context``: a remover file without refinement or context blocks starts a bigger remover that
    cleans exactly as the file does (the new blocks start as the identity) and whose new blocks
    learn; any other mismatch of the file is still one clear error."""
    from reflect.train.trainer import Trainer

    base = [
        "model.variant=remover",
        "model.ngf=8",
        "model.n_bottleneck=1",
        "data.kind=toy",
        "train.tensorboard=false",
    ]
    small_cfg = load_config(None, [f"out_dir={tmp_path}", "name=small", *base])
    torch.manual_seed(7)
    small = registry.get("remover")(small_cfg.model).eval()
    for p in small.g.parameters():  # a "trained" model: not the identity
        torch.nn.init.normal_(p, 0.0, 0.05)
    path = save_generator(small, small_cfg, tmp_path / "small.safetensors")
    grown_cfg = load_config(
        None,
        [
            f"out_dir={tmp_path}",
            "name=grown",
            *base,
            "model.n_refine=1",
            "model.n_context=2",
            f"train.init_from={path}",
        ],
    )
    trainer = Trainer(grown_cfg)
    assert len(trainer.model.g.ref1) == 1 and len(trainer.model.g.ctx) == 2
    x = _frames(seed=8, h=32, w=32)
    with torch.no_grad():
        assert torch.allclose(trainer.model.translate(x), small.translate(x), atol=1e-6)
    loss = (trainer.model.g.layers(x)[0] - x.flip(-1)).abs().mean()
    loss.backward()
    assert float(trainer.model.g.ref1[0].c2.weight.grad.abs().sum()) > 0  # the new blocks learn
    assert float(trainer.model.g.ctx[1].c2.weight.grad.abs().sum()) > 0
    wider = load_config(
        None,
        [
            f"out_dir={tmp_path}",
            "name=wider",
            *base,
            "model.ngf=12",
            "model.n_refine=1",
            f"train.init_from={path}",
        ],
    )
    with pytest.raises(CheckpointError, match="does not match variant 'remover'"):
        Trainer(wider)


def test_a_generator_file_whose_header_length_starts_with_the_pickle_byte_is_still_a_generator(
    tmp_path,
) -> None:  # type: ignore[no-untyped-def]
    import json
    import struct

    from reflect.utils.filetype import model_kind

    header = json.dumps({"__metadata__": {"format": "reflect-generator", "pad": ""}}).encode()
    header += b" " * ((0x80 - len(header)) % 256)  # a length whose low byte is 0x80
    assert len(header) % 256 == 0x80
    path = tmp_path / "g.safetensors"
    path.write_bytes(struct.pack("<Q", len(header)) + header)
    assert path.read_bytes()[:1] == b"\x80" and model_kind(path) == "generator"
