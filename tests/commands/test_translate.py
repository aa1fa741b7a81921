from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import torch
from PIL import Image

from reflect.checkpoint import load_checkpoint
from reflect.cli import main
from reflect.errors import CheckpointError
from reflect.loader import load_variant


def _run(*args: str, cwd=None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "reflect", *args], capture_output=True, text=True, cwd=cwd, timeout=300
    )


def test_translate_keeps_size_name_and_mode(smoke_run, tmp_path):
    src = tmp_path / "in"
    (src / "sub").mkdir(parents=True)
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 255, (77, 100, 3), dtype=np.uint8)).save(src / "rgb.png")
    Image.fromarray(rng.integers(0, 255, (41, 33), dtype=np.uint8), mode="L").save(src / "sub" / "gray.png")
    Image.fromarray(rng.integers(0, 255, (50, 61, 4), dtype=np.uint8), mode="RGBA").save(src / "rgba.png")
    Image.fromarray(rng.integers(0, 65535, (30, 45), dtype=np.uint16)).save(src / "deep16.png")
    out = tmp_path / "out"
    assert main(["translate", "--checkpoint", str(smoke_run), "--input", str(src), "--output", str(out)]) == 0
    for rel, (h, w) in {
        "rgb.png": (77, 100),
        "sub/gray.png": (41, 33),
        "rgba.png": (50, 61),
        "deep16.png": (30, 45),
    }.items():
        im = Image.open(out / rel)
        assert im.mode == "RGB" and im.size == (w, h), rel


def test_tiled_translation_matches_size_and_is_close_to_whole(smoke_run):
    from reflect.inference import translate_tensor

    variant, _ = load_variant(smoke_run)
    x = torch.rand(1, 3, 90, 130) * 2 - 1
    whole = translate_tensor(variant, x)
    tiled = translate_tensor(variant, x, tile=64, overlap=16)
    assert tiled.shape == whole.shape
    # instance norm makes tiles differ a little from the whole frame, but not wildly
    assert (tiled - whole).abs().mean() < 0.25


def test_work_size_runs_the_model_small_and_keeps_the_images_own_detail():
    """``at_work_size``: the model sees the image at the working size; its correction, scaled back up, is
    added to the full-size image, whose fine texture survives untouched; a small image goes through as is."""
    from reflect.inference import at_work_size

    seen: list[tuple[int, ...]] = []

    def darken(img: np.ndarray) -> np.ndarray:  # a "remover" that takes 40 grey levels away everywhere
        seen.append(img.shape)
        return np.clip(img.astype(np.int16) - 40, 0, 255).astype(np.uint8)

    rng = np.random.default_rng(3)
    big = rng.integers(90, 170, (300, 500, 3), dtype=np.uint8)  # pixel-level texture, nowhere clipped
    out = at_work_size(darken, big, 200)
    assert seen == [(120, 200, 3)] and out.shape == big.shape
    assert np.abs(out.astype(np.int16) - (big.astype(np.int16) - 40)).max() <= 1  # every pixel's detail kept
    small = big[:150, :120]
    assert np.array_equal(at_work_size(darken, small, 200), darken(small)) and seen[-1] == small.shape
    assert np.array_equal(at_work_size(darken, big, 0), darken(big))

    import cv2

    def shade(img: np.ndarray) -> np.ndarray:  # a correction that varies across the image: a light ramp
        ramp = np.linspace(-30, 30, img.shape[0], dtype=np.float32)[:, None, None]
        return np.clip(img + ramp, 0, 255).astype(np.uint8)

    small = cv2.resize(big, (200, 120), interpolation=cv2.INTER_AREA)
    delta = shade(small).astype(np.float32) - small
    want = big + cv2.resize(delta, (500, 300), interpolation=cv2.INTER_LINEAR)
    got = at_work_size(shade, big, 200).astype(np.float32)
    assert np.abs(got - np.clip(want, 0, 255)).max() <= 1.0  # the small correction scaled up, no band seams


