"""The glare term of a synthetic sample (:mod:`reflect.data.synth.generator`, step 4): bright spots of
the sun, a headlight or the camera's own flash on the glass, added to the input in linear light."""

from __future__ import annotations

from typing import Any

import numpy as np

from reflect.data.synth import camera, glass
from reflect.data.synth.config import GlareConfig
from reflect.data.synth.draws import decide, rounded, term_rng, uniform_in


def add_glare(
    gc: GlareConfig,
    seed: int,
    index: int,
    nir: bool,
    force: bool | None,
    x: np.ndarray,
    params: dict[str, Any],
) -> np.ndarray:
    """``x`` (S, S, 3) in linear light with the glare of sample ``index`` added (or ``x`` itself when the
    term is off); the spots drawn are recorded in ``params["glare"]`` (None when off). ``force``: a
    forced domain's switch (None: the term's probability decides)."""
    size = x.shape[0]
    rg = term_rng(seed, index, "glare")
    on = decide(rg, gc.enabled, gc.probability, force)
    n = int(round(uniform_in(rg, gc.count)))
    spots = []
    for _ in range(n):
        kind = int(rg.integers(3))  # 0 sun, 1 headlight, 2 the camera's flash
        cx, cy = (0.5 + rg.normal(0, 0.08)) if kind == 2 else rg.uniform(0, 1), rg.uniform(0, 0.9)
        spots.append(
            {
                "kind": kind,
                "x": rounded(cx * size),
                "y": rounded(cy * size),
                "radius": rounded(uniform_in(rg, gc.radius) * size),
                "intensity": rounded(uniform_in(rg, gc.intensity)),
                "warmth": rounded(rg.uniform(0, 1) if kind == 1 else rg.uniform(0, 0.3)),
            }
        )
    params["glare"] = {"spots": spots} if on else None
    if not on:
        return x
    g = glass.glare(size, spots)
    if nir:
        g = camera.to_nir(g)
    out: np.ndarray = x + g
    return out
