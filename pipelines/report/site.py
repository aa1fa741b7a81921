"""The site report of ``reflect adapt``: what can be measured on a site's crops without ground truth.

For a sample of the site's own crops (evenly spaced through the site index, prepared at the training
size), the crop through the glass, the base model's output and the adapted model's output:

* faces found by MTCNN (any face at its default confidence 0.9) and the mean confidence of the best face;
* identity drift: dlib's descriptor distance between output and input, the same 5 landmarks (found on
  the input by the site index) cutting the aligned chips from both, so only the pixels differ; a
  remover should change a face's descriptor only as much as the glass did (below 0.6: same person);
* the mean reflection the model removes (input minus output, [0, 1] units).

Written as ``RUN/report.html`` in the style of ``reflect demo``'s report (:mod:`pipelines.report.html`),
with ``site_report.json`` beside it.
"""

from __future__ import annotations

import html
import json
import logging
import statistics
from pathlib import Path
from typing import Any

import numpy as np
import torch

from pipelines.report.html import CSS, _fmt, thumbnail
from reflect.data.io import read_image, to_image, to_tensor, write_image
from reflect.data.site import load_index, prepare
from reflect.errors import ReflectError
from reflect.utils.atomic import atomic_write_text

log = logging.getLogger(__name__)

COLUMNS = {"input": "through the glass", "base": "base model", "adapted": "adapted"}


def _mean(values: list[float]) -> float | None:
    return round(statistics.fmean(values), 4) if values else None


def measure(
    images: dict[str, np.ndarray], faces: list[dict[str, Any]], detector: Any, embedder: Any
) -> dict[str, Any]:
    """Per view: MTCNN found a face, its best confidence; dlib distance to the input; mean change."""
    from reflect.faces.align import DLIB_CHIP, align_faces
    from reflect.faces.types import DLIB_5

    rec: dict[str, Any] = {}
    for view, img in images.items():
        found = detector.detect([img])[0]
        rec[f"found_{view}"] = bool(len(found))
        rec[f"score_{view}"] = float(found.scores.max()) if len(found) else None
        rec[f"change_{view}"] = float(np.abs(img.astype(np.float32) - images["input"]).mean() / 255.0)
    if faces:
        lm = torch.tensor(faces[0]["lm"], dtype=torch.float32)[None]
        batch = torch.stack([to_tensor(im) for im in images.values()])
        chips = align_faces(
            batch, lm.expand(len(images), 5, 2), torch.arange(len(images)), layout=DLIB_5, spec=DLIB_CHIP
        )
        with torch.inference_mode():
            emb = embedder.raw(chips).numpy()
        for k, view in enumerate(images):
            rec[f"drift_{view}"] = float(np.linalg.norm(emb[k] - emb[0]))
    return rec


def _load(model: str | Path) -> Any:
    from reflect.loader import load_variant

    try:
        return load_variant(model, option="--from")[0]
    except ReflectError as e:
        log.warning("site report: %s; its column is left out", e)
        return None


def _settings(run_dir: Path) -> str:
    """One line on how the run adapted: method, adapter, steps, anchor share, file sizes."""
    from reflect.config import load_yaml

    cfg = load_yaml(run_dir / "config.yaml")
    m, t = cfg.get("model", {}), cfg.get("train", {})
    adapter = f"LoRA rank {m.get('adapter_rank')}" if m.get("adapter") == "lora" else "full fine-tuning"
    line = (
        f"Method {m.get('method')}, {adapter}, {t.get('steps')} steps of {cfg.get('data', {}).get('batch_size')} "
        f"crops at {cfg.get('data', {}).get('crop_size')} px, anchor share {m.get('anchor_fraction')}"
    )
    for name in ("adapted.safetensors", "adapter.safetensors"):
        if (run_dir / name).is_file():
            line += f"; {name} {(run_dir / name).stat().st_size / 1e3:.0f} kB"
    return line + "."


