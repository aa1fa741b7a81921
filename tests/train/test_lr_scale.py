"""``train.lr_scale``: blocks grown onto a trained file learn at their own rate, the trained weights at
the base rate; a prefix that names nothing, or a scale that is not above 0, is one clear line."""

from __future__ import annotations

import pytest

from reflect.errors import ConfigError
from reflect.train import Trainer, resume_config
from tests.specs import tiny_config

LR = 1e-3


def _trainer(tmp_path, *extra: str) -> Trainer:
    overrides = ["model.n_context=1", f"model.lr={LR}", "train.checkpoint_every=1", *extra]
    return Trainer(tiny_config("remover", tmp_path, overrides=overrides, steps=4))


def _moves(tmp_path, *extra: str) -> dict[str, float]:
    """How far each generator weight moves in the first two steps (the zero-initialised head alone
    gets a gradient in the first; every layer in the second)."""
    t = _trainer(tmp_path, *extra)
    before = {n: p.detach().clone() for n, p in t.model.named_parameters() if n.startswith("g.")}
    t.fit(until=2)
    return {
        n: (p.detach() - before[n]).abs().max().item() for n, p in t.model.named_parameters() if n in before
    }


def test_scaled_blocks_step_at_their_own_rate(tmp_path):
    plain = _moves(tmp_path / "plain")
    scaled = _moves(tmp_path / "scaled", "train.lr_scale={g.ctx: 10.0}")
    ctx = [n for n in plain if n.startswith("g.ctx.")]
    assert ctx and max(plain[n] for n in ctx) > 0  # the context block learns at all
    # same seed, same batches, same gradients: the context block moves 10x as far, the rest as far
    for n in plain:
        expected = plain[n] * (10 if n in ctx else 1)
        assert scaled[n] == pytest.approx(expected, rel=1e-3, abs=1e-9), n


def test_resumed_run_keeps_the_scaled_rates(tmp_path):
    t = _trainer(tmp_path, "train.lr_scale={g.ctx: 5.0}")
    t.fit(until=2)
    t.close()
    resumed = Trainer(resume_config(t.run_dir), resume=True)
    rates = [g["lr"] for g in resumed.optimizers["generator"].param_groups]
    assert resumed.step == 2 and rates == pytest.approx([LR, 5 * LR])
    resumed.fit()
    assert resumed.step == 4


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ("{g.ctxx: 10.0}", "train.lr_scale.g.ctxx: no parameter of the model is named 'g.ctxx'"),
        ("{g.ctx: 0}", "train.lr_scale.g.ctx: 0.0 must be a number above 0"),
        ("{g.ctx: -2}", "train.lr_scale.g.ctx: -2.0 must be a number above 0"),
        ("{g.ctx: fast}", "train.lr_scale.g.ctx: expected a number, got 'fast'"),
    ],
)
def test_bad_setting_is_one_line_naming_it(tmp_path, setting, message):
    with pytest.raises(ConfigError, match="^" + message.replace(".", r"\.").replace("(", r"\(")):
        _trainer(tmp_path, f"train.lr_scale={setting}")
    assert not any(tmp_path.rglob("*.pt"))  # nothing trained, no checkpoint written
