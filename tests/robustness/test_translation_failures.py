"""A translation that fails for one input gives up that input only: out of memory is 'failed' and a plain
resume retries it; any other failure is that input's 'error'. The other inputs of its batch are done."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from deploy.loader import load_translator
from pipelines.batch_clean.runner import CleanOptions, job_paths, run_clean
from tests.robustness.bad_inputs import snapshot

POISON = {
    77: RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB"),
    99: ValueError("NaN in the output"),
}


class Flaky:
    """A translator that fails on crops of one constant grey level (the other crops of a batch are fine)."""

    def __init__(self, inner: Any, fail: bool = True) -> None:
        self.inner, self.fail = inner, fail
        self.deterministic = True

    def translate(self, crops: np.ndarray) -> np.ndarray:
        for c in crops:
            level = int(c[0, 0, 0])
            if self.fail and level in POISON and (c == level).all():
                raise POISON[level]
        out: np.ndarray = self.inner.translate(crops)
        return out


def _status(out: Path) -> dict[str, tuple[str, str]]:
    with sqlite3.connect(job_paths(out)[0]) as db:
        return {r: (s, e or "") for r, s, e in db.execute("SELECT rel, status, error FROM items")}


def test_one_failing_translation_gives_up_that_input_only(smoke_run: Path, tmp_path: Path) -> None:
    src = tmp_path / "in"
    src.mkdir()
    rng = np.random.default_rng(2)
    for i in range(5):
        Image.fromarray(rng.integers(0, 255, (32, 32, 3), dtype=np.uint8)).save(src / f"ok{i}.png")
    for level in POISON:
        Image.fromarray(np.full((32, 32, 3), level, np.uint8)).save(src / f"grey{level}.png")
    before = snapshot(src)
    inner = load_translator(str(smoke_run))
    out = tmp_path / "out"
    opts = CleanOptions(str(smoke_run), str(src), str(out), progress=False, workers=1, batch=4)
    summary = run_clean(opts, translator=Flaky(inner))
    rows = _status(out)
    assert rows["grey77.png"][0] == "failed" and "out of memory" in rows["grey77.png"][1]
    assert rows["grey99.png"][0] == "error" and "NaN in the output" in rows["grey99.png"][1]
    assert all(rows[f"ok{i}.png"][0] == "done" for i in range(5))
    assert summary.done == 5 and [r for r, _ in summary.failed] == ["grey77.png"]

    resumed = run_clean(opts, translator=Flaky(inner, fail=False))  # memory freed: a plain resume
    assert resumed.done == 6 and not resumed.failed
    assert _status(out)["grey99.png"][0] == "error"  # bad input stays given up without --retry-errors
    assert snapshot(src) == before
