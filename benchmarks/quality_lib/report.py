"""The quality benchmark's printed report: the rows of a run (:func:`build_rows`) and the text of its
tables, left-out-of-training line and checks (:func:`render`), from the per-sample records alone, so
that a saved ``quality.json`` can be tabulated again (``benchmarks/quality.py --from-json``)."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from benchmarks.quality_lib.render import NOHARM_TYPES
from benchmarks.quality_lib.summary import NO_HARM_PSNR, STILL, num, share, summarise

PART_ROWS = {"reflection": "overall, reflections only", "camera": "overall, camera only"}


def build_rows(
    records: list[dict[str, Any]], kinds: list[str], reflection_types: list[str]
) -> dict[str, dict[str, Any]]:
    """One row per type of ``kinds``: the held-out reflection types first, then ``overall`` (pooled, no
    ``clean``) and one ``overall`` row per recipe part that ran, then the other types in order."""
    full = [r for r in records if r.get("part", "full") == "full"]
    rows = {t: summarise([r for r in full if r["type"] == t]) for t in reflection_types}
    if overall := [r for r in full if r["type"] in reflection_types and r["type"] != "clean"]:
        rows["overall"] = summarise(overall)
        for part, name in PART_ROWS.items():
            if recs := [r for r in records if r.get("part") == part and r["type"] != "clean"]:
                rows[name] = summarise(recs)
    for t in [t for t in kinds if t not in reflection_types]:
        rows[t] = summarise([r for r in full if r["type"] == t])
    return rows


def _pct(s: dict[str, Any], *keys: str) -> str:
    return "/".join("-" if s[k] is None else f"{100 * s[k]:.0f}" for k in keys)


def _pair(s: dict[str, Any], key: str, fmt: str = ".2f") -> str:
    return f"{num(s[key + '_in'], fmt)} / {num(s[key + '_out'], fmt)}"


def table(rows: dict[str, dict[str, Any]], marked: Collection[str] = ()) -> str:
    """The main table, one line per row; rows named in ``marked`` get a ``*``."""
    head = [
        "type",
        "n",
        "PSNR in / out",
        "SSIM in / out",
        "face PSNR in / out",
        "face SSIM in / out",
        "HOG % c/i",
        "HOG % out",
        "MTCNN % c/i",
        "MTCNN % out",
        "landmarks in / out",
        "dist in / out",
        "closer %",
        "rank-1 % c/i",
        "rank-1 % out",
        "skipped",
    ]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for name, s in rows.items():
        cells = [
            name + (" *" if name in marked else ""),
            str(s["n"]),
            _pair(s, "psnr"),
            _pair(s, "ssim", ".3f"),
            _pair(s, "fpsnr"),
            _pair(s, "fssim", ".3f"),
            _pct(s, "hog_clean", "hog_in"),
            share(s, "hog_out"),
            _pct(s, "mtcnn_clean", "mtcnn_in"),
            share(s, "mtcnn_out"),
            _pair(s, "lm", ".3f"),
            _pair(s, "dist", ".3f"),
            share(s, "closer"),
            _pct(s, "rank1_clean", "rank1_in"),
            share(s, "rank1_out"),
            str(s["skipped"]),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def noharm_table(rows: dict[str, dict[str, Any]]) -> str:
    """Reflection-free rows: the output against the input (= the target)."""
    head = [
        "type",
        "n",
        "PSNR out vs in (mean / worst)",
        f"crops >= {NO_HARM_PSNR:.0f} dB %",
        "SSIM out",
        "dist out vs in",
        f"faces moved < {STILL} %",
        "HOG % in/out",
        "MTCNN % in/out",
        "skipped",
    ]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for name, s in rows.items():
        cells = [
            name,
            str(s["n"]),
            f"{num(s['psnr_io'])} / {num(s['psnr_io_min'])}",
            share(s, "psnr_io_35"),
            num(s["ssim_out"], ".3f"),
            num(s["dist_io"], ".3f"),
            share(s, "still"),
            _pct(s, "hog_in", "hog_out"),
            _pct(s, "mtcnn_in", "mtcnn_out"),
            str(s["skipped"]),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def held_out_text(h: dict[str, Any]) -> str:
    det = f"HOG {100 * h['hog_vs_clean']:+.0f} points"
    if h["mtcnn_vs_clean"] is not None:
        det += f", MTCNN {100 * h['mtcnn_vs_clean']:+.0f} points"
    return (
        f"left out of training ({', '.join(h['types'])}; {h['n']} samples): face-box PSNR "
        f"{num(h['fpsnr_in'])} -> {num(h['fpsnr_out'])} dB (gain {num(h['fpsnr_gain'])} dB), closer {share(h, 'closer')} %, "
        f"detection out vs clean: {det} (HOG out {share(h, 'hog_out')} %, clean {100 * h['hog_clean']:.0f} %)"
    )


def checks_text(results: list[dict[str, Any]]) -> str:
    return "\n".join(f"{c['result']:>4}  {c['check']}: {c['value']}" for c in results)


def render(result: dict[str, Any]) -> str:
    """The printed report of a run (``quality.json``'s keys: rows, left_out, checks, speed, machine, ...)."""
    rows, held = result["rows"], result["held_out_types"]
    main_rows = {k: v for k, v in rows.items() if k not in NOHARM_TYPES}
    noharm_rows = {k: v for k, v in rows.items() if k in NOHARM_TYPES}
    lines = [
        f"model: {result['model']}; {result['people']} held-out people, {result['per_type']} per type at "
        f"{result['size']} px, seed {result['seed']}"
    ]
    if main_rows:
        lines += [
            table(main_rows, held),
            "c/i: clean target / through glass; in / out: through glass / cleaned; [a, b]: bootstrap 95 % interval;",
            "landmarks: MTCNN's 5 points against the clean face's, over the inter-ocular distance; dist: dlib distance",
            "to the clean face (lower is better); closer: faces whose distance fell after cleaning; rank-1 against",
            f"one portrait per held-out person; *: left out of the model's training (--held-out-types {','.join(held)})",
        ]
    if noharm_rows:
        lines += [
            "",
            "do no harm (reflection-free crops: the target is the input)",
            noharm_table(noharm_rows),
        ]
    if (left_out := result["left_out"]) is not None:
        left_rows = {t: rows[t] for t in left_out["types"]} | {"left out, pooled": left_out}
        lines += ["", "left out of training (--held-out-types)", table(left_rows), held_out_text(left_out)]
    if any(c["result"] != "n/a" for c in result["checks"]):
        lines += ["", "issue 23 must-show checks:", checks_text(result["checks"])]
    speed, info = result["speed"], result["machine"]
    speed_text = (
        "n/a for the identity model"
        if speed is None
        else f"failed: {speed['error']}"
        if "error" in speed
        else f"{speed['frames_per_s']} frames/s (median {speed['median_s']} s of {speed['runs']} runs, {speed['threads']} threads)"
    )
    lines += [
        "",
        f"speed (ONNX Runtime, 256x256 batch 1): {speed_text}",
        *([f"scene, recipe and do-no-harm types: {result['photos']}"] if result.get("photos") else []),
        f"machine: {info['cpu']}, {info['cores']} cores, torch threads {info['torch_threads']}, "
        f"load average {info['load_avg']} at the end; total {result['total_s']:.0f} s ({result['cpu_s']:.0f} s CPU)",
    ]
    return "\n".join(lines)
