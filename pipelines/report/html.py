"""The face-evaluation HTML report: metrics table, ROC plot (matplotlib, Agg) and a before/after
image grid. Images are written as small JPEG files next to ``report.html`` and linked relatively,
so the folder can be copied or served as it is."""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

import numpy as np

from reflect.data.io import read_image, write_image
from reflect.utils.atomic import atomic_path, atomic_write_text

LABELS = {"probes": "through the glass", "cleaned": "after cleaning"}
CSS = """body{font-family:system-ui,sans-serif;margin:2em;max-width:1100px;color:#222}
table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:4px 10px;text-align:right}
th:first-child,td:first-child{text-align:left}.up{color:#080}.down{color:#b00}
.grid{display:grid;grid-template-columns:repeat(3,max-content);gap:6px 14px;align-items:start}
figure{margin:0}figcaption{font-size:12px;color:#555}img{border:1px solid #ddd}.note{color:#555}"""


def _fmt(v: Any) -> str:
    if v is None:
        return "n/a"
    if isinstance(v, float):
        return f"{v:.3f}"
    return html.escape(str(v))


def thumbnail(src: Path, dst: Path, height: int = 150) -> None:
    import cv2

    img = read_image(src)
    h, w = img.shape[:2]
    if h != height:
        img = cv2.resize(img, (max(1, round(w * height / h)), height), interpolation=cv2.INTER_AREA)
    write_image(dst, img, quality=88)


def plot_roc(results: dict[str, Any], sets: list[str], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.5, 4.2), dpi=100)
    for name in sets:
        r = results[name]
        far, tar = np.asarray(r["roc"]["far"]), np.asarray(r["roc"]["tar"])
        eer = r["eer"]
        ax.step(np.clip(far, 1e-4, 1), tar, where="post", label=f"{LABELS.get(name, name)} (EER {_fmt(eer)})")
    ax.set_xscale("log")
    ax.set_xlim(1e-3, 1)
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("false accept rate")
    ax.set_ylabel("true accept rate")
    ax.set_title("verification ROC")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(loc="lower right")
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png")
    plt.close(fig)


def _table(results: dict[str, Any], sets: list[str]) -> str:
    rows = [
        ("faces detected", lambda r: r["detection_rate"]),
        ("identity similarity to clean reference", lambda r: r["identity_similarity"]),
        ("TAR @ FAR 1e-1", lambda r: r["tar_at_far"]["0.1"]),
        ("TAR @ FAR 1e-2", lambda r: r["tar_at_far"]["0.01"]),
        ("TAR @ FAR 1e-3", lambda r: r["tar_at_far"]["0.001"]),
        ("EER (lower is better)", lambda r: r["eer"]),
        ("rank-1 identification", lambda r: r["rank1"]),
        ("rank-5 identification", lambda r: r["rank5"]),
        ("genuine / impostor pairs", lambda r: f"{r['genuine_pairs']} / {r['impostor_pairs']}"),
    ]
    head = "".join(f"<th>{LABELS.get(s, s)}</th>" for s in sets) + (
        "<th>change</th>" if len(sets) == 2 else ""
    )
    body = []
    for label, get in rows:
        vals = [get(results[s]) for s in sets]
        cells = "".join(f"<td>{_fmt(v)}</td>" for v in vals)
        if len(sets) == 2:
            a, b = vals
            if isinstance(a, float) and isinstance(b, float):
                better = (b < a) if label.startswith("EER") else (b > a)
                cls = "up" if better else ("down" if a != b else "")
                cells += f'<td class="{cls}">{b - a:+.3f}</td>'
            else:
                cells += "<td></td>"
        body.append(f"<tr><td>{html.escape(label)}</td>{cells}</tr>")
    return f"<table><tr><th>metric</th>{head}</tr>{''.join(body)}</table>"


def rows_shown(ids: list[str], max_rows: int) -> list[int]:
    """Indices of at most ``max_rows`` probes, taken in turn from each identity (in their order), so that every
    identity shows even when the first ones have more probes than the page has rows."""
    by_id: dict[str, list[int]] = {}
    for i, ident in enumerate(ids):
        by_id.setdefault(ident, []).append(i)
    picked: list[int] = []
    for turn in range(max((len(v) for v in by_id.values()), default=0)):
        picked += [v[turn] for v in by_id.values() if turn < len(v)]
    return sorted(picked[:max_rows])


def write_face_report(
    out: Path,
    results: dict[str, Any],
    per_image: dict[str, list[dict[str, Any]]],
    gallery: Any,
    sets: dict[str, Any],
    *,
    title: str,
    notes: str = "",
    max_rows: int = 12,
    extra_html: str = "",
) -> Path:
    names = list(sets)
    plot_roc(results, names, out / "roc.png")
    refs: dict[str, str] = {}
    for rel, ident in zip(gallery.rels, gallery.ids, strict=True):
        refs.setdefault(ident, rel)
    cells = []
    probes = sets["probes"]
    shown = rows_shown(list(probes.ids), max_rows)
    n_ids = len(set(probes.ids))
    shown_note = (
        f"All {len(shown)} probes."
        if len(shown) == len(probes.rels)
        else f"{len(shown)} of the {len(probes.rels)} probes, taken in turn from each of the {n_ids} identities; "
        "every probe's numbers are in metrics.json."
    )
    for k in shown:
        rel, ident = probes.rels[k], probes.ids[k]
        row = []
        if ident in refs:
            thumbnail(gallery.root / refs[ident], out / "images" / f"{k:03d}_ref.jpg")
            row.append(
                f'<figure><img src="images/{k:03d}_ref.jpg"><figcaption>gallery: {html.escape(ident)}'
                "</figcaption></figure>"
            )
        else:
            row.append("<div></div>")
        for name in ("probes", "cleaned"):
            if name not in sets:
                row.append("<div></div>")
                continue
            info = per_image[name][k]
            thumbnail(sets[name].root / rel, out / "images" / f"{k:03d}_{name}.jpg")
            cap = (
                f"{LABELS[name]}: sim {_fmt(info['similarity'])}{'' if info['found'] else ', no face found'}"
            )
            row.append(
                f'<figure><img src="images/{k:03d}_{name}.jpg"><figcaption>{html.escape(cap)}'
                "</figcaption></figure>"
            )
        cells.append("".join(row))
    g = results["gallery"]
    doc = f"""<!doctype html><html><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>{CSS}</style></head><body><h1>{html.escape(title)}</h1>
<p class="note">{html.escape(notes)}</p>
<p>Gallery: {g["images"]} clean images of {g["identities"]} identities. Embedder: {html.escape(results["embedder"])}
(128-d, cosine similarity), detector: {html.escape(results["detector"])}. A FAR below 1/(impostor pairs) cannot be
measured and shows as n/a.</p>
<h2>Metrics</h2>{_table(results, names)}
<h2>Verification ROC</h2><img src="roc.png" alt="ROC curves">
{extra_html}
<h2>Before / after</h2><p class="note">{html.escape(shown_note)}</p><div class="grid">{"".join(cells)}</div>
<p class="note">Raw numbers: <a href="metrics.json">metrics.json</a></p></body></html>"""
    path = out / "report.html"
    atomic_write_text(path, doc)
    return path
