"""reflect demo end to end (slow: trains a small model, cleans, evaluates)."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.mark.slow
def test_demo_writes_a_report(tmp_path: Path) -> None:
    from pipelines.demo import run_demo

    page = run_demo(tmp_path / "demo", steps=4)
    assert page == tmp_path / "demo" / "report.html"
    text = page.read_text()
    assert "SMALL DEMO MODEL" in text and "video_strip.jpg" in text and "roc.png" in text
    assert (tmp_path / "demo" / "cleaned_video" / "checkpoint_cam.mp4").is_file()
