"""Multi-domain data: ``ROOT/<split>/<domain>/`` with ``ROOT/domains.yaml`` naming the domains.

``reflect synth --layout multidomain`` writes this layout (clean, sky, foliage, glare,
false_colour, nir). A sample is ``{"image": (3, H, W) in [-1, 1], "domain": index, "domain_mask":
(D,) bool, "path": str}``; a batch holds (B,) domain indices and a (B, D) mask.

``data.domains`` is the training domain set (the model's, in the model's order: the indices
refer to it). Several roots can be mixed (``data.root`` plus ``data.extra_roots``), each labelled
with its own domain set, a subset of ``data.domains``: the mask of a sample marks the domains its
root is labelled with (StarGAN's mask vector), so the classifiers ignore the others for it.

With ``data.kind=toy`` and ``data.domains`` set, procedural windows of each domain are used
(:func:`reflect.data.toy.toy_domain_image`): tests and smoke runs need no files.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
import torch
import yaml
from torch.utils.data import Dataset

from reflect.data.config import DataConfig
from reflect.data.io import list_images, read_image, to_tensor
from reflect.data.toy import toy_domain_image
from reflect.data.transforms import train_transform
from reflect.errors import ConfigError

log = logging.getLogger(__name__)


def read_domains(root: str | Path) -> list[str]:
    """The domain names of ``ROOT/domains.yaml`` (``domains: [clean, sky, ...]`` or a plain list)."""
    path = Path(root) / "domains.yaml"
    if not path.is_file():
        raise ConfigError(
            f"multi-domain data {root} has no domains.yaml (expected {path}; see docs/ARCHITECTURE.md, 'Data on disk')"
        )
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as e:
        raise ConfigError(f"{path} is not valid YAML: {e}") from None
    names = data.get("domains") if isinstance(data, dict) else data
    if not isinstance(names, list) or not names or not all(isinstance(n, str) and n for n in names):
        raise ConfigError(f"{path} must hold 'domains:' with a list of domain names, got {data!r}")
    if len(set(names)) != len(names):
        raise ConfigError(f"{path} names a domain twice: {names}")
    return list(names)


class MultiDomainDataset(Dataset[dict[str, Any]]):
    """Images of several named domains; indexed by stream keys (:class:`~reflect.data.datasets.StreamSampler`)."""

    def __init__(self, cfg: DataConfig, seed: int = 0, split: str = "train") -> None:
        self.cfg, self.seed = cfg, seed
        self.toy = cfg.kind == "toy"
        roots = [] if self.toy else [r for r in (cfg.root, *cfg.extra_roots) if r]
        if not self.toy and not roots:
            raise ConfigError(
                "data.root is empty: give the multi-domain dataset folder (holding domains.yaml)"
            )
        self.domains: list[str] = list(cfg.domains) or (read_domains(roots[0]) if roots else [])
        if len(self.domains) < 2:
            raise ConfigError(f"multi-domain data needs at least two domains, got {self.domains}")
        self.entries: list[tuple[Path, int, int]] = []  # (file, domain index, label-set index)
        self.label_sets: list[torch.Tensor] = []  # (D,) bool per root
        if self.toy:
            n = cfg.max_images or 64
            self.entries = [
                (Path(f"toy/{d}/{i}"), k, 0) for k, d in enumerate(self.domains) for i in range(n)
            ]
            self.label_sets.append(torch.ones(len(self.domains), dtype=torch.bool))
        for r, root in enumerate(roots):
            names = read_domains(root)
            unknown = [n for n in names if n not in self.domains]
            if unknown:
                raise ConfigError(
                    f"{Path(root) / 'domains.yaml'} names {unknown}, not among data.domains {self.domains}"
                )
            self.label_sets.append(torch.tensor([d in names for d in self.domains]))
            for name in names:
                folder = Path(root) / split / name
                if not folder.is_dir():
                    raise ConfigError(
                        f"multi-domain data folder {folder} does not exist (named in domains.yaml)"
                    )
                files = list_images(folder)
                if not files:
                    log.warning("multi-domain data folder %s holds no images", folder)
                files = files[: cfg.max_images] if cfg.max_images else files
                self.entries += [(f, self.domains.index(name), r) for f in files]
        if not self.entries:
            raise ConfigError(f"multi-domain data under {', '.join(roots)} holds no {split} images")
        self.transform = train_transform(cfg.load_size, cfg.crop_size, cfg.flip)

    def __len__(self) -> int:
        return len(self.entries)

    def __getitem__(self, key: int) -> dict[str, Any]:
        path, domain, label_set = self.entries[key % len(self.entries)]
        rng = np.random.default_rng([self.seed, key, 13])
        if self.toy:
            img = toy_domain_image(
                int(path.name), self.domains[domain], size=self.cfg.load_size, seed=self.seed
            )
        else:
            img = read_image(path)
        self.transform.set_random_seed(int(rng.integers(2**31)))
        return {
            "image": to_tensor(self.transform(image=img)["image"]),
            "domain": torch.tensor(domain, dtype=torch.long),
            "domain_mask": self.label_sets[label_set].clone(),
            "path": str(path),
        }
