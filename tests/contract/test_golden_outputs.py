"""Golden outputs: a few numbers of each variant's translation at a fixed seed.

A change to a network, an initialiser, a padding rule or a default that alters what a freshly built
model computes fails here, on purpose or not. The model is the variant's tiny spec (tests/specs.py)
built after ``torch.manual_seed(0)``, with its zero-initialised layers (identity starts) given seeded
noise so that every layer shows in the output; the input is a fixed 1x3x32x32 image; the output is
what ``export_module()`` (the deployed graph's forward) returns. When a change is meant, regenerate
the file and commit it with the change, saying why the numbers moved::

    OMP_NUM_THREADS=1 .venv/bin/python -m tests.contract.test_golden_outputs

(writes tests/contract/golden_outputs.json for every registered variant).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from reflect import registry
from tests.specs import tiny_variant

GOLDEN = Path(__file__).with_name("golden_outputs.json")
RTOL, ATOL = 1e-4, 1e-5  # float32 arithmetic in another order (another CPU, torch build) stays well inside


def outputs(name: str) -> dict[str, list[float]]:
    """``row``: output[0, :, 16, 8:12] (12 numbers); ``stats``: mean and mean |y| of the whole output."""
    variant = tiny_variant(name, seed=0).eval()
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for p in variant.parameters():
            if not p.any():  # an identity start: nothing of the network would show
                p.copy_(torch.randn(p.shape, generator=gen) * 0.02)
        x = torch.rand(1, 3, 32, 32, generator=gen) * 2 - 1
        y = variant.export_module(None)(x)
    return {"row": y[0, :, 16, 8:12].flatten().tolist(), "stats": [float(y.mean()), float(y.abs().mean())]}


def load_golden() -> dict[str, dict[str, list[float]]]:
    return json.loads(GOLDEN.read_text())


def test_every_variant_has_golden_outputs() -> None:
    assert sorted(load_golden()) == registry.names(), (
        f"{GOLDEN.name} does not list every registered variant; regenerate it (see {Path(__file__).name})"
    )


@pytest.mark.parametrize("name", registry.names())
def test_translate_matches_the_golden_outputs(name: str) -> None:
    want = load_golden().get(name)
    if want is None:
        pytest.fail(f"{name} has no golden outputs; regenerate {GOLDEN.name} (see {Path(__file__).name})")
    got = outputs(name)
    for key in ("row", "stats"):
        a, b = torch.tensor(got[key]), torch.tensor(want[key])
        assert torch.allclose(a, b, rtol=RTOL, atol=ATOL), (
            f"{name}: translate's {key} moved by up to {float((a - b).abs().max()):.2e} from the golden outputs "
            f"(got {[float(f'{v:.8g}') for v in got[key]]}); if the change is meant, regenerate {GOLDEN.name}"
        )


def write_golden() -> None:
    torch.set_num_threads(1)
    names = registry.names()
    rows = [
        f"  {json.dumps(name)}: {json.dumps({k: [float(f'{v:.8g}') for v in vs] for k, vs in outputs(name).items()})}"
        for name in names
    ]
    GOLDEN.write_text("{\n" + ",\n".join(rows) + "\n}\n")
    print(f"wrote {GOLDEN} ({len(names)} variants)")


if __name__ == "__main__":
    write_golden()
