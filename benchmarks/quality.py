"""Quality of a reflection remover on faces, reflections, scenes and glass that training never sees.

    .venv/bin/python benchmarks/quality.py [--model PATH|identity] [--per-type 40] [--size 256]
        [--suite held-out|cross|noharm|all | --types sky,scene:portrait,...] [--held-out-types T,...]
        [--out runs/quality] [--portraits ../shared/data/portraits] [--no-mtcnn] [--parts reflection,camera]
    .venv/bin/python benchmarks/quality.py --from-json runs/quality/quality.json [--held-out-types T,...]

Test set (fixed: the same bytes on every run for a given --seed, --size and --per-type; every sample a
pure function of (seed, type, position)): the held-out people of the real portraits
(``identity_split == 'test'``) behind glass rendered by the project's synthesiser
(:mod:`benchmarks.quality_lib.render`). Suites (``--suite``; ``--types`` picks types of any suite):

* ``held-out`` (the default): the project's windshield recipe with the held-out reflection photos
  (``TEST_PHOTOS``), the same number of samples per reflection type (sky, foliage, buildings,
  streetlights, photo, glare, false_colour, nir; ``clean``, no reflection, on request), plus an
  ``other recipe`` row: a display-space blend the synthesiser never makes;
* ``cross`` (issue 23): scene types ``scene:cabin``, ``scene:portrait`` (the photo as taken),
  ``scene:backdrop_dark`` / ``scene:backdrop_bright`` (the sitter before a defocused photo, exposed
  0.1-0.35 / 0.9-1.3), ``scene:rear_window``, each through a per-sample mix of the windshield, linear
  and gains glass models; recipe types ``recipe:windshield``, ``recipe:linear``, ``recipe:screen``,
  ``recipe:gains``, ``recipe:veil`` (dusty glass in sunlight, no model's recipe has it), each over a mix
  of the cabin, portrait and backdrop scenes. Reflections and
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
landmarks on the clean image are ``skipped`` for identity (:mod:`benchmarks.quality_lib.faces`). Shares
carry bootstrap 95 % intervals over the faces (``82 [76, 88]``; :mod:`benchmarks.quality_lib.summary`).
Do-no-harm rows add the output's PSNR against the input and the share of faces whose dlib distance
between output and input stays below 0.05. ``overall`` pools the held-out reflection types.

Leave-one-out: ``--held-out-types`` (default ``scene:rear_window,recipe:screen,recipe:veil``, which the
bundled remover was trained without) are marked ``*`` and pooled in a "left out of training" line, followed by
issue 23's must-show checks as PASS/FAIL lines (n/a where their rows did not run). And the model's
speed through ONNX Runtime, 256x256 batch 1 (median of >= 20 runs, 2 threads). ``--model identity``
(output = input) is the no-op baseline. ``--from-json OUT/quality.json`` prints a saved run's report
again from its per-sample records, e.g. with the left-out types of another model.

``--parts reflection,camera`` decomposes the held-out reflection types: the same samples rendered again
with only part of the glass recipe (``reflection``: no sensor noise or JPEG; ``camera``: that noise and
JPEG, no reflection, ghost, glare, false colour or NIR veil), one ``overall`` row each
(:func:`benchmarks.quality_lib.render.recipe_part`).

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
    from benchmarks.quality_lib.faces import FaceMeter
    from benchmarks.quality_lib.models import Model
    from benchmarks.quality_lib.render import Pair

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
PSNR_CAP = 100.0
HELD_OUT_TYPES = "scene:rear_window,recipe:screen,recipe:veil"  # what the bundled remover never saw


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


def no_nan(obj: Any) -> Any:
    """``obj`` with NaN (a face box too small for SSIM, landmarks MTCNN did not find) as None: valid JSON."""
    if isinstance(obj, float) and obj != obj:
        return None
    if isinstance(obj, dict):
        return {k: no_nan(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [no_nan(v) for v in obj]
    return obj


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
    from benchmarks.quality_lib.render import ALL_TYPES, PARTS, SUITES, TYPES
    from reflect.utils.paths import shared_data

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
    ap.add_argument(
        "--from-json",
        default="",
        help="tabulate a saved quality.json again (e.g. with other "
        "--held-out-types) instead of running: no rendering, no model",
    )
    ap.add_argument("--out", default=str(REPO / "runs" / "quality"))
    ap.add_argument("--portraits", default=str(shared_data("portraits")))
    ap.add_argument(
        "--enhance-faces",
        nargs="?",
        const="bundled",
        default="",
        help="also clean each face with the face model (default: the bundled one), as --enhance-faces does",
    )
    ap.add_argument("--no-mtcnn", action="store_true", help="skip the slow MTCNN detector")
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument(
        "--work-size",
        default="auto",
        metavar="auto|0|N",
        help="run the model at this size as `reflect translate`, `clean` and `stream` do (default auto: the "
        "model's training size, as theirs; 0: at --size); with a --size above the training scale, 0 measures "
        "how the model itself copes with larger inputs",
    )
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
    from reflect.errors import ConfigError
    from reflect.work_size import check_work_size  # the jobs' own check

    try:
        args.work_size = check_work_size(args.work_size)
    except ConfigError as e:
        fail(str(e))
    args.reflection_types = [t for t in args.types if t in ALL_TYPES]
    return args


def run(args: argparse.Namespace) -> int:
    import torch

    from benchmarks.quality_lib import report, summary
    from benchmarks.quality_lib.faces import FaceMeter
    from benchmarks.quality_lib.models import at_work_size, enhanced, machine, onnx_speed, open_model
    from benchmarks.quality_lib.render import OTHER, cross_photos, pairs, synth_pairs, test_faces
    from reflect.data.synth.faces import load_face_bank
    from reflect.errors import ReflectError
    from reflect.utils.atomic import atomic_write_text

    t0, cpu0, out = time.perf_counter(), time.process_time(), Path(args.out)
    torch.set_num_threads(args.torch_threads)
    out.mkdir(parents=True, exist_ok=True)
    model = open_model(args.model, args.torch_threads)
    if args.enhance_faces:
        model = enhanced(model, None if args.enhance_faces == "bundled" else args.enhance_faces)
    if args.work_size == "auto":  # as the jobs resolve it: the model file's training size
        from reflect.loader import identify
        from reflect.work_size import resolve_work_size

        args.work_size = (
            0 if args.model == "identity" else resolve_work_size("auto", identify(args.model or None))
        )
    if args.work_size:
        model = at_work_size(model, int(args.work_size))
    faces = test_faces(load_face_bank(args.portraits, cache=out / "face_cache.json"), args.seed)
    if not faces:
        print(
            f"quality benchmark skipped: no held-out (test split) face in {args.portraits}", file=sys.stderr
        )
        return 2
    photos, photo_names = None, None
    if any(t not in args.reflection_types for t in args.types):
        bank, photos = cross_photos()
        photo_names = bank.names
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
    rows = report.build_rows(records, kinds, args.reflection_types)
    left_out = summary.held_out(records, args.held_out_types)
    speed: dict[str, Any] | None = None
    if model.source is not None:
        try:
            speed = onnx_speed(model.source, 256, args.threads, args.speed_runs)
        except ReflectError as e:  # e.g. an export parity failure: report it, keep the quality figures
            speed = {"error": str(e)}
    total, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    result = {
        "model": model.name,
        "per_type": args.per_type,
        "size": args.size,
        "work_size": args.work_size,
        "seed": args.seed,
        "types": args.types,
        "other": args.other,
        "people": len(faces),
        "mtcnn": not args.no_mtcnn,
        "photos": photos,
        "photo_names": photo_names,
        "rows": rows,
        "held_out_types": args.held_out_types,
        "left_out": left_out,
        "checks": summary.checks(rows, left_out),
        "speed": speed,
        "machine": machine(args.torch_threads),
        "total_s": round(total, 1),
        "cpu_s": round(cpu, 1),
        "samples": records,
    }
    text = report.render(result)
    print(text)
    atomic_write_text(out / "quality.json", json.dumps(no_nan(result), indent=1) + "\n")
    write_html(out / "index.html", f"reflect quality: {model.name}", text, shown)
    print(f"wrote {out / 'quality.json'} and {out / 'index.html'}")
    return 0


def retabulate(path: Path, held_out_types: list[str]) -> int:
    """The report of a saved run from its per-sample records, left-out rows as ``held_out_types`` say."""
    from benchmarks.quality_lib import report, summary
    from benchmarks.quality_lib.render import ALL_TYPES, OTHER

    try:
        result = json.loads(path.read_text())
        records = result["samples"]
    except (OSError, ValueError, KeyError) as e:
        print(f"quality benchmark: cannot read {path} as a quality.json: {e}", file=sys.stderr)
        return 2
    kinds = result["types"] + ([OTHER] if any(r["type"] == OTHER for r in records) else [])
    rows = report.build_rows(records, kinds, [t for t in result["types"] if t in ALL_TYPES])
    left_out = summary.held_out(records, held_out_types)
    checks = summary.checks(rows, left_out)
    result |= {"rows": rows, "held_out_types": held_out_types, "left_out": left_out, "checks": checks}
    print(f"tabulated again from {path}\n{report.render(result)}")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.from_json:
        return retabulate(Path(args.from_json), args.held_out_types)
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
