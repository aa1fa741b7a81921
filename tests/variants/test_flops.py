"""Parameter and MAC counting (reflect.utils.flops)."""

from __future__ import annotations

import torch
from torch import nn

from reflect.utils.flops import count_flops, count_macs, count_params


def test_macs_of_a_conv_and_a_linear() -> None:
    conv = nn.Conv2d(3, 8, 3, padding=1)
    assert count_macs(conv, torch.zeros(2, 3, 10, 12)) == 2 * 3 * 8 * 9 * 10 * 12
    assert count_macs(nn.Linear(5, 7), torch.zeros(4, 5)) == 4 * 5 * 7


def test_shared_parameters_are_counted_once() -> None:
    conv = nn.Conv2d(3, 8, 3)
    assert count_params(conv, nn.Sequential(conv)) == 3 * 8 * 9 + 8
    frozen = nn.Linear(2, 2).requires_grad_(False)
    assert count_params(frozen, trainable_only=True) == 0


def test_flops_of_a_training_step_count_its_backward() -> None:
    lin, x = nn.Linear(5, 7), torch.zeros(4, 5)
    forward = 2 * 4 * 5 * 7
    assert count_flops(lambda: lin(x)) == forward  # no_grad by default: nothing to differentiate
    # forward and the weight's gradient (x needs none); under no_grad the backward could not run
    assert count_flops(lambda: lin(x).sum().backward(), grad=True) == 2 * forward
    assert lin.weight.grad is not None