def test_translate_at_a_work_size_changes_the_image_smoothly(smoke_run, tmp_path):
    """``reflect translate --work-size``: the output keeps the input's size and its pixel-level texture (what
    the model changed is smooth), where the model run at full size repaints the texture."""
    import cv2

    src = tmp_path / "in"
    src.mkdir()
    rng = np.random.default_rng(4)
    img = rng.integers(60, 200, (192, 256, 3), dtype=np.uint8)
    Image.fromarray(img).save(src / "a.png")
    outs = {}
    for work in ("0", "64"):
        out = tmp_path / f"out{work}"
        args = ["translate", "--checkpoint", str(smoke_run), "--input", str(src), "--output", str(out)]
        assert main([*args, "--work-size", work]) == 0
        outs[work] = np.asarray(Image.open(out / "a.png").convert("RGB")).astype(np.float32)
    assert outs["64"].shape == img.shape

    def texture(change: np.ndarray) -> float:  # high-frequency energy of what the model changed
        return float(np.abs(cv2.Laplacian(change, cv2.CV_32F)).mean())

    full, small = texture(outs["0"] - img), texture(outs["64"] - img)
    assert small < 0.2 * full, (small, full)


def test_truncated_jpeg_exits_nonzero_naming_the_file(smoke_run, tmp_path):
    good = tmp_path / "face.jpg"
    Image.fromarray(np.full((64, 64, 3), 128, np.uint8)).save(good, quality=90)
    bad = tmp_path / "broken.jpg"
    bad.write_bytes(good.read_bytes()[:200])
    res = _run(
        "translate", "--checkpoint", str(smoke_run), "--input", str(bad), "--output", str(tmp_path / "o")
    )
    assert res.returncode != 0
    lines = [ln for ln in res.stderr.strip().splitlines() if ln and not ln.startswith("INFO: model: ")]
    assert len(lines) == 1 and "broken.jpg" in lines[0], res.stderr


def test_folder_with_one_corrupt_file_translates_the_rest(smoke_run, tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    Image.fromarray(np.zeros((32, 32, 3), np.uint8)).save(src / "a.png")
    (src / "empty.png").write_bytes(b"")
    rc = main(
        ["translate", "--checkpoint", str(smoke_run), "--input", str(src), "--output", str(tmp_path / "o")]
    )
    assert rc == 2
    assert (tmp_path / "o" / "a.png").is_file()
    assert not (tmp_path / "o" / "empty.png").exists()


def test_pickled_object_in_checkpoint_is_refused(smoke_run, tmp_path):
    ckpt = load_checkpoint(smoke_run)
    ckpt["evil"] = _Payload()
    path = tmp_path / "evil.pt"
    torch.save(ckpt, path)
    with pytest.raises(CheckpointError, match="evil.pt was refused: it needs pickle"):
        load_checkpoint(path)
    with pytest.raises(CheckpointError, match="evil.pt"):
        load_variant(path)


class _Payload:
    def __reduce__(self):  # would run a command if unpickled without weights_only
        return (print, ("pwned",))


def test_foreign_truncated_and_empty_checkpoints(smoke_run, tmp_path):
    plain = tmp_path / "plain.pt"
    torch.save({"weights": torch.zeros(3)}, plain)
    with pytest.raises(CheckpointError, match="plain.pt is not a reflect checkpoint"):
        load_checkpoint(plain)
    data = (sorted((smoke_run / "checkpoints").glob("*.pt"))[-1]).read_bytes()
    cut = tmp_path / "cut.pt"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="cut.pt is corrupt or truncated"):
        load_checkpoint(cut)
    empty = tmp_path / "empty.pt"
    empty.write_bytes(b"")
    with pytest.raises(CheckpointError, match="empty.pt is empty"):
        load_checkpoint(empty)


def test_resume_with_other_variant_checkpoint_is_refused(smoke_run, tmp_path):
    from reflect.train import resume_config

    with pytest.raises(CheckpointError, match="no config.yaml"):
        resume_config(tmp_path)
