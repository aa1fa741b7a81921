"""The synthesiser's random draws (:mod:`reflect.data.synth.generator`): every term of a sample draws
from its own generator seeded by ``(seed, index, term)``, so switching one term on or off leaves
every other term's draw unchanged, and the same seed gives the same bytes."""

from __future__ import annotations

import numpy as np

TERMS = {
    "cabin": 1,
    "reflection": 2,
    "ghost": 3,
    "glass": 4,
    "glare": 5,
    "false_colour": 6,
    "nir": 7,
    "noise": 8,
    "motion_blur": 9,
    "jpeg": 10,
    "low_res": 11,
    "scene": 12,
    "exposure": 13,
    "blend": 14,
}


def term_rng(seed: int, index: int, term: str) -> np.random.Generator:
    """The generator of one term of one sample (module docstring)."""
    return np.random.default_rng([seed, index, TERMS[term]])


def uniform_in(rng: np.random.Generator, r: list[float]) -> float:
    """A uniform draw in the range ``r`` ([low, high]; a point range draws nothing)."""
    return float(rng.uniform(r[0], r[1])) if r[1] > r[0] else float(r[0])


def decide(rng: np.random.Generator, enabled: bool, p: float, force: bool | None) -> bool:
    """Whether a term applies: with probability ``p``, unless disabled or forced."""
    draw = rng.random() < p  # always drawn, so the stream does not depend on the switches
    if not enabled:
        return False
    return draw if force is None else force


def rounded(v: float) -> float:
    """A drawn value as the sample's parameters record it."""
    return round(float(v), 4)


def pick(rng: np.random.Generator, weights: dict[str, float]) -> str:
    """A name drawn by its weight (names sorted, so the draw does not depend on the dict's order)."""
    names = sorted(weights)
    w = np.array([weights[n] for n in names], np.float64)
    return names[int(rng.choice(len(names), p=w / w.sum()))]
