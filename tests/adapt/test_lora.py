"""Low-rank adapters: they start as the identity, merge into a plain remover exactly, stay small.

The ``adapt`` variant is imported inside the tests, not at collection: importing it registers it, and
the contract suite (collected after this folder) lists the registered variants when it is collected.
"""

from __future__ import annotations

import torch

from reflect.generator_file import load_generator
from reflect.nn.lora import LoRAConv2d, adapter_state, add_lora, merge_lora


def adapt_variant(base, **cfg: object):  # type: ignore[no-untyped-def]
    """A tiny adapt variant of the base remover's architecture, started from its weights."""
    from reflect.variants.adapt import Adapt, AdaptConfig

    m = base.cfg
    variant = Adapt(
        AdaptConfig(
            ngf=m.ngf,
            n_bottleneck=m.n_bottleneck,
            n_refine=m.n_refine,
            n_context=m.n_context,
            output=m.output,
            lambda_identity=0.0,
            **cfg,
        )
    )  # type: ignore[arg-type]
    missing, unexpected = variant.g.load_state_dict(base.g.state_dict(), strict=False)
    assert not unexpected and all(".lora_" in k for k in missing)
    return variant.eval()


def images(seed: int, n: int = 2, h: int = 64, w: int = 48) -> torch.Tensor:
    return torch.rand(n, 3, h, w, generator=torch.Generator().manual_seed(seed)) * 2 - 1


def test_the_adapted_model_before_any_step_is_the_base(tiny_remover):
    base, _ = load_generator(tiny_remover)
    variant = adapt_variant(base)
    x = images(0)
    with torch.no_grad():
        assert torch.equal(variant.translate(x), base.translate(x))
    # only the adapters train
    trainable = [n for n, p in variant.g.named_parameters() if p.requires_grad]
    assert trainable and all(".lora_" in n for n in trainable)


def test_merged_adapters_give_the_unmerged_outputs(tiny_remover):
    base, _ = load_generator(tiny_remover)
    variant = adapt_variant(base, adapter_rank=3)
    torch.manual_seed(1)
    with torch.no_grad():
        for m in variant.g.modules():
            if isinstance(m, LoRAConv2d):
                m.lora_b.weight.normal_(0.0, 0.05)
    plain = type(base)(base.cfg).eval()
    plain.g.load_state_dict(variant.merged_generator_state())  # strict: a plain remover's keys
    x = images(2)
    with torch.no_grad():
        adapted, merged, before = variant.translate(x), plain.translate(x), base.translate(x)
    assert not torch.allclose(adapted, before, atol=1e-3)  # the adapters do something
    torch.testing.assert_close(merged, adapted, atol=1e-5, rtol=0)


def test_lora_merge_of_one_convolution_is_exact_for_any_geometry():
    torch.manual_seed(0)
    net = torch.nn.Sequential(
        torch.nn.Conv2d(5, 7, 3, padding=2, dilation=2), torch.nn.Conv2d(7, 4, 1, stride=2)
    )
    add_lora(net, ("0", "1"), rank=2, alpha=4.0)
    for m in net.modules():
        if isinstance(m, LoRAConv2d):
            torch.nn.init.normal_(m.lora_b.weight)
    x = torch.randn(2, 5, 9, 11)
    with torch.no_grad():
        before = net(x)
        keys = set(adapter_state(net.state_dict()))
        merge_lora(net)
        torch.testing.assert_close(net(x), before, atol=1e-5, rtol=1e-5)
    assert keys == {"0.lora_a.weight", "0.lora_b.weight", "1.lora_a.weight", "1.lora_b.weight"}
    assert not any(isinstance(m, LoRAConv2d) for m in net.modules())
