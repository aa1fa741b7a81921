"""StarGAN specifics: no running statistics anywhere, so train and eval mode translate alike."""

from __future__ import annotations

import torch

from reflect.variants.stargan import StarGAN, StarGANConfig


def test_output_is_the_same_in_train_and_eval_mode() -> None:
    torch.manual_seed(0)
    model = StarGAN(StarGANConfig(ngf=8, ndf=8, n_blocks=2))
    with torch.no_grad():  # move the affine norm parameters away from their (1, 0) start
        for m in model.modules():
            if isinstance(m, torch.nn.InstanceNorm2d):
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.5, 0.5)
    assert not [n for n, _ in model.named_buffers() if "running" in n]
    x = torch.rand(2, 3, 37, 45) * 2 - 1
    with torch.no_grad():
        train = model.train().translate(x, target="glare")
        train_again = model.translate(x, target="glare")
        evaluated = model.eval().translate(x, target="glare")
    assert torch.equal(train, train_again)
    assert torch.equal(train, evaluated)


def test_discriminator_heads_work_at_any_size() -> None:
    model = StarGAN(StarGANConfig(ngf=8, ndf=8, n_blocks=1))
    for h, w in ((96, 96), (160, 128), (64, 112)):  # 6 stride-2 layers: 64 px and up
        src, cls = model.d(torch.zeros(3, 3, h, w))
        assert src.shape[:2] == (3, 1) and cls.shape == (3, 6)