def write_site_report(run_dir: Path, *, base: str, adapted: Path, crops: int = 24) -> Path:
    """Measure ``crops`` site crops through both models and write ``run_dir/report.html``."""
    from reflect.faces.detectors import make_detector
    from reflect.faces.embedders import make_embedder

    index = load_index(run_dir)
    size, entries = int(index["size"]), index["crops"]
    picks = [
        entries[int(i)] for i in np.unique(np.linspace(0, len(entries) - 1, min(crops, len(entries))).round())
    ]
    models = {k: m for k, m in (("base", _load(base)), ("adapted", _load(adapted))) if m is not None}
    detector, embedder = make_detector("mtcnn"), make_embedder("dlib")
    out_dir = run_dir / "report_images"
    records, cells = [], []
    for k, entry in enumerate(picks):
        img = prepare(read_image(entry["path"]), size)
        views = {"input": img}
        with torch.no_grad():
            for name, model in models.items():
                views[name] = to_image(model.translate(to_tensor(img)[None])[0])
        rec = measure(views, entry.get("faces", []), detector, embedder)
        records.append(rec | {"path": entry["path"]})
        for view, im in views.items():
            path = out_dir / f"{k:03d}_{view}.png"
            write_image(path, im)
            thumbnail(path, out_dir / f"{k:03d}_{view}.jpg", height=min(size, 160))
            cap = f"{COLUMNS[view]}: " + (
                "no face found" if not rec[f"found_{view}"] else f"MTCNN {rec[f'score_{view}']:.3f}"
            )
            if f"drift_{view}" in rec and view != "input":
                cap += f", drift {rec[f'drift_{view}']:.3f}"
            cells.append(
                f'<figure><img src="report_images/{k:03d}_{view}.jpg"><figcaption>{html.escape(cap)}</figcaption></figure>'
            )
        cells += ["<div></div>"] * (3 - len(views))
    names = ["input", *models]
    summary = {
        view: {
            "faces_found": _mean([float(r[f"found_{view}"]) for r in records]),
            "mtcnn_confidence": _mean(
                [r[f"score_{view}"] for r in records if r[f"score_{view}"] is not None]
            ),
            "identity_drift": _mean([r[f"drift_{view}"] for r in records if f"drift_{view}" in r]),
            "mean_change": _mean([r[f"change_{view}"] for r in records]),
        }
        for view in names
    }
    atomic_write_text(
        run_dir / "site_report.json", json.dumps({"summary": summary, "crops": records}, indent=1)
    )
    rows = [
        ("faces found by MTCNN", "faces_found"),
        ("MTCNN confidence of the best face", "mtcnn_confidence"),
        ("identity drift (dlib distance to the input)", "identity_drift"),
        ("mean change of the pixels", "mean_change"),
    ]
    head = "".join(f"<th>{COLUMNS[v]}</th>" for v in names)
    body = "".join(
        f"<tr><td>{label}</td>{''.join(f'<td>{_fmt(summary[v][key])}</td>' for v in names)}</tr>"
        for label, key in rows
    )
    settings = _settings(run_dir)
    doc = f"""<!doctype html><html><head><meta charset="utf-8"><title>Site adaptation: {html.escape(run_dir.name)}</title>
<style>{CSS}</style></head><body><h1>Site adaptation: {html.escape(run_dir.name)}</h1>
<p class="note">{len(records)} of the site's {len(entries)} crops at {size} px, evenly spaced; no clean version of any of
them exists, so this page shows what can be measured without one. Identity drift compares each output with its own
input (same landmarks, dlib's descriptor): a remover should move a face only as much as the glass hid it. Base model:
{html.escape(str(base))}; adapted: {html.escape(str(adapted))}; the run's settings are in config.yaml.</p>
<p>{html.escape(settings)}</p>
<h2>Without ground truth</h2><table><tr><th></th>{head}</tr>{body}</table>
<h2>Before / after</h2><div class="grid">{"".join(cells)}</div>
<p class="note">Raw numbers: <a href="site_report.json">site_report.json</a></p></body></html>"""
    page = run_dir / "report.html"
    atomic_write_text(page, doc)
    return page
