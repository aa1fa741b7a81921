"""Glass models from the reflection-removal literature, beside the project's windshield physics.

Each takes the transmitted layer ``T`` and the reflection source ``R`` in linear light ((H, W, 3)
float32 in [0, 1]) and returns ``(input, target)`` in linear light; the caller draws the parameters.
Written from the papers' descriptions of their training data:

- ``linear`` (Zhang et al., CVPR 2018; ERRNet, Wei et al., CVPR 2019): ``I = T + a * blur(R)``,
  ``R`` blurred by a Gaussian of sigma 1-5 px (out of focus), and where ``T + R`` overflows 1 the
  mean excess is subtracted from ``R`` (their over-exposure compensation); target ``T``.
- ``screen`` (DSRNet, Hu and Guo, ICCV 2023, which models the residue ``-T * R`` of a linear
  blend): ``I = 1 - (1 - T)(1 - a * blur(R))`` in display values, so bright reflections saturate
  softly instead of clipping; target ``T``.
- ``gains`` (RDNet, Zhao et al., CVPR 2025, per-channel transmission): ``I = g_t * T + g_r * blur(R)``
  with ``g_t = 1 - loss`` per channel (the light the glass reflects away is lost to the
  transmission) and ``g_r`` per channel; the target is ``T`` before the loss, so a model must undo
  the gain (the ``layers`` output form's per-channel gain).
- ``veil`` (a dusty or hazed windshield in sunlight; Koschmieder's law as the dehazing literature
  writes it, e.g. He et al., CVPR 2009): ``I = (1 - v) * T + v * A * s(x, y) + a * blur(R)``, the dust
  scattering a share ``v`` of the light: it dims the transmission and adds a smooth airlight ``A`` (the
  sunlit dust's colour) that grows toward the sun's side (``s``, a ramp of mean 1), over an ordinary
  reflection; target ``T``. Never in the bundled model's training: the site-adaptation benchmark
  uses it as a glass the base never saw.
- ``none``: no reflection; the input is the target (the do-no-harm samples).
"""

from __future__ import annotations

import numpy as np

from reflect.data.synth import glass

#: the glass models a re-synthesised reflection is drawn from, by index (``blend[:, 0]``): site data
#: (:mod:`reflect.data.site`) draws a row per sample, :func:`reflect.losses.adaptation.resynthesise` applies it
RESYNTH_BLENDS = ("linear", "screen", "gains")
#: a blend parameter row: model index, strength a, blur sigma (px), g_t (3), g_r (3)
BLEND_PARAMS = 9


def linear(t: np.ndarray, r: np.ndarray, a: float, sigma: float, att: float) -> tuple[np.ndarray, np.ndarray]:
    term = glass.compensate_overflow(t, np.float32(a) * glass.blur(r, sigma), att)
    return t + term, t


def screen(t: np.ndarray, r: np.ndarray, a: float, sigma: float) -> tuple[np.ndarray, np.ndarray]:
    td = glass.to_display(t)
    rd = glass.to_display(glass.blur(r, sigma)) * np.float32(a)
    return glass.to_linear(1.0 - (1.0 - td) * (1.0 - rd)), t


def gains(
    t: np.ndarray, r: np.ndarray, g_t: np.ndarray, g_r: np.ndarray, sigma: float
) -> tuple[np.ndarray, np.ndarray]:
    return t * g_t.astype(np.float32) + glass.blur(r, sigma) * g_r.astype(np.float32), t


def veil(
    t: np.ndarray,
    r: np.ndarray,
    density: float,
    airlight: np.ndarray,
    ramp: np.ndarray,
    a: float,
    sigma: float,
) -> tuple[np.ndarray, np.ndarray]:
    """``density`` v in [0, 1), ``airlight`` (3,) in linear light, ``ramp`` (H, W) of mean about 1."""
    v = np.float32(density)
    haze = ramp[..., None].astype(np.float32) * airlight.astype(np.float32)[None, None, :]
    return (1 - v) * t + v * haze + np.float32(a) * glass.blur(r, sigma), t


def sun_ramp(rng: np.random.Generator, size: int, spread: float = 0.5) -> np.ndarray:
    """A smooth ramp (size, size) of mean 1 rising by ``2 * spread`` toward a random side (the sun's)."""
    angle = rng.uniform(0.0, 2.0 * np.pi)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / max(size - 1, 1) - 0.5
    along = xx * np.float32(np.cos(angle)) + yy * np.float32(np.sin(angle))  # in [-0.71, 0.71]
    ramp: np.ndarray = 1.0 + np.float32(2 * spread) * along
    return ramp


def apply_row(t: np.ndarray, r: np.ndarray, row: np.ndarray) -> np.ndarray:
    """One blend-parameter ``row`` (:data:`BLEND_PARAMS` values) applied: ``t`` the transmitted scene and
    ``r`` the reflected one, (H, W, 3) display values in [0, 1]; returns the input in display values.
    The blends run in linear light, as the synthesiser's."""
    t_lin, r_lin = glass.to_linear(np.ascontiguousarray(t)), glass.to_linear(np.ascontiguousarray(r))
    model, a, sigma = RESYNTH_BLENDS[int(row[0]) % len(RESYNTH_BLENDS)], float(row[1]), float(row[2])
    if model == "linear":
        x, _ = linear(t_lin, r_lin, a, sigma, 1.1)
    elif model == "screen":
        x, _ = screen(t_lin, r_lin, a, sigma)
    else:
        x, _ = gains(t_lin, r_lin, row[3:6].astype(np.float32), row[6:9].astype(np.float32), sigma)
    out: np.ndarray = glass.to_display(np.clip(x, 0.0, 1.0))
    return out
