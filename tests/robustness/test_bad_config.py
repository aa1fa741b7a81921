"""Bad config values are one line naming the key and value, before any run folder is written."""

from __future__ import annotations

from pathlib import Path

import pytest

from reflect.cli import main
from reflect.config import load_config
from reflect.errors import ConfigError

SMOKE = Path(__file__).resolve().parents[2] / "configs" / "smoke.yaml"

BAD = [
    ("model.gan_mode=lsgn", "did you mean 'lsgan'"),
    ("model.norm=foo", "batch, instance, instance_affine, layer, none"),
    ("model.upsample=bar", "transposed, nearest, bilinear, pixel_shuffle"),
    ("model.upsample=nearst", "did you mean 'nearest'"),
    ("model.ngf=-4", "at least 1"),
    ("model.ngf=0", "at least 1"),
    ("model.n_blocks=-1", "at least 0"),
    ("model.lambda_cyc=-1", "at least 0"),
    ("model.lr=-0.1", "at least 0"),
    ("model.beta1=1.5", "in [0, 1)"),
    ("model.init=kaiminng", "did you mean 'kaiming'"),
    ("model.face_detector=mtcn", "did you mean 'mtcnn'"),
    ("train.device=tpu", "auto, cpu, cuda, cuda:N"),
    ("train.device=cuda:x", "cuda:N"),
    ("train.steps=-1", "at least 1"),
    ("train.amp=fp61", "did you mean 'fp16'"),
    ("train.ema=1.5", "in [0, 1)"),
    ("train.keep_checkpoints=0", "at least 1"),
    ("data.kind=toyy", "did you mean 'toy'"),
    ("data.batch_size=0", "at least 1"),
    ("data.real_fraction=2", "in [0, 1]"),
]


@pytest.mark.parametrize(("override", "words"), BAD)
def test_bad_value_is_refused_at_load_with_one_line(
    override: str, words: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    key, value = override.split("=")
    with pytest.raises(ConfigError) as e:
        load_config(SMOKE, [override, f"out_dir={tmp_path}"])
    msg = str(e.value)
    assert "\n" not in msg and key in msg and value in msg and words in msg, msg
    assert main(["train", str(SMOKE), override, f"out_dir={tmp_path}"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and key in err[0]
    assert list(tmp_path.iterdir()) == []  # nothing written


def test_good_values_still_load() -> None:
    cfg = load_config(
        SMOKE,
        [
            "train.device=cuda:1",
            "model.upsample=pixel_shuffle",
            "train.amp=bf16",
            "model.n_blocks=0",
            "train.ema=0.999",
        ],
    )
    assert cfg.model.upsample == "pixel_shuffle" and cfg.train.device == "cuda:1"
