"""``losses.graph_zero``: the value of a term with nothing to measure keeps the step's graph."""

import torch
from torch import nn

from reflect import losses


def test_graph_zero_is_zero_with_a_zero_gradient_for_every_parameter() -> None:
    net = nn.Conv2d(3, 3, 3, padding=1)
    out = net(torch.randn(2, 3, 8, 8))
    z = losses.graph_zero(out)
    assert z.shape == () and z.item() == 0.0 and z.requires_grad
    (z + 0.5 * net.weight.sum()).backward()
    assert net.bias.grad is not None and torch.equal(net.bias.grad, torch.zeros(3))
    assert torch.equal(net.weight.grad, torch.full_like(net.weight, 0.5))  # the zero adds nothing


def test_graph_zero_of_an_empty_batch_is_zero_not_nan() -> None:
    assert losses.graph_zero(torch.zeros(0, 3, 4, 4, requires_grad=True)).item() == 0.0
