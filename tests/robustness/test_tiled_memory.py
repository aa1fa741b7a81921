"""Tiled translation holds one row of tiles, not the frame, in floats: its working memory beyond the
uint8 input and output stays within the tile budget whatever the frame's size (a 9000x9000 frame with
--memory-mb 200 peaked at 5 GB), and its output is the whole-frame blend's (to float rounding: the
normaliser is a product of row and column sums instead of a sum of products).
"""

from __future__ import annotations

import tracemalloc
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from reflect.inference import _ramp_np, _starts, translate_tiled


def _fake_model(piece: np.ndarray) -> np.ndarray:
    """Depends on the piece's own pixels and position in it, as a network does: tiles blend visibly if wrong."""
    h, w = piece.shape[:2]
    ramp = (np.arange(h)[:, None] + np.arange(w)[None, :]) % 7
    return np.clip(255 - piece.astype(np.int16) + ramp[..., None], 0, 255).astype(np.uint8)


def _whole_frame_blend(image: np.ndarray, tile: int, overlap: int) -> np.ndarray:
    """The reference: one float accumulator of the whole frame (what the tiled paths did before)."""
    h, w = image.shape[:2]
    acc = np.zeros((h, w, 3), np.float32)
    norm = np.zeros((h, w, 1), np.float32)
    for y0 in _starts(h, tile, tile - overlap):
        for x0 in _starts(w, tile, tile - overlap):
            piece = image[y0 : y0 + tile, x0 : x0 + tile]
            th, tw = piece.shape[:2]
            weight = (
                _ramp_np(th, overlap if h > tile else 0)[:, None]
                * _ramp_np(tw, overlap if w > tile else 0)[None]
            )
            acc[y0 : y0 + th, x0 : x0 + tw] += _fake_model(piece).astype(np.float32) * weight[..., None]
            norm[y0 : y0 + th, x0 : x0 + tw] += weight[..., None]
    return np.clip(acc / np.maximum(norm, 1e-8) + 0.5, 0, 255).astype(np.uint8)


@pytest.mark.parametrize(
    ("h", "w", "tile", "overlap"),
    [(100, 130, 32, 8), (40, 300, 64, 16), (300, 40, 64, 16), (77, 91, 40, 10), (30, 30, 64, 16)],
)
def test_tiled_output_is_the_whole_frame_blend(h: int, w: int, tile: int, overlap: int) -> None:
    image = np.random.default_rng(h * w).integers(0, 255, (h, w, 3), dtype=np.uint8)
    got, want = translate_tiled(_fake_model, image, tile, overlap), _whole_frame_blend(image, tile, overlap)
    diff = np.abs(got.astype(np.int16) - want)
    assert diff.max() <= 1 and (diff > 0).mean() < 0.01  # a pixel at exactly .5 may round the other way


def test_auto_tile_counts_the_row_buffer_in_the_budget() -> None:
    from reflect.inference import BAND_BYTES_PER_PIXEL, auto_tile, budget_pixels

    bpp, width = 96.0, 9000
    budget = budget_pixels(200, bpp)
    tile, overlap = auto_tile(9000, width, budget, bpp)
    assert tile % 8 == 0 and overlap == 32
    used = tile * tile * bpp + BAND_BYTES_PER_PIXEL * tile * width
    assert 0.9 * 200 * 2**20 < used <= 200 * 2**20  # the model's tile and the row of tiles share the budget
    assert auto_tile(9000, width, budget)[0] > tile  # without the model's bytes: the tile alone


def _working_memory(height: int) -> tuple[int, int]:
    """Peak bytes translate_tiled allocates besides its output, for a height x 1600 frame; and the frame's bytes."""
    image = np.random.default_rng(0).integers(0, 255, (height, 1600, 3), dtype=np.uint8)
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        out = translate_tiled(_fake_model, image, tile=128, overlap=32)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak - out.nbytes, image.nbytes


def test_tiled_working_memory_does_not_grow_with_the_frame() -> None:
    small, _ = _working_memory(600)
    large, frame = _working_memory(4800)  # 22 MB: a whole-frame float accumulator alone would be 88 MB
    assert large < 1.2 * small + 2**20, (
        f"{small / 2**20:.1f} MiB at 600 rows, {large / 2**20:.1f} MiB at 4800"
    )
    assert large < 0.5 * frame  # one row of tiles (128 x 1600 px) in floats, and one tile's translation


def test_max_pixels_is_the_decompression_bomb_limit(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from reflect.cli import main
    from reflect.data.io import DEFAULT_MAX_PIXELS
    from tests.bundled.tiny import tiny_generator_file

    assert DEFAULT_MAX_PIXELS >= 108_000_000  # a 108 Mpx camera photo is not a bomb
    model = tiny_generator_file(tmp_path / "tiny.safetensors")
    src = tmp_path / "in"
    src.mkdir()
    Image.fromarray(np.zeros((64, 80, 3), np.uint8)).save(src / "a.png")  # 5120 px
    args = [
        "translate",
        "--checkpoint",
        str(model),
        "--input",
        str(src / "a.png"),
        "--output",
        str(tmp_path / "o"),
    ]
    assert main([*args, "--max-pixels", "4000"]) == 2
    err = capsys.readouterr().err
    assert "5120 pixels, more than --max-pixels 4000" in err and "pass a larger --max-pixels" in err
    assert main([*args, "--max-pixels", "6000"]) == 0
