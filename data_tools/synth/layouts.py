"""Where samples go on disk, split by face identity (see docs/ARCHITECTURE.md, "Data on disk").

- ``paired``: ``ROOT/<split>/input/``, ``ROOT/<split>/target/`` (same file names) and
  ``ROOT/<split>/manifest.jsonl`` with every parameter and the face boxes in output pixels;
- ``unpaired``: ``ROOT/trainA``, ``trainB``, ``testA``, ``testB`` (A = with reflections, B = clean)
  whose four identity sets are disjoint, so no A image pairs with a B image by accident, plus
  ``ROOT/manifest.jsonl``;
- ``multidomain``: ``ROOT/<split>/<domain>/`` and ``ROOT/domains.yaml``; each sample is rendered
  with its domain's dominant reflection type forced; ``ROOT/<split>/manifest.jsonl``.

No identity appears in two splits (nor, unpaired, on both sides). ``ROOT/identities.json`` lists
them; ``ROOT/synth.yaml`` holds the resolved config.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from reflect.data.synth.config import SynthConfig
from reflect.data.synth.faces import Face
from reflect.errors import ConfigError


@dataclass
class Job:
    """What sample ``index`` is: its group (split, or split+side), faces and forced domain."""

    index: int
    group: str  # train | test (paired, multidomain) or trainA | trainB | testA | testB (unpaired)
    driver: int  # index into the face list
    passenger: int | None
    domain: str | None


def split_identities(ids: list[str], cfg: SynthConfig) -> dict[str, list[str]]:
    """Partition identities into the layout's groups (deterministic in ``cfg.seed``)."""
    order = sorted(ids)
    np.random.default_rng([cfg.seed, 990]).shuffle(order)
    splits = ["train", "test"] if cfg.test_fraction > 0 else ["train"]
    sides = ["A", "B"] if cfg.layout == "unpaired" else [""]
    need = len(splits) * len(sides)
    if len(order) < need:
        raise ConfigError(
            f"the {cfg.layout} layout with test_fraction={cfg.test_fraction} needs at least {need} face identities "
            f"(one per {'/'.join(s + d for s in splits for d in sides)}); the faces folder has {len(order)}: "
            f"{', '.join(order)}"
        )
    n_test = 0
    if "test" in splits:
        n_test = max(len(sides), min(len(order) - len(sides), round(len(order) * cfg.test_fraction)))
    by_split = {"train": order[n_test:], "test": order[:n_test]} if n_test else {"train": order}
    groups: dict[str, list[str]] = {}
    for split, members in by_split.items():
        if sides == [""]:
            groups[split] = members
        else:
            half = len(members) // 2
            groups[split + "A"], groups[split + "B"] = members[:half], members[half:]
    return groups


def plan(count: int, faces: list[Face], cfg: SynthConfig) -> tuple[list[Job], dict[str, list[str]]]:
    """One Job per sample: groups in proportion to their identities' share; faces from the group."""
    groups = split_identities(sorted({f.identity for f in faces}), cfg)
    by_identity: dict[str, list[int]] = {}
    for k, f in enumerate(faces):
        by_identity.setdefault(f.identity, []).append(k)
    names = list(groups)
    weights = np.array([len(groups[g]) for g in names], np.float64)
    if cfg.layout == "unpaired":  # A and B of a split get the same number of samples
        for s in ("train", "test"):
            if s + "A" in groups:
                total = weights[names.index(s + "A")] + weights[names.index(s + "B")]
                weights[names.index(s + "A")] = weights[names.index(s + "B")] = total / 2
    weights /= weights.sum()
    jobs = []
    for i in range(count):
        rng = np.random.default_rng([cfg.seed, i, 0])
        group = names[int(rng.choice(len(names), p=weights))]
        pool = groups[group]
        ident = pool[int(rng.integers(len(pool)))]
        driver = by_identity[ident][int(rng.integers(len(by_identity[ident])))]
        others = [p for p in pool if p != ident]
        passenger = None
        if rng.random() < cfg.cabin.second_occupant and others:
            other = others[int(rng.integers(len(others)))]
            passenger = by_identity[other][int(rng.integers(len(by_identity[other])))]
        domain = cfg.domains[i % len(cfg.domains)] if cfg.layout == "multidomain" else None
        jobs.append(Job(i, group, driver, passenger, domain))
    return jobs, groups


def file_name(index: int, cfg: SynthConfig) -> str:
    return f"{index:06d}.{cfg.image_format}"


def outputs(job: Job, cfg: SynthConfig, domain: str) -> dict[str, str]:
    """Relative output paths of a job: which image (input/target) goes where."""
    name = file_name(job.index, cfg)
    if cfg.layout == "paired":
        return {"input": f"{job.group}/input/{name}", "target": f"{job.group}/target/{name}"}
    if cfg.layout == "unpaired":
        return (
            {"input": f"{job.group}/{name}"} if job.group.endswith("A") else {"target": f"{job.group}/{name}"}
        )
    return {"input": f"{job.group}/{domain}/{name}"}


def manifest_path(job_group: str, cfg: SynthConfig) -> str:
    if cfg.layout == "unpaired":
        return "manifest.jsonl"
    return f"{job_group}/manifest.jsonl"


def record(
    job: Job,
    domain: str,
    files: dict[str, str],
    params: dict[str, Any],
    faces: list[dict[str, Any]],
    size: int,
) -> dict[str, Any]:
    """One manifest line: files relative to ROOT, the face boxes (output pixels) and every parameter."""
    for f in faces:
        x1, y1, x2, y2 = f["box"]
        inside = max(0.0, min(x2, size) - max(x1, 0.0)) * max(0.0, min(y2, size) - max(y1, 0.0))
        f["visible"] = round(inside / max((x2 - x1) * (y2 - y1), 1e-6), 3)
    return {
        "index": job.index,
        "name": Path(next(iter(files.values()))).name,
        "split": job.group,
        "domain": domain,
        "files": files,
        "faces": faces,
        "params": params,
    }


def write_side_files(root: Path, cfg: SynthConfig, groups: dict[str, list[str]]) -> None:
    import yaml

    from reflect.data.synth.config import synth_config_to_dict
    from reflect.utils.atomic import atomic_write_text

    atomic_write_text(root / "identities.json", json.dumps(groups, indent=1, sort_keys=True) + "\n")
    atomic_write_text(root / "synth.yaml", yaml.safe_dump(synth_config_to_dict(cfg), sort_keys=False))
    if cfg.layout == "multidomain":
        atomic_write_text(
            root / "domains.yaml", yaml.safe_dump({"domains": list(cfg.domains)}, sort_keys=False)
        )
