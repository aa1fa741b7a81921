"""The label-free losses: composition judges what the layers form does not enforce; re-synthesis
adds a reflection through the synthesiser's glass models."""

from __future__ import annotations

import torch

from reflect.data.synth.blends import BLEND_PARAMS
from reflect.losses.adaptation import composition, resynthesise


def test_composition_is_zero_for_the_identity_and_penalises_a_reflection_brighter_than_the_input():
    x = torch.rand(2, 3, 16, 16) * 2 - 1
    zero_r = torch.zeros_like(x)
    assert float(composition(x, x, zero_r, None)) == 0.0
    too_bright = torch.full_like(x, 2.0)  # R = 1 in [0, 1] units, more than any input pixel holds
    assert float(composition(x, x, too_bright, None)) > 0.2
    assert float(composition(x, x * 1.5, zero_r, None)) > 0.0  # T outside [0, 1], detail unexplained


def test_resynthesis_adds_light_and_gains_darken():
    t0 = torch.full((3, 3, 32, 32), -0.5)  # a dark cabin
    layer = torch.full((3, 3, 32, 32), 0.9)  # a bright reflected scene
    params = torch.zeros(3, BLEND_PARAMS)
    params[:, 0] = torch.tensor([0.0, 1.0, 2.0])  # linear, screen, gains
    params[:, 1], params[:, 2] = 0.4, 2.0
    params[2, 3:6], params[2, 6:9] = 0.5, 0.0  # gains: half the transmission, no reflection
    x = resynthesise(t0, layer, params)
    assert x.shape == t0.shape and x.min() >= -1 and x.max() <= 1
    assert float(x[0].mean()) > -0.5 and float(x[1].mean()) > -0.5
    assert float(x[2].mean()) < -0.5
