"""reflect demo end to end: the README's main job must not rot.

One demo run (the default a user gets: clean with the bundled generator file, no training) serves
the tests below. Where the real bundled file is missing (a checkout made before the model was
trained), a tiny random generator file stands in for it, so the pipeline and the report are still
tested; only the quality assertion, which needs the trained model, is then skipped, saying why.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest

from tests.bundled.tiny import tiny_generator_file, use_as_bundled


def _real_bundled_model() -> Path | None:
    import reflect.bundled

    path = reflect.bundled.BUNDLED_DIR / reflect.bundled.BUNDLED_NAME
    return path if path.is_file() else None


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    from pipelines.demo import run_demo

    tmp = tmp_path_factory.mktemp("demo")
    real = _real_bundled_model()
    mp = pytest.MonkeyPatch()
    try:
        model = real or use_as_bundled(mp, tiny_generator_file(tmp / "stand-in-remover.safetensors"))
        page = run_demo(tmp / "demo")
    finally:
        mp.undo()
    summary = json.loads((tmp / "demo" / "demo.json").read_text())
    return {"page": page, "root": tmp / "demo", "model": model, "real": real is not None, "summary": summary}


def test_report_names_the_bundled_model_and_shows_before_and_after(demo: dict[str, Any]) -> None:
    root, page, summary = demo["root"], demo["page"], demo["summary"]
    assert page == root / "report.html"
    text = page.read_text()
    assert f"Cleaned by the bundled model {demo['model'].name} (variant " in text
    assert (
        summary["models"]["bundled"]["name"] == demo["model"].name and "demo_model" not in summary["models"]
    )
    if demo["real"]:
        assert "never saw the demo identities" in text
    assert "PSNR vs the clean window" in text and "identity similarity" in text and "rank-1" in text
    for image in ("roc.png", "video_strip.jpg", "images/side_by_side.jpg"):
        assert image in text and (root / image).is_file()
    assert (root / "cleaned" / "bundled" / "video" / "checkpoint_cam.mp4").is_file()
    job = summary["clean_jobs"]["bundled"]
    assert job["errors"] == [] and job["done"] == job["total"] == 3 * 6 + 1  # 18 stills and the video
    head = summary["headline"]
    assert list(head) == ["through_glass", "bundled", "clean_probes"]
    for key in ("psnr_vs_clean", "psnr_face_vs_clean", "psnr_vs_no_reflection"):
        assert math.isfinite(head["through_glass"][key]) and math.isfinite(head["bundled"][key])
    sims = summary["identity_similarity"]
    assert 0 < sims["through_glass"] < sims["clean_probes_upper_bound"] <= 1
    assert head["clean_probes"]["detection_rate"] == 1.0  # the clean windows are easy: the test set is sound


def test_cleaning_with_the_bundled_model_raises_psnr(demo: dict[str, Any]) -> None:
    if not demo["real"]:
        pytest.skip(
            "the real bundled model reflect/bundled/reflect-remover.safetensors is not in this checkout "
            "(a random stand-in cleaned instead; it cannot be expected to remove reflections)"
        )
    head = demo["summary"]["headline"]
    assert head["bundled"]["psnr_vs_clean"] > head["through_glass"]["psnr_vs_clean"]


def test_headline_puts_the_demo_model_beside_the_bundled_one() -> None:
    from pipelines.demo import _headline_html

    models = {
        "bundled": {
            "name": "reflect-remover.safetensors",
            "bundled": True,
            "variant": "remover",
            "step": "4000",
            "ema": True,
            "training_faces": {"folders": ["../shared/data/portraits"], "split": "train"},
        },
        "demo_model": {
            "name": "step_000000600.pt",
            "bundled": False,
            "variant": "cyclegan",
            "step": "600",
            "ema": True,
            "training_faces": None,
        },
    }
    row = {
        "detection_rate": 0.5,
        "identity_similarity": 0.9,
        "rank1": 0.6,
        "eer": 0.2,
        "tar_at_far_0.1": 0.7,
        "psnr_vs_clean": 10.0,
        "psnr_face_vs_clean": 11.0,
        "psnr_vs_no_reflection": 12.0,
    }
    text = _headline_html(
        models, {"through_glass": row, "bundled": row, "demo_model": row, "clean_probes": row}
    )
    assert (
        text.index("through the glass")
        < text.index("cleaned: reflect-remover.safetensors")
        < text.index("cleaned: small demo model")
        < text.index("no glass (upper bound)")
    )
    assert "home advantage" in text


@pytest.mark.slow
def test_demo_with_the_small_demo_model(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``--train-demo-model``: trains the small model too and reports both (slow: a second demo run)."""
    from pipelines.demo import run_demo

    use_as_bundled(monkeypatch, tiny_generator_file(tmp_path / "stand-in-remover.safetensors"))
    page = run_demo(tmp_path / "demo", steps=4, train_demo_model=True)
    summary = json.loads((tmp_path / "demo" / "demo.json").read_text())
    assert list(summary["headline"]) == ["through_glass", "bundled", "demo_model", "clean_probes"]
    assert all(j["errors"] == [] and j["done"] == j["total"] for j in summary["clean_jobs"].values())
    assert "cleaned: small demo model" in page.read_text()
    assert (tmp_path / "demo" / "cleaned" / "demo_model" / "video" / "checkpoint_cam.mp4").is_file()
