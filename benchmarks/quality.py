"""Quality of a reflection remover on faces, reflections, scenes and glass that training never sees.

    .venv/bin/python benchmarks/quality.py [--model PATH|identity] [--per-type 40] [--size 256]
        [--suite held-out|cross|noharm|all | --types sky,scene:portrait,...] [--held-out-types T,...]
        [--out runs/quality] [--portraits ../shared/data/portraits] [--no-mtcnn] [--parts reflection,camera]

Test set (fixed: the same bytes on every run for a given --seed, --size and --per-type; every sample a
pure function of (seed, type, position)): the held-out people of the real portraits
(``identity_split == 'test'``) behind glass rendered by the project's synthesiser
(:mod:`pipelines.quality.render`). Suites (``--suite``; ``--types`` picks types of any suite):

* ``held-out`` (the default): the project's windshield recipe with the held-out reflection photos
  (``TEST_PHOTOS``), the same number of samples per reflection type (sky, foliage, buildings,
  streetlights, photo, glare, false_colour, nir; ``clean``, no reflection, on request), plus an
  ``other recipe`` row: a display-space blend the synthesiser never makes;
* ``cross`` (issue 23): scene types ``scene:cabin``, ``scene:portrait`` (the photo as taken),
  ``scene:backdrop_dark`` / ``scene:backdrop_bright`` (the sitter before a defocused photo, exposed
  0.1-0.35 / 0.9-1.3), ``scene:rear_window``, each through a per-sample mix of the windshield, linear
  and gains glass models; recipe types ``recipe:windshield``, ``recipe:linear``, ``recipe:screen``,
  ``recipe:gains``, each over a mix of the cabin, portrait and backdrop scenes. Reflections and
  backdrops from the photo cache's test split when present (else TEST_PHOTOS, said so);
* ``noharm``: reflection-free crops (``noharm:clean``: no glass; ``noharm:tinted``: tinted glass, whose
  tint belongs to the scene): the target is the input, the output must equal it;
* ``all``: the three.

Measured per type (``in``: the glass input, ``out``: the model's output, ``clean``: the target): PSNR
(capped at 100 dB) and SSIM of the whole crop and of the driver's face box; the share of driver faces
found by dlib HOG and by MTCNN; MTCNN's landmark error against the clean face's (mean point distance
over the inter-ocular distance; independent of dlib); dlib identity distance to the clean face
(landmarks from the clean image, so alignment is identical) and the share of faces that moved closer;
closed-set rank-1 against one descriptor per held-out person from the portrait itself; faces without
landmarks on the clean image are ``skipped`` for identity (:mod:`pipelines.quality.faces`). Shares
carry bootstrap 95 % intervals over the faces (``82 [76, 88]``; :mod:`pipelines.quality.summary`).
Do-no-harm rows add the output's PSNR against the input and the share of faces whose dlib distance
between output and input stays below 0.05. ``overall`` pools the held-out reflection types.

Leave-one-out: ``--held-out-types`` (default ``scene:rear_window,recipe:screen``, which the bundled
remover was trained without) are marked ``*`` and pooled in a "left out of training" line, followed by
issue 23's must-show checks as PASS/FAIL lines (n/a where their rows did not run). And the model's
speed through ONNX Runtime, 256x256 batch 1 (median of >= 20 runs, 2 threads). ``--model identity``
(output = input) is the no-op baseline.

``--parts reflection,camera`` decomposes the held-out reflection types: the same samples rendered again
with only part of the glass recipe (``reflection``: no sensor noise or JPEG; ``camera``: that noise and
JPEG, no reflection, ghost, glare, false colour or NIR veil), one ``overall`` row each
(:func:`pipelines.quality.render.recipe_part`).

Writes OUT/quality.json, OUT/index.html with before/after/target strips per type (OUT/examples/*.png:
renders of real portraits, so OUT stays under the git-ignored runs/), and prints the tables and the machine.
"""

from __future__ import annotations

import argparse
import html
import json
import sys
import time
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from pipelines.quality.faces import FaceMeter
    from pipelines.quality.models import Model
    from pipelines.quality.render import Pair

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
PSNR_CAP = 100.0
PART_ROWS = {"reflection": "overall, reflections only", "camera": "overall, camera only"}
HELD_OUT_TYPES = "scene:rear_window,recipe:screen"  # what the bundled remover was trained without


