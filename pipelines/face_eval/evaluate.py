"""``reflect faces eval``: does cleaning help face recognition? Gallery of clean faces, probes seen
through the glass, optionally the same probes after cleaning; metrics before vs after, JSON + HTML.

Identities come from the first folder below each root (``gallery/<identity>/*.jpg``) or from a CSV
file with columns ``path,identity`` (paths relative to the root they belong to). Cleaned probes are
matched to probes by relative path.
"""

from __future__ import annotations

import csv
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from pipelines.face_eval.backend import FaceBackend, FaceResult
from pipelines.face_eval.metrics import evaluate_set
from reflect.data.io import list_images, read_image
from reflect.errors import ConfigError, ImageReadError
from reflect.utils.atomic import atomic_write_text

log = logging.getLogger(__name__)


@dataclass
class FaceSet:
    root: Path
    rels: list[str]
    ids: list[str]


def load_set(root: str | Path, identities: dict[str, str] | None = None, what: str = "gallery") -> FaceSet:
    base = Path(root)
    if not base.is_dir():
        raise ConfigError(f"{what} folder {base} does not exist")
    rels, ids = [], []
    for p in list_images(base, recursive=True):
        rel = p.relative_to(base).as_posix()
        if identities is not None:
            if rel not in identities:
                continue
            ids.append(identities[rel])
        elif "/" in rel:
            ids.append(rel.split("/", 1)[0])
        else:
            raise ConfigError(
                f"{what} image {p} is not in an identity folder ({base}/<identity>/...); or pass --identities CSV"
            )
        rels.append(rel)
    if not rels:
        raise ConfigError(f"{what} folder {base} holds no labelled images")
    return FaceSet(base, rels, ids)


def read_identities(path: str | Path) -> dict[str, str]:
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"identities CSV {p} does not exist")
    with open(p, newline="") as f:
        rows = list(csv.DictReader(f))
    if not rows or not {"path", "identity"} <= set(rows[0]):
        raise ConfigError(f"identities CSV {p} needs a header with columns 'path' and 'identity'")
    return {r["path"]: r["identity"] for r in rows}


def embed_set(backend: FaceBackend, fs: FaceSet) -> tuple[np.ndarray, list[FaceResult | None]]:
    out: list[FaceResult | None] = []
    for rel in fs.rels:
        try:
            out.append(backend.analyse(read_image(fs.root / rel)))
        except ImageReadError as e:
            log.error("%s", e)
            out.append(None)
    emb = np.stack([r.embedding if r is not None else np.zeros(128, np.float32) for r in out])
    return emb, out


def run_face_eval(
    gallery: str | Path,
    probes: str | Path,
    report: str | Path,
    *,
    cleaned: str | Path | None = None,
    identities: str | Path | None = None,
    embedder: str = "dlib-torch",
    detector: str = "dlib-hog",
    embedder_weights: str | None = None,
    backend: FaceBackend | None = None,
    title: str = "Face recognition before and after cleaning",
    notes: str = "",
) -> dict[str, Any]:
    """Evaluate; writes REPORT/metrics.json and REPORT/report.html; returns the metrics."""
    from pipelines.report.html import write_face_report

    id_map = read_identities(identities) if identities else None
    g = load_set(gallery, id_map, "gallery")
    p = load_set(probes, id_map, "probes")
    sets = {"probes": p}
    if cleaned is not None:
        c_root = Path(cleaned)
        missing = [r for r in p.rels if not (c_root / r).is_file()]
        if missing:
            raise ConfigError(f"cleaned folder {c_root} lacks {len(missing)} probe(s), e.g. {missing[0]}")
        sets["cleaned"] = FaceSet(c_root, p.rels, p.ids)
    backend = backend or FaceBackend(embedder, detector, embedder_weights)
    g_emb, g_res = embed_set(backend, g)
    results: dict[str, Any] = {
        "gallery": {
            "images": len(g.rels),
            "identities": len(set(g.ids)),
            "detection_rate": float(np.mean([bool(r and r.found) for r in g_res])),
        }
    }
    per_image: dict[str, list[dict[str, Any]]] = {}
    for name, fs in sets.items():
        emb, res = embed_set(backend, fs)
        found = [bool(r and r.found) for r in res]
        results[name] = evaluate_set(emb, fs.ids, found, g_emb, g.ids)
        sims = results[name]["per_probe_similarity"]
        per_image[name] = [
            {"rel": rel, "identity": i, "found": f, "similarity": s}
            for rel, i, f, s in zip(fs.rels, fs.ids, found, sims, strict=True)
        ]
    results["embedder"] = backend.name
    results["detector"] = "dlib-hog"
    out = Path(report)
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out / "metrics.json", json.dumps({**results, "per_image": per_image}, indent=2))
    write_face_report(out, results, per_image, g, sets, title=title, notes=notes)
    return results
