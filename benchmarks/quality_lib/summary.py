"""The quality benchmark's numbers: rows, the left-out-of-training summary and issue 23's checks,
from per-sample records (the printed tables: :mod:`benchmarks.quality_lib.report`).

A record (one sample, :func:`benchmarks.quality.evaluate`) holds PSNR and SSIM of the whole crop
(``psnr_in``, ``psnr_out``, ...) and of the driver's face box (``fpsnr_in``, ...), the output's PSNR
against the input (``psnr_io``), and :meth:`benchmarks.quality_lib.faces.FaceMeter.measure`'s detections,
landmark errors and dlib distances. A row averages records; its shares (detection, faces closer,
rank-1, faces that moved less than :data:`STILL`) carry bootstrap 95 % intervals over the faces
(:func:`bootstrap`: 1000 resamples, a fixed seed), since one face can be the margin of a claim.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from typing import Any

import numpy as np

from benchmarks.quality_lib.render import NOHARM_TYPES

#: do no harm: a face "did not move" when the dlib distance between output and input is below this
STILL = 0.05
NO_HARM_PSNR = 35.0  # dB, the output against the input of a reflection-free crop
RESAMPLES = 1000
DETECTIONS = [f"{d}_{v}" for d in ("hog", "mtcnn") for v in ("clean", "in", "out")]
RANKS = [f"rank1_{v}" for v in ("clean", "in", "out")]
RATES = DETECTIONS + RANKS
MEANS = (
    "psnr_in",
    "psnr_out",
    "ssim_in",
    "ssim_out",
    "fpsnr_in",
    "fpsnr_out",
    "fssim_in",
    "fssim_out",
    "psnr_io",
)


def bootstrap(values: list[float], resamples: int = RESAMPLES, seed: int = 0) -> list[float] | None:
    """Percentile bootstrap 95 % interval of the mean of ``values`` (fixed seed: the same interval
    on every run); None for no values."""
    v = np.asarray(values, np.float64)
    if v.size == 0:
        return None
    idx = np.random.default_rng(seed).integers(0, v.size, size=(resamples, v.size))
    lo, hi = np.percentile(v[idx].mean(axis=1), [2.5, 97.5])
    return [round(float(lo), 4), round(float(hi), 4)]


def _mean(values: Sequence[float | None]) -> float | None:
    vals = [v for v in values if v is not None and math.isfinite(v)]  # None: NaN read back from JSON
    return round(statistics.fmean(vals), 4) if vals else None


def _share(s: dict[str, Any], key: str, values: list[float]) -> None:
    s[key] = _mean(values)
    s["ci"][key] = bootstrap(values)


def summarise(records: list[dict[str, Any]]) -> dict[str, Any]:
    """One row: means, shares with their intervals (``ci``), the worst output-vs-input PSNR."""
    faces = [r for r in records if not r["skipped"]]
    s: dict[str, Any] = {"n": len(records), "skipped": len(records) - len(faces), "ci": {}}
    for k in MEANS:
        s[k] = _mean([r[k] for r in records if k in r])
    s["psnr_io_min"] = min((r["psnr_io"] for r in records if "psnr_io" in r), default=None)
    for k in DETECTIONS:
        _share(s, k, [float(r[k]) for r in records if k in r])
    for k in RANKS:
        _share(s, k, [float(r[k]) for r in faces if k in r])
    for k in ("lm_in", "lm_out", "dist_in", "dist_out", "dist_io"):
        s[k] = _mean(
            [r[k] for r in faces if k in r] if k.startswith("dist") else [r[k] for r in records if k in r]
        )
    _share(s, "closer", [float(r["dist_out"] < r["dist_in"]) for r in faces])
    _share(s, "still", [float(r["dist_io"] < STILL) for r in faces if "dist_io" in r])
    _share(s, "psnr_io_35", [float(r["psnr_io"] >= NO_HARM_PSNR) for r in records if "psnr_io" in r])
    return s


def num(v: float | None, fmt: str = ".2f") -> str:
    return "-" if v is None else format(v, fmt)


def share(s: dict[str, Any], key: str) -> str:
    """``82 [76, 88]``: a share in percent with its bootstrap interval."""
    ci = s["ci"].get(key)
    if s[key] is None:
        return "-"
    return f"{100 * s[key]:.0f}" + ("" if ci is None else f" [{100 * ci[0]:.0f}, {100 * ci[1]:.0f}]")


def held_out(records: list[dict[str, Any]], types: list[str]) -> dict[str, Any] | None:
    """The leave-one-out summary over the samples of ``types`` (those a model never trained on):
    face-box PSNR gain, closer share, detection against the clean crops; full-recipe samples only (no
    ``--parts`` renders). None when none ran."""
    recs = [r for r in records if r["type"] in types and r.get("part", "full") == "full"]
    if not recs:
        return None
    s = summarise(recs)
    gain = (
        None if s["fpsnr_out"] is None or s["fpsnr_in"] is None else round(s["fpsnr_out"] - s["fpsnr_in"], 4)
    )
    return s | {
        "types": sorted({r["type"] for r in recs}, key=types.index),
        "fpsnr_gain": gain,
        "hog_vs_clean": None if s["hog_out"] is None else round(s["hog_out"] - s["hog_clean"], 4),
        "mtcnn_vs_clean": None if s["mtcnn_out"] is None else round(s["mtcnn_out"] - s["mtcnn_clean"], 4),
    }


def checks(rows: dict[str, dict[str, Any]], left_out: dict[str, Any] | None) -> list[dict[str, Any]]:
    """Issue 23's must-show checks that the rows allow: each ``{"check", "result": PASS|FAIL|n/a, "value"}``.
    PSNR is the mean over crops, as in every row; the do-no-harm value shows the worst crop and the
    share of crops at >= 35 dB beside it, since a mean of dB can hide a few ruined crops."""
    out: list[dict[str, Any]] = []

    def add(name: str, ok: bool | None, value: str) -> None:
        out.append(
            {"check": name, "result": "n/a" if ok is None else "PASS" if ok else "FAIL", "value": value}
        )

    lo = left_out
    gain = lo["fpsnr_gain"] if lo else None
    add(
        "left out of training: face-box PSNR >= input + 2 dB on average",
        None if gain is None else gain >= 2,
        "no left-out type ran" if gain is None else f"{gain:+.2f} dB",
    )
    scenes = {k: v for k, v in rows.items() if k.startswith("scene:") and v["fpsnr_in"] is not None}
    gains = {k: v["fpsnr_out"] - v["fpsnr_in"] for k, v in scenes.items()}
    add(
        "face-box PSNR above the input on every scene type",
        all(g > 0 for g in gains.values()) if gains else None,
        ", ".join(f"{k} {g:+.2f} dB" for k, g in gains.items()) or "no scene type ran",
    )
    closer = lo["closer"] if lo else None
    add(
        "left out of training: identity closer for >= 75 % of faces",
        None if closer is None else closer >= 0.75,
        f"{share(lo, 'closer')} %" if lo and closer is not None else "no left-out face",
    )
    det = lo["hog_vs_clean"] if lo else None
    add(
        "left out of training: dlib detection within 3 points of the clean crops",
        None if det is None else det >= -0.03,
        "no left-out type ran" if det is None else f"{100 * det:+.1f} points",
    )
    bright = rows.get("scene:backdrop_bright")
    if bright is None:
        add("bright backdrop: whole-crop PSNR >= input + 1 dB", None, "scene:backdrop_bright did not run")
    else:
        add(
            "bright backdrop: whole-crop PSNR >= input + 1 dB",
            bright["psnr_out"] - bright["psnr_in"] >= 1,
            f"{bright['psnr_in']:.2f} -> {bright['psnr_out']:.2f} dB",
        )
    for name in NOHARM_TYPES:
        s = rows.get(name)
        if s is None:
            add(
                f"do no harm ({name}): PSNR vs input >= 35 dB and >= 95 % of faces moved < {STILL}",
                None,
                f"{name} did not run",
            )
            continue
        ok = (
            None
            if s["still"] is None
            else s["psnr_io"] is not None and s["psnr_io"] >= NO_HARM_PSNR and s["still"] >= 0.95
        )
        add(
            f"do no harm ({name}): PSNR vs input >= 35 dB and >= 95 % of faces moved < {STILL}",
            ok,
            f"PSNR {num(s['psnr_io'])} dB (worst {num(s['psnr_io_min'])}; crops >= {NO_HARM_PSNR:.0f} dB: "
            f"{share(s, 'psnr_io_35')} %), moved < {STILL}: {share(s, 'still')} %",
        )
    return out
