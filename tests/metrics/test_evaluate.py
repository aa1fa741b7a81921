from __future__ import annotations

import json

import numpy as np
import pytest

from reflect.cli import main
from reflect.data.io import read_image, write_image
from reflect.metrics import psnr, ssim


def test_psnr_and_ssim_order_degradations():
    rng = np.random.default_rng(0)
    ref = rng.integers(0, 255, (48, 40, 3), dtype=np.uint8)
    mild = np.clip(ref + rng.normal(0, 5, ref.shape), 0, 255).astype(np.uint8)
    strong = np.clip(ref + rng.normal(0, 30, ref.shape), 0, 255).astype(np.uint8)
    assert psnr(ref, ref) == float("inf") and ssim(ref, ref) == pytest.approx(1.0)
    assert psnr(mild, ref) > psnr(strong, ref) > 0
    assert 1.0 > ssim(mild, ref) > ssim(strong, ref)
    with pytest.raises(ValueError, match="equal shapes"):
        psnr(ref[:10], ref)


def test_evaluate_reports_input_and_output_quality(smoke_run, tmp_path, capsys):
    rng = np.random.default_rng(1)
    root = tmp_path / "pairs"
    for i in range(3):
        target = rng.integers(0, 255, (36, 44, 3), dtype=np.uint8)
        glass = np.clip(target.astype(int) + 60, 0, 255).astype(np.uint8)
        write_image(root / "test" / "target" / f"{i}.png", target)
        write_image(root / "test" / "input" / f"{i}.png", glass)
    (root / "test" / "input" / "broken.png").write_bytes(b"junk")
    out = tmp_path / "ev.json"
    assert main(["evaluate", "--checkpoint", str(smoke_run), "--data", str(root), "--json", str(out)]) == 0
    res = json.loads(out.read_text())
    assert res["summary"]["all"]["n"] == 3  # the broken pair is skipped and logged
    row = res["per_image"][0]
    t, x = read_image(root / "test" / "target" / "0.png"), read_image(root / "test" / "input" / "0.png")
    assert row["psnr_in"] == pytest.approx(psnr(x, t))
    assert np.isfinite(row["psnr_out"]) and 0 < row["ssim_out"] <= 1
    assert "psnr_out" in capsys.readouterr().out


def test_evaluate_needs_a_paired_dataset(smoke_run, tmp_path):
    assert main(["evaluate", "--checkpoint", str(smoke_run), "--data", str(tmp_path)]) == 2


def test_identity_similarity_separates_same_and_different_faces(faces_dir):
    from reflect.metrics.identity import IdentityScorer

    face = read_image(faces_dir / "obama.jpg")
    other = read_image(faces_dir / "biden.jpg")
    import cv2

    other = cv2.resize(other, (face.shape[1], face.shape[0]))
    scorer = IdentityScorer()
    sims = scorer.score(face, {"same": face, "other": other})
    assert sims is not None
    assert sims["same"] > 0.999 and sims["other"] < sims["same"] - 0.05
