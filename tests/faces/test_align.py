"""Alignment puts the landmarks on the template, differentiably."""

from __future__ import annotations

import pytest
import torch

from reflect.faces.align import DLIB_CHIP, FACENET_CHIP, align_faces, template_points
from reflect.faces.types import DLIB_5, EYES_NOSE_MOUTH


@pytest.mark.parametrize("layout,spec", [(EYES_NOSE_MOUTH, DLIB_CHIP), (DLIB_5, FACENET_CHIP)])
def test_landmarks_land_on_the_template(layout, spec):
    # a rotated, scaled, shifted template in a 300x260 image, each landmark marked by a bright dot
    tpl = template_points(layout, spec).float()
    angle, scale, shift = 0.3, 1.7, torch.tensor([40.0, 25.0])
    rot = torch.tensor(
        [
            [torch.cos(torch.tensor(angle)), -torch.sin(torch.tensor(angle))],
            [torch.sin(torch.tensor(angle)), torch.cos(torch.tensor(angle))],
        ]
    )
    landmarks = tpl @ rot.T * scale + shift
    image = -torch.ones(1, 3, 260, 300)
    for x, y in landmarks.round().long():
        image[0, :, y - 1 : y + 2, x - 1 : x + 2] = 1.0
    chip = align_faces(image, landmarks[None], layout=layout, spec=spec)
    assert chip.shape == (1, 3, spec.size, spec.size)
    for x, y in tpl.round().long():
        assert chip[0, 0, y, x] > 0.3, (x, y)  # the dot is where the template says
    assert chip[0, 0].mean() < -0.8


def test_alignment_is_differentiable_with_respect_to_the_image():
    image = torch.rand(2, 3, 120, 120, requires_grad=True)
    lm = template_points(EYES_NOSE_MOUTH, DLIB_CHIP).float()[None] * 0.6 + 10
    chips = align_faces(image, lm.repeat(2, 1, 1), torch.tensor([1, 0]))
    chips[0].sum().backward()
    assert image.grad[1].abs().sum() > 0 and image.grad[0].abs().sum() == 0  # face 0 is in image 1


def test_no_faces_gives_an_empty_batch():
    assert align_faces(torch.zeros(1, 3, 32, 32), torch.zeros(0, 5, 2)).shape == (0, 3, 150, 150)
