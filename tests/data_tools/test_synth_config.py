"""The synthesis config: validated like the experiment config, every range checked."""

from __future__ import annotations

from pathlib import Path

import pytest

from reflect.data.synth.config import SynthConfig, load_synth_config, synth_config_from_dict
from reflect.errors import ConfigError


def test_defaults_are_valid_and_every_term_is_switchable() -> None:
    cfg = synth_config_from_dict({})
    assert isinstance(cfg, SynthConfig) and cfg.size == 256
    off = cfg.input_only_terms_off()
    assert not (off.reflection.enabled or off.ghost.enabled or off.glare.enabled or off.false_colour.enabled)
    assert not (off.camera.noise or off.camera.jpeg) and cfg.reflection.enabled  # the original is untouched


@pytest.mark.parametrize(
    ("data", "needle"),
    [
        ({"ghost": {"atenuation": [0.1, 0.2]}}, "ghost.atenuation"),
        ({"colour": 1}, "'colour'"),
        ({"reflection": {"blur_sigma": [5.0, 1.0]}}, "reflection.blur_sigma"),
        ({"glass": {"transmission": [0.0, 0.5]}}, "glass.transmission"),
        ({"glare": {"probability": 1.5}}, "glare.probability"),
        ({"camera": {"mode": "thermal"}}, "camera.mode"),
        ({"reflection": {"sources": {"lava": 1.0}}}, "reflection.sources.lava"),
        ({"layout": "pairs"}, "layout"),
        ({"size": "big"}, "size"),
    ],
)
def test_bad_config_names_the_key(data: dict, needle: str) -> None:
    with pytest.raises(ConfigError, match=needle.replace(".", r"\.")):
        synth_config_from_dict(data)


def test_yaml_and_overrides(tmp_path: Path, repo: Path) -> None:
    f = tmp_path / "s.yaml"
    f.write_text("size: 128\nghost:\n  probability: 1.0\n")
    cfg = load_synth_config(f, ["camera.jpeg=false", "reflection.strength=[0.1, 0.2]"])
    assert cfg.size == 128 and cfg.ghost.probability == 1.0 and cfg.camera.jpeg is False
    assert cfg.reflection.strength == [0.1, 0.2]
    shipped = load_synth_config(repo / "configs" / "synth.yaml")
    assert shipped == SynthConfig()  # the shipped file spells out the defaults
