"""The uint8 <-> [-1, 1] conversion every model input and output goes through."""

import numpy as np
import torch

from reflect.utils.images import to_image, to_pixels, to_tensor, to_uint8, to_unit


def test_to_tensor_scales_and_moves_channels_first() -> None:
    img = np.array([[[0, 255, 51]]], np.uint8)  # (1, 1, 3)
    x = to_tensor(img)
    assert x.shape == (3, 1, 1) and x.dtype == torch.float32
    assert x.flatten().tolist() == [-1.0, 1.0, float(np.float32(51) / np.float32(127.5) - np.float32(1))]


def test_every_byte_survives_the_round_trip_single_and_batched() -> None:
    img = np.arange(256 * 3, dtype=np.int64).reshape(16, 16, 3).astype(np.uint8)
    assert np.array_equal(to_image(to_tensor(img)), img)
    batch = np.stack([img, img[::-1]])  # (2, 16, 16, 3)
    x = to_tensor(batch)
    assert x.shape == (2, 3, 16, 16)
    assert np.array_equal(to_image(x), batch)


def test_to_image_clamps_rounds_and_is_c_contiguous() -> None:
    x = torch.tensor([-2.0, 2.0, 0.0, 0.5, float(1 / 127.5 - 1) + 0.003]).view(1, 5, 1).expand(3, 5, 1)
    out = to_image(x)
    assert out.shape == (5, 1, 3) and out.dtype == np.uint8 and out.flags["C_CONTIGUOUS"]
    assert out[:, 0, 0].tolist() == [0, 255, 128, 191, 1]  # 127.5 -> 128 (half to even), 191.25 -> 191


def test_to_pixels_is_unrounded_and_detached() -> None:
    x = torch.tensor([0.0, 0.5, 3.0], requires_grad=True)
    p = to_pixels(x)
    assert not p.requires_grad
    assert p.tolist() == [127.5, 191.25, 255.0]
    assert to_uint8(x).tolist() == [128, 191, 255] and to_uint8(x).dtype == torch.uint8


def test_to_unit_keeps_the_layout() -> None:
    pixels = torch.tensor([[0, 255], [127, 128]], dtype=torch.uint8)
    assert to_unit(pixels).shape == (2, 2)
    assert torch.equal(to_unit(pixels)[0], torch.tensor([-1.0, 1.0]))


def test_display_floats_become_pixels_clipped_and_rounded_to_nearest():
    from reflect.utils.images import float_to_uint8

    x = np.array([-0.2, 0.0, 0.5 / 255, 0.499 / 255, 0.5, 1.0, 1.7], np.float32)
    assert float_to_uint8(x).tolist() == [0, 0, 1, 0, 128, 255, 255]
    assert float_to_uint8(x).dtype == np.uint8
