"""Multi-domain data: ROOT/<split>/<domain>/ + domains.yaml, domain indices and the mask vector."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from PIL import Image

from reflect.config import DataConfig, apply_overrides, build_config
from reflect.data.multidomain import MultiDomainDataset
from reflect.errors import ConfigError
from reflect.losses import domain_confusion, domain_cross_entropy

DOMAINS = ["clean", "sky", "glare"]


def make_root(root: Path, domains: list[str], per_domain: int = 2) -> Path:
    rng = np.random.default_rng(0)
    for d in domains:
        (root / "train" / d).mkdir(parents=True)
        for i in range(per_domain):
            Image.fromarray(rng.integers(0, 255, (40, 48, 3), dtype=np.uint8)).save(
                root / "train" / d / f"{i}.png"
            )
    (root / "domains.yaml").write_text(yaml.safe_dump({"domains": domains}))
    return root


def data_cfg(root: Path, extra: list[Path] = ()) -> DataConfig:  # type: ignore[assignment]
    return DataConfig(
        kind="multidomain",
        root=str(root),
        extra_roots=[str(e) for e in extra],
        load_size=32,
        crop_size=32,
        domains=list(DOMAINS),
    )


def test_labels_are_domain_indices_and_masks_mark_each_roots_label_set(tmp_path: Path) -> None:
    full = make_root(tmp_path / "full", DOMAINS)
    partial = make_root(tmp_path / "partial", ["glare", "clean"])  # labelled with another domain set
    ds = MultiDomainDataset(data_cfg(full, [partial]))
    assert len(ds) == 10
    seen = set()
    for key in range(len(ds)):
        s = ds[key]
        domain = Path(s["path"]).parent.name
        assert s["image"].shape == (3, 32, 32) and s["image"].min() >= -1 and s["image"].max() <= 1
        assert int(s["domain"]) == DOMAINS.index(domain)
        expect = [True, True, True] if "full" in s["path"] else [True, False, True]
        assert s["domain_mask"].tolist() == expect
        seen.add((domain, "full" in s["path"]))
    assert len(seen) == 5


def test_missing_or_foreign_domains_are_one_clear_error(tmp_path: Path) -> None:
    root = make_root(tmp_path / "r", DOMAINS)
    (root / "domains.yaml").unlink()
    with pytest.raises(ConfigError, match="has no domains.yaml"):
        MultiDomainDataset(data_cfg(root))
    other = make_root(tmp_path / "o", ["clean", "rain"])
    with pytest.raises(ConfigError, match=r"names \['rain'\], not among data.domains"):
        MultiDomainDataset(data_cfg(other))


def test_config_ties_data_domains_to_the_model(tmp_path: Path) -> None:
    base = {"model": {"variant": "stargan", "domains": DOMAINS}, "data": {"kind": "toy"}}
    assert build_config(base).data.domains == DOMAINS  # filled from the model: the indices are the model's
    with pytest.raises(ConfigError, match="must equal model.domains"):
        build_config(apply_overrides(dict(base), ["data.domains=[sky, clean, glare]"]))
    with pytest.raises(ConfigError, match="needs? a multi-domain variant"):
        build_config({"model": {"variant": "cyclegan"}, "data": {"kind": "multidomain"}})
    with pytest.raises(ConfigError, match="default_target 'nir' is not one of"):
        build_config({"model": {"variant": "stargan", "domains": DOMAINS, "default_target": "nir"}})


def test_masked_classification_ignores_domains_a_sample_is_not_labelled_with() -> None:
    logits = torch.randn(2, 3, requires_grad=True)
    target = torch.tensor([0, 2])
    mask = torch.tensor([[True, False, True], [True, False, True]])
    loss = domain_cross_entropy(logits, target, mask)
    changed = logits.detach().clone()
    changed[:, 1] += 50.0  # a domain outside the label set: no effect
    assert torch.allclose(domain_cross_entropy(changed, target, mask), loss)
    assert not torch.allclose(domain_cross_entropy(changed, target), domain_cross_entropy(logits, target))
    loss.backward()
    assert logits.grad is not None and torch.all(logits.grad[:, 1] == 0)
    # confusion is lowest (log 2 for two allowed domains) when they cannot be told apart
    flat = torch.zeros(2, 3)
    assert torch.isclose(domain_confusion(flat, mask), torch.log(torch.tensor(2.0)))
    assert domain_confusion(torch.tensor([[5.0, 0.0, -5.0]] * 2), mask) > domain_confusion(flat, mask)
