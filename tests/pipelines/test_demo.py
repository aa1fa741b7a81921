"""reflect demo end to end, with a 4-step model (about 20 s): the README's main job must not rot."""

from __future__ import annotations

import json
from pathlib import Path


def test_demo_writes_a_report(tmp_path: Path) -> None:
    from pipelines.demo import run_demo

    page = run_demo(tmp_path / "demo", steps=4)
    assert page == tmp_path / "demo" / "report.html"
    text = page.read_text()
    assert "SMALL DEMO MODEL" in text and "video_strip.jpg" in text and "roc.png" in text
    assert (tmp_path / "demo" / "cleaned_video" / "checkpoint_cam.mp4").is_file()
    summary = json.loads((tmp_path / "demo" / "demo.json").read_text())
    assert summary["stills"]["errors"] == [] and summary["stills"]["done"] == summary["stills"]["total"] > 0
    sims = summary["identity_similarity"]
    assert 0 < sims["through_glass"] < sims["clean_probes_upper_bound"] <= 1
