from __future__ import annotations

import pytest

from reflect.config import load_config, save_config
from reflect.errors import ConfigError

SMOKE = "configs/smoke.yaml"


def test_unknown_model_key_is_named(repo):
    with pytest.raises(ConfigError, match=r"'model\.ngff'.*did you mean 'ngf'"):
        load_config(repo / SMOKE, ["model.ngff=8"])


def test_unknown_top_level_and_loss_weight_keys(repo):
    with pytest.raises(ConfigError, match="'trian'"):
        load_config(repo / SMOKE, ["trian.steps=3"])
    with pytest.raises(ConfigError, match="loss_weights.cycle_c"):
        load_config(repo / SMOKE, ["loss_weights.cycle_c=3"])


def test_wrong_type_is_named(repo):
    with pytest.raises(ConfigError, match=r"model\.ngf: expected an integer, got 'wide'"):
        load_config(repo / SMOKE, ["model.ngf=wide"])
    with pytest.raises(ConfigError, match=r"train\.progress: expected true or false"):
        load_config(repo / SMOKE, ["train.progress=3"])


def test_unknown_variant_lists_valid_ones(repo):
    with pytest.raises(ConfigError, match="unknown variant 'cyclegn'.*cyclegan"):
        load_config(repo / SMOKE, ["model.variant=cyclegn"])


def test_nested_overrides_apply(repo):
    cfg = load_config(repo / SMOKE, ["model.ngf=16", "data.crop_size=48"])
    assert cfg.model.ngf == 16 and cfg.data.crop_size == 48
    assert cfg.model.lambda_cyc == 10.0  # paper default kept


def test_saved_config_reloads_equal(repo, tmp_path):
    cfg = load_config(repo / SMOKE, ["model.ngf=12", "loss_weights.cycle_a=3.5", f"out_dir={tmp_path}"])
    save_config(cfg, tmp_path / "c.yaml")
    again = load_config(tmp_path / "c.yaml")
    assert again == cfg


def test_missing_file_and_bad_yaml(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("model: [unclosed\n")
    with pytest.raises(ConfigError, match="bad.yaml is not valid YAML"):
        load_config(bad)
