"""Datasets and the resumable sampler.

Every sample is a pure function of ``(seed, key)``: the key carries the epoch and the position,
the random B partner and the augmentation are seeded from it. That makes data order independent
of worker count and lets training resume mid-epoch exactly (:class:`StreamSampler`).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Sampler

from reflect.data.config import DataConfig
from reflect.data.io import folder_images, read_image, to_tensor
from reflect.data.toy import MAX_FACES, toy_face_boxes, toy_image, toy_pair
from reflect.data.transforms import train_transform
from reflect.errors import ConfigError, ImageReadError

log = logging.getLogger(__name__)


class StreamSampler(Sampler[int]):
    """An endless stream of sample keys ``epoch * n + perm_epoch[i]``.

    Position ``q`` of the stream is fixed by ``(seed, q)``; ``start`` skips to a position without
    touching the skipped samples, and ``rank``/``world`` stripe positions across DDP workers.
    """

    def __init__(self, n: int, seed: int, start: int = 0, rank: int = 0, world: int = 1) -> None:
        if n <= 0:
            raise ConfigError("the training set is empty")
        self.n, self.seed, self.start, self.rank, self.world = n, seed, start, rank, world

    def _perm(self, epoch: int) -> np.ndarray:
        return np.random.default_rng([self.seed, epoch, 7]).permutation(self.n)

    def __iter__(self) -> Iterator[int]:
        q = self.start * self.world + self.rank
        epoch, perm = -1, np.empty(0, dtype=np.int64)
        while True:
            e = q // self.n
            if e != epoch:
                epoch, perm = e, self._perm(e)
            yield int(e * self.n + perm[q % self.n])
            q += self.world


def _files(folder: Path, max_images: int) -> list[Path]:
    files = folder_images(folder, "data folder")
    return files[:max_images] if max_images else files


class UnpairedDataset(Dataset[dict[str, Any]]):
    """``ROOT/{split}A`` and ``ROOT/{split}B`` (the CycleGAN layout); A = reflections, B = clean.

    Indexed by stream keys (see :class:`StreamSampler`); plain indices 0..len-1 work too.
    Optionally mixes synthetic pairs (``paired_root/{split}/input`` + ``target``) into A.
    """

    def __init__(self, cfg: DataConfig, seed: int = 0, split: str = "train") -> None:
        self.cfg, self.seed = cfg, seed
        self.toy = cfg.kind == "toy"
        if cfg.kind not in ("unpaired", "toy"):
            raise ConfigError(f"data.kind '{cfg.kind}' is not a two-domain dataset (use unpaired or toy)")
        if self.toy:
            n = cfg.max_images or 64
            self.a_files: list[Path] = [Path(f"toy/A/{i}") for i in range(n)]
            self.b_files: list[Path] = [Path(f"toy/B/{i}") for i in range(n)]
        else:
            if not cfg.root:
                raise ConfigError("data.root is empty: give the dataset folder (holding trainA/ and trainB/)")
            root = Path(cfg.root)
            self.a_files = _files(root / f"{split}A", cfg.max_images)
            self.b_files = _files(root / f"{split}B", cfg.max_images)
        self.pairs: list[tuple[Path, Path]] = []
        if cfg.paired_root and cfg.paired_fraction > 0:
            proot = Path(cfg.paired_root) / split
            inputs = _files(proot / "input", cfg.max_images)
            for p in inputs:
                t = proot / "target" / p.name
                if not t.is_file():
                    raise ConfigError(f"paired sample {p} has no target {t}")
                self.pairs.append((p, t))
        self.transform = train_transform(cfg.load_size, cfg.crop_size, cfg.flip, paired=True)
        self.unreadable: set[Path] = set()  # reported once each (per data-loading process)

    def __len__(self) -> int:
        return max(len(self.a_files), len(self.b_files))

    def _load(self, files: list[Path], i: int, domain: str) -> tuple[Path, np.ndarray]:
        """File ``i`` of ``files`` and its pixels; an unreadable file is reported once and the next one is used
        (the same one on every draw, so a resumed run draws what an uninterrupted one did)."""
        if self.toy:
            path = files[i]
            return path, toy_image(int(path.name), domain, size=self.cfg.load_size, seed=self.seed)
        for k in range(len(files)):
            path = files[(i + k) % len(files)]
            try:
                return path, read_image(path)
            except ImageReadError as e:
                if path not in self.unreadable:
                    self.unreadable.add(path)
                    log.error(
                        "%s; training uses the next file of %s%s instead",
                        e,
                        "trainA/" if domain == "A" else "trainB/",
                        "" if len(self.unreadable) == 1 else f" ({len(self.unreadable)} unreadable so far)",
                    )
        raise ConfigError(f"no file of domain {domain} can be read ({files[0].parent}); see the errors above")

    def __getitem__(self, key: int) -> dict[str, Any]:
        rng = np.random.default_rng([self.seed, key, 11])
        i = key % len(self)
        use_pair = bool(self.pairs) and rng.random() < self.cfg.paired_fraction
        toy_scene = False
        if use_pair:
            a_path, t_path = self.pairs[int(rng.integers(len(self.pairs)))]
            a_img, target = read_image(a_path), read_image(t_path)
            if target.shape != a_img.shape:
                raise ConfigError(
                    f"paired target {t_path} has size {target.shape[:2]}, input {a_img.shape[:2]}"
                )
        elif self.toy:  # toy A images come with their clean scene (supervised variants learn from it)
            a_path = self.a_files[i % len(self.a_files)]
            a_img, target = toy_pair(int(a_path.name), "A", size=self.cfg.load_size, seed=self.seed)
            use_pair = toy_scene = True
        else:
            a_path, a_img = self._load(self.a_files, i % len(self.a_files), "A")
            target = a_img
        b_path, b_img = self._load(self.b_files, int(rng.integers(len(self.b_files))), "B")
        self.transform.set_random_seed(int(rng.integers(2**31)))
        out_a = self.transform(image=a_img, target=target)
        self.transform.set_random_seed(int(rng.integers(2**31)))
        out_b = self.transform(image=b_img, target=b_img)
        sample = {
            "A": to_tensor(out_a["image"]),
            "B": to_tensor(out_b["image"]),
            "A_target": to_tensor(out_a["target"]),
            "has_target": torch.tensor(use_pair),
            "A_path": str(a_path),
            "B_path": str(b_path),
        }
        if self.toy:  # the toy face's box, as the synthesiser gives them (instance-aware variants)
            boxes, n = (
                toy_face_boxes(out_a["target"]) if toy_scene else (torch.zeros(MAX_FACES, 4), torch.tensor(0))
            )
            sample |= {"faces_box": boxes, "faces_n": n}
        return sample


def build_dataset(cfg: DataConfig, seed: int) -> Dataset[dict[str, Any]]:
    if cfg.kind == "multidomain" or (cfg.kind == "toy" and cfg.domains):
        from reflect.data.multidomain import MultiDomainDataset

        return MultiDomainDataset(cfg, seed)
    if cfg.kind in ("unpaired", "toy"):
        return UnpairedDataset(cfg, seed)
    if cfg.kind == "synthetic":
        from reflect.data.synthetic import SyntheticDataset

        return SyntheticDataset(cfg, seed)
    raise ConfigError(f"unknown data.kind '{cfg.kind}'; valid: unpaired, toy, synthetic, multidomain")


def build_loader(
    dataset: Dataset[dict[str, Any]],
    cfg: DataConfig,
    seed: int,
    start_step: int = 0,
    rank: int = 0,
    world: int = 1,
) -> DataLoader[dict[str, Any]]:
    """An endless loader starting at ``start_step`` (in batches of this rank)."""
    sampler = StreamSampler(len(dataset), seed, start=start_step * cfg.batch_size, rank=rank, world=world)  # type: ignore[arg-type]
    return DataLoader(
        dataset,
        batch_size=cfg.batch_size,
        sampler=sampler,
        num_workers=cfg.num_workers,
        drop_last=True,
        # workers stay up across epochs and keep batches loading while the step runs (the trainer
        # logs the wait as data_wait_s: ~0 once the workers are ahead)
        persistent_workers=cfg.num_workers > 0,
        prefetch_factor=2 if cfg.num_workers > 0 else None,
        # Our own generator: creating the loader must not consume the global RNG (exact resume).
        generator=torch.Generator().manual_seed(seed),
        pin_memory=torch.cuda.is_available(),
    )