def evaluate(
    pairs: Iterable[Pair], model: Model, meter: FaceMeter, examples: int, out: Path
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Per-sample records of every pair, and the example strips written for the first ``examples``."""
    from reflect.data.io import write_image
    from reflect.metrics import psnr, ssim

    records, shown = [], []
    for p in pairs:
        y = model.translate(p.input[None])[0]
        rec: dict[str, Any] = {
            "type": p.kind,
            "index": p.index,
            "person": p.person,
            "scene": p.scene,
            "blend": p.blend,
        }
        box = face_box(p.box, p.target.shape)
        for tag, im in (("in", p.input), ("out", y)):
            rec[f"psnr_{tag}"] = min(psnr(im, p.target), PSNR_CAP)
            rec[f"ssim_{tag}"] = ssim(im, p.target)
            rec[f"fpsnr_{tag}"] = min(psnr(im[box], p.target[box]), PSNR_CAP)
            rec[f"fssim_{tag}"] = (
                ssim(im[box], p.target[box]) if min(im[box].shape[:2]) >= SSIM_MIN else float("nan")
            )
        rec["psnr_io"] = min(psnr(y, p.input), PSNR_CAP)
        rec |= meter.measure(p.target, p.input, y, p.box, p.person)
        records.append(rec)
        if p.index < examples:
            name = f"examples/{p.kind.replace(' ', '_').replace(':', '_')}_{p.index}.png"
            write_image(out / name, np.hstack([p.input, y, p.target]))
            shown.append(
                {
                    "type": p.kind,
                    "index": p.index,
                    "file": name,
                    "psnr_in": rec["psnr_in"],
                    "psnr_out": rec["psnr_out"],
                }
            )
    return records, shown


SSIM_MIN = 11  # SSIM's Gaussian window (sigma 1.5, truncated at 3.5 sigma): smaller face boxes get none


def face_box(box: tuple[float, float, float, float], shape: tuple[int, ...]) -> tuple[slice, slice]:
    """The driver's face box as array slices, clipped to the image, at least one pixel."""
    h, w = shape[:2]
    x1, y1 = min(max(int(box[0]), 0), w - 1), min(max(int(box[1]), 0), h - 1)
    x2, y2 = max(min(int(round(box[2])), w), x1 + 1), max(min(int(round(box[3])), h), y1 + 1)
    return slice(y1, y2), slice(x1, x2)


def write_html(path: Path, title: str, text: str, shown: list[dict[str, Any]]) -> None:
    from reflect.utils.atomic import atomic_write_text

    cells = "".join(
        f'<figure><img src="{html.escape(e["file"])}" alt=""><figcaption>{html.escape(e["type"])} #{e["index"]}: '
        f"PSNR {e['psnr_in']:.2f} &rarr; {e['psnr_out']:.2f} dB</figcaption></figure>"
        for e in shown
    )
    atomic_write_text(
        path,
        f"""<!doctype html><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>body{{font-family:sans-serif}} figure{{display:inline-block;margin:6px}} img{{image-rendering:pixelated}}</style>
<h1>{html.escape(title)}</h1><pre>{html.escape(text)}</pre>
<h2>Examples: through glass | cleaned | clean target</h2>{cells}
""",
    )


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    from pipelines.quality.render import ALL_TYPES, PARTS, SUITES, TYPES

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument(
        "--model",
        default="",
        help="checkpoint, run folder, .safetensors or .onnx; 'identity' = no-op (default: the bundled model)",
    )
    ap.add_argument("--per-type", type=int, default=40)
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument(
        "--suite", default="held-out", help=f"which types: {', '.join(SUITES)} (default held-out)"
    )
    ap.add_argument("--types", default="", help=f"comma-separated, instead of --suite, of {', '.join(TYPES)}")
    ap.add_argument(
        "--held-out-types",
        default=HELD_OUT_TYPES,
        help=f"types the model never trained on, for the leave-one-out table (default {HELD_OUT_TYPES})",
    )
    ap.add_argument("--no-other", action="store_true", help="skip the 'other recipe' row")
    ap.add_argument("--out", default=str(REPO / "runs" / "quality"))
    ap.add_argument("--portraits", default=str(REPO.parent / "shared" / "data" / "portraits"))
    ap.add_argument(
        "--enhance-faces",
        nargs="?",
        const="bundled",
        default="",
        help="also clean each face with the face model (default: the bundled one), as --enhance-faces does",
    )
    ap.add_argument("--no-mtcnn", action="store_true", help="skip the slow MTCNN detector")
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument("--examples", type=int, default=3, help="example strips per type in index.html")
    ap.add_argument("--threads", type=int, default=2, help="ONNX Runtime threads for the speed figure")
    ap.add_argument(
        "--torch-threads",
        type=int,
        default=1,
        help="torch threads for cleaning and MTCNN (1: no spinning threads on a shared CPU)",
    )
    ap.add_argument(
        "--speed-runs", type=int, default=20, help="timed ONNX Runtime runs (median), after 3 warm-up runs"
    )
    ap.add_argument(
        "--parts",
        default="",
        help="also render every held-out reflection type with only part of the "
        "recipe: comma-separated, of reflection (no camera noise/JPEG), camera (no reflection)",
    )
    args = ap.parse_args(argv)

    def fail(message: str) -> None:  # one line and exit 2, as argparse's exit status, without its usage lines
        print(f"quality benchmark: {message}", file=sys.stderr)
        sys.exit(2)

    if args.suite not in SUITES:
        fail(f"unknown suite {args.suite}; valid: {', '.join(SUITES)}")
    given = [t for t in args.types.split(",") if t]
    if bad := [t for t in given if t not in TYPES]:
        fail(f"unknown type(s) {', '.join(bad)}; valid: {', '.join(TYPES)}")
    args.held_out_types = [t for t in args.held_out_types.split(",") if t]
    if bad := [t for t in args.held_out_types if t not in TYPES]:
        fail(f"unknown --held-out-types {', '.join(bad)}; valid: {', '.join(TYPES)}")
    args.types = given or list(SUITES[args.suite])
    args.other = not args.no_other and (bool(given) or args.suite in ("held-out", "all"))
    args.parts = [t for t in args.parts.split(",") if t]
    if bad := [t for t in args.parts if t not in PARTS[1:]]:
        fail(f"unknown part(s) {', '.join(bad)}; valid: {', '.join(PARTS[1:])}")
    if args.per_type < 1 or args.speed_runs < 1:
        fail("--per-type and --speed-runs must be at least 1")
    args.reflection_types = [t for t in args.types if t in ALL_TYPES]
    return args


def run(args: argparse.Namespace) -> int:
    import torch

    from pipelines.quality import summary
    from pipelines.quality.faces import FaceMeter
    from pipelines.quality.models import enhanced, machine, onnx_speed, open_model
    from pipelines.quality.render import NOHARM_TYPES, OTHER, cross_photos, pairs, synth_pairs, test_faces
    from reflect.data.synth.faces import load_face_bank
    from reflect.errors import ReflectError
    from reflect.utils.atomic import atomic_write_text

    t0, cpu0, out = time.perf_counter(), time.process_time(), Path(args.out)
    torch.set_num_threads(args.torch_threads)
    out.mkdir(parents=True, exist_ok=True)
    model = open_model(args.model, args.torch_threads)
    if args.enhance_faces:
        model = enhanced(model, None if args.enhance_faces == "bundled" else args.enhance_faces)
    faces = test_faces(load_face_bank(args.portraits, cache=out / "face_cache.json"), args.seed)
    if not faces:
        print(
            f"quality benchmark skipped: no held-out (test split) face in {args.portraits}", file=sys.stderr
        )
        return 2
    photos = None
    if any(t not in args.reflection_types for t in args.types):
        photos = cross_photos()[1]
        print(f"scene, recipe and do-no-harm types reflect {photos}", file=sys.stderr)
    meter = FaceMeter(mtcnn=not args.no_mtcnn)
    meter.set_gallery(faces)
    records, shown = [], []
    kinds = args.types + ([OTHER] if args.other else [])
    for kind in kinds:
        t1 = time.perf_counter()
        recs, ex = evaluate(
            pairs(kind, faces, args.per_type, args.size, args.seed), model, meter, args.examples, out
        )
        records += [r | {"part": "full"} for r in recs]
        shown += ex
        print(f"{kind}: {len(recs)} samples in {time.perf_counter() - t1:.1f} s", file=sys.stderr)
    for part in args.parts:
        t1 = time.perf_counter()
        for t in args.reflection_types:
            recs, _ = evaluate(
                synth_pairs(t, faces, args.per_type, args.size, args.seed, part), model, meter, 0, out
            )
            records += [r | {"part": part} for r in recs]
        print(
            f"{part} only: {args.per_type} x {len(args.reflection_types)} samples in {time.perf_counter() - t1:.1f} s",
            file=sys.stderr,
        )
    full = [r for r in records if r["part"] == "full"]
    rows = {t: summary.summarise([r for r in full if r["type"] == t]) for t in args.reflection_types}
    if overall := [r for r in full if r["type"] in args.reflection_types and r["type"] != "clean"]:
        rows["overall"] = summary.summarise(overall)
        for part in args.parts:
            rows[PART_ROWS[part]] = summary.summarise(
                [r for r in records if r["part"] == part and r["type"] != "clean"]
            )
    for t in [t for t in kinds if t not in args.reflection_types]:
        rows[t] = summary.summarise([r for r in full if r["type"] == t])
    left_out = summary.held_out(full, args.held_out_types)
    checks = summary.checks(rows, left_out)
    speed: dict[str, Any] | None = None
    if model.source is not None:
        try:
            speed = onnx_speed(model.source, 256, args.threads, args.speed_runs)
        except ReflectError as e:  # e.g. an export parity failure: report it, keep the quality figures
            speed = {"error": str(e)}
    total, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    info = machine(args.torch_threads)
    model_name = model.name
    speed_text = (
        "n/a for the identity model"
        if speed is None
        else f"failed: {speed['error']}"
        if "error" in speed
        else f"{speed['frames_per_s']} frames/s (median {speed['median_s']} s of {speed['runs']} runs)"
    )
    main_rows = {k: v for k, v in rows.items() if k not in NOHARM_TYPES}
    noharm_rows = {k: v for k, v in rows.items() if k in NOHARM_TYPES}
    lines = [
        f"model: {model_name}; {len(faces)} held-out people, {args.per_type} per type at {args.size} px, seed {args.seed}"
    ]
    if main_rows:
        lines += [
            summary.table(main_rows, args.held_out_types),
            "c/i: clean target / through glass; in / out: through glass / cleaned; [a, b]: bootstrap 95 % interval;",
            "landmarks: MTCNN's 5 points against the clean face's, over the inter-ocular distance; dist: dlib distance",
            "to the clean face (lower is better); closer: faces whose distance fell after cleaning; rank-1 against",
            f"one portrait per held-out person; *: left out of the model's training (--held-out-types {','.join(args.held_out_types)})",
        ]
    if noharm_rows:
        lines += [
            "",
            "do no harm (reflection-free crops: the target is the input)",
            summary.noharm_table(noharm_rows),
        ]
    if left_out is not None:
        lines += ["", summary.held_out_text(left_out)]
    if any(c["result"] != "n/a" for c in checks):
        lines += ["", "issue 23 must-show checks:", summary.checks_text(checks)]
    lines += [
        "",
        f"speed (ONNX Runtime, 256x256 batch 1, {args.threads} threads): {speed_text}",
        *([f"scene, recipe and do-no-harm types: {photos}"] if photos else []),
        f"machine: {info['cpu']}, {info['cores']} cores, torch threads {info['torch_threads']}, "
        f"load average {info['load_avg']} at the end; total {total:.0f} s ({cpu:.0f} s CPU)",
    ]
    text = "\n".join(lines)
    print(text)
    result = {
        "model": model_name,
        "per_type": args.per_type,
        "size": args.size,
        "seed": args.seed,
        "types": args.types,
        "people": len(faces),
        "mtcnn": not args.no_mtcnn,
        "photos": photos,
        "rows": rows,
        "held_out_types": args.held_out_types,
        "left_out": left_out,
        "checks": checks,
        "speed": speed,
        "machine": info,
        "total_s": round(total, 1),
        "cpu_s": round(cpu, 1),
        "samples": records,
    }
    atomic_write_text(out / "quality.json", json.dumps(result, indent=1) + "\n")
    write_html(out / "index.html", f"reflect quality: {model_name}", text, shown)
    print(f"wrote {out / 'quality.json'} and {out / 'index.html'}")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if not Path(args.portraits).is_dir():
        print(f"quality benchmark skipped: portraits folder {args.portraits} is missing", file=sys.stderr)
        return 2
    from reflect.errors import ReflectError

    try:
        return run(args)
    except ReflectError as e:  # a missing or unreadable model, face bank or photo: one line, not a traceback
        print(f"quality benchmark failed: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
