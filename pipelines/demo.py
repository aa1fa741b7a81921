"""``reflect demo``: the whole story on the bundled public-domain sample faces, in minutes on a CPU.

1. face photos from ``pipelines/demo_data/faces`` (Obama, Biden) and scikit-image's astronaut
   (Eileen Collins); one clean head crop per identity is the gallery (the watch-list photo);
2. window crops as a checkpoint camera sees them (:mod:`pipelines.demo_scene`): WINDOW px (256, the size the bundled model was
   trained at), a dark cabin-like backdrop (its own simple recipe, not the training renderer's)
   with the head and shoulders pasted so the face is 25-35 % of the width; then the demo's own glass
   recipe, :func:`through_glass` (tint and darkening plus a blurred, Fresnel-weighted reflection
   added in display values; the bundled model was trained on a different, linear-light recipe),
   with reflection layers from :mod:`reflect.data.synth.reflections` (sky, foliage, buildings,
   street lights); a folder of stills and a short video with a drifting reflection;
3. ``reflect clean`` of the stills and the video with the **bundled generator file**
   (:func:`reflect.bundled.bundled_model_path`, or ``model`` when given); its training never saw
   these identities;
4. ``reflect faces eval`` before vs after (detection rate, identity similarity, rank-1, EER...) and
   PSNR against the clean window (the demo has it: the same scene without the glass);
5. with ``train_demo_model`` (``reflect demo --train-demo-model``): a small demo CycleGAN is also
   trained here with ``reflect train`` in a subprocess (pipelines never import reflect.train) on
   these very identities and this glass recipe, cleans the same stills and video, and the report
   shows both models side by side;
6. ``runs/demo/report.html`` (with metrics.json, roc.png, images/ beside it) and demo.json (numbers
   and timings).
"""

from __future__ import annotations

import html
import json
import math
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from pipelines.demo_scene import FACE_WIDTH, PROBES, STRENGTH, WINDOW, build_data, face_photos
from reflect.data.io import read_image, write_image
from reflect.utils.atomic import atomic_write_text


def train_model(root: Path, data: Path, steps: int, pairs: Path | None = None) -> Path:
    """Train the small demo model with ``reflect train`` in a subprocess (pipelines never import reflect.train).

    It trains on 64 px random crops of the 256 px windows at their native scale (so it cleans them at
    the scale it learnt). With ``pairs`` (ROOT/train/input + target), half the A samples are synthetic
    pairs and feed CycleGAN's supervised L1 term: with a few hundred CPU steps, the unpaired losses
    alone teach the generator little, the paired term teaches it what a clean window looks like.
    """
    cfg = Path(__file__).resolve().parents[1] / "configs" / "cyclegan.yaml"
    overrides = [
        "name=demo_model",
        f"out_dir={root}",
        f"data.root={data}",
        f"data.load_size={WINDOW}",
        "data.crop_size=64",
        "data.num_workers=0",
        "data.batch_size=1",
        "model.ngf=16",
        "model.ndf=16",
        "model.n_blocks=2",
        f"train.steps={steps}",
        f"train.decay_steps={steps // 2}",
        f"train.checkpoint_every={steps}",
        f"train.sample_every={steps}",
        "train.log_every=50",
        "train.tensorboard=false",
    ]
    if pairs is not None:
        overrides += [f"data.paired_root={pairs}", "data.paired_fraction=0.5", "model.lambda_sup=10"]
    overrides.append("model.residual=true")  # starts near the identity: faces survive a short training
    shutil.rmtree(
        root / "demo_model", ignore_errors=True
    )  # the demo's own run: `reflect train` never reuses one
    subprocess.run([sys.executable, "-m", "reflect", "train", str(cfg), *overrides], check=True)
    return root / "demo_model"


def describe_model(path: str, bundled: bool) -> dict[str, Any]:
    """What the report says about a model: file, variant, training step, training faces."""
    from deploy.model_file import describe_source
    from reflect.bundled import read_generator_metadata

    src = describe_source(path)  # identified by its bytes (reflect.loader), not its name
    info: dict[str, Any] = {
        "path": str(path),
        "name": Path(path).name,
        "bundled": bundled,
        "step": src.step,
        "ema": src.ema,
        "variant": "?",
        "training_faces": None,
    }
    if src.kind == "generator":
        meta = read_generator_metadata(src.path)
        info["variant"] = meta.get("variant", "?")
        try:
            data = json.loads(meta["config"]).get("data", {})
            info["training_faces"] = {"folders": data.get("faces"), "split": data.get("faces_split")}
        except (KeyError, ValueError, AttributeError):
            pass
    return info


def model_statement(info: dict[str, Any]) -> str:
    """One paragraph: which model cleaned, and whether its training saw the demo identities."""
    who = "the bundled model" if info["bundled"] else "the model file"
    step = f", training step {info['step']}" if info["step"] else ""
    text = f"Cleaned by {who} {info['name']} (variant {info['variant']}{step}, {'EMA weights' if info['ema'] else 'raw weights'}). "
    faces = info["training_faces"] or {}
    folders = [str(f) for f in (faces.get("folders") or [])]
    if folders and all(Path(f).name == "portraits" for f in folders):
        text += (
            f"It was trained on windshield renders of the '{faces.get('split')}' split of {', '.join(folders)} "
            "(official portraits of Brazilian legislators): its training never saw the demo identities "
            "(Obama and Biden from pipelines/demo_data, and scikit-image's astronaut, Eileen Collins), "
            "nor the demo's glass recipe."
        )
    elif folders:
        text += (
            f"Its training faces came from {', '.join(folders)}; the demo cannot tell whether the demo "
            "identities (Obama, Biden, Eileen Collins) were among them."
        )
    else:
        text += "Its training data are not recorded in the file; the demo cannot tell whether it saw these identities."
    return text


def image_metrics(d: dict[str, Path], manifest: dict[str, Any], stills: Path) -> dict[str, float]:
    """Mean PSNR (dB) of the stills in ``stills`` against the clean windows (whole window and face
    box) and against the view through the glass without the reflection."""
    from reflect.metrics.image import psnr

    win, face, norefl = [], [], []
    for rel, (x1, y1, x2, y2) in sorted(manifest["face_boxes"].items()):
        img = read_image(stills / rel)
        clean = read_image(d["clean"] / "stills" / rel)
        x1, y1 = max(0, x1), max(0, y1)
        win.append(psnr(img, clean))
        face.append(psnr(img[y1:y2, x1:x2], clean[y1:y2, x1:x2]))
        norefl.append(psnr(img, read_image(d["no_reflection"] / "stills" / rel)))

    def mean(v: list[float]) -> float:
        return float(np.mean(np.minimum(v, 100.0)))  # an identical image (inf) counts as 100 dB

    return {
        "psnr_vs_clean": mean(win),
        "psnr_face_vs_clean": mean(face),
        "psnr_vs_no_reflection": mean(norefl),
    }


def run_demo(
    out: str | Path = "runs/demo",
    steps: int = 600,
    train_demo_model: bool = False,
    model: str | Path | None = None,
) -> Path:
    """Run the demo into ``out``; returns the report page. ``model``: clean with this model file
    instead of the bundled one; ``train_demo_model``: also train the small demo model (``steps``)."""
    from pipelines.batch_clean.runner import CleanOptions, run_clean
    from pipelines.face_eval.backend import FaceBackend
    from pipelines.face_eval.evaluate import run_face_eval
    from reflect.bundled import model_or_bundled

    root, t0, timings = Path(out), time.perf_counter(), {}
    model_path = model_or_bundled(model)  # the bundled file unless one is given; a missing one fails here
    models = {"bundled": describe_model(model_path, bundled=model is None)}
    n = 5 if train_demo_model else 4
    backend = FaceBackend("dlib-torch")
    print(f"demo 1/{n}: window crops of the bundled public-domain faces, through synthetic glass", flush=True)
    d = build_data(root / "data", face_photos(backend), train=train_demo_model)
    manifest = json.loads((root / "data" / "manifest.json").read_text())
    timings["data_s"] = time.perf_counter() - t0
    paths = {"bundled": model_path}
    step = 2
    if train_demo_model:
        print(f"demo {step}/{n}: training a small demo model for {steps} steps (a few minutes)", flush=True)
        t = time.perf_counter()
        paths["demo_model"] = str(train_model(root, d["train"], steps, pairs=d["pairs"]))
        models["demo_model"] = describe_model(paths["demo_model"], bundled=False) | {"variant": "cyclegan"}
        timings["train_s"] = time.perf_counter() - t
        step += 1
    also = " and the small demo model" if train_demo_model else ""
    print(
        f"demo {step}/{n}: cleaning the stills and the video with {models['bundled']['name']}{also} (reflect clean)",
        flush=True,
    )
    t, clean_jobs = time.perf_counter(), {}
    for key, path in paths.items():
        clean_jobs[key] = run_clean(
            CleanOptions(
                path, str(d["glass"]), str(root / "cleaned" / key), restart=True, progress=False, workers=1
            )
        )
    timings["clean_s"] = time.perf_counter() - t
    print(f"demo {step + 1}/{n}: face recognition before and after (reflect faces eval)", flush=True)
    t = time.perf_counter()
    title = "reflect demo: face recognition through the windshield"
    statement = model_statement(models["bundled"])
    notes = (
        f"{statement} Probes: {PROBES} synthetic windshield views per identity, {WINDOW} px window crops with "
        "the face about a third of the width, through the demo's own glass recipe (see 'About the data')."
    )
    res = {
        "bundled": run_face_eval(
            d["gallery"],
            d["glass"] / "stills",
            root,
            cleaned=root / "cleaned" / "bundled" / "stills",
            backend=backend,
            title=title,
            notes=notes,
        )
    }
    if train_demo_model:
        res["demo_model"] = run_face_eval(
            d["gallery"],
            d["glass"] / "stills",
            root / "report_demo_model",
            cleaned=root / "cleaned" / "demo_model" / "stills",
            backend=backend,
            title="reflect demo: the small demo model",
            notes="A small CycleGAN trained by the demo.",
        )
    upper = run_face_eval(
        d["gallery"],
        d["clean"] / "stills",
        root / "report_clean_probes",
        backend=backend,
        title="reflect demo: clean windows (no glass)",
    )
    timings["eval_s"] = time.perf_counter() - t
    print(f"demo {n}/{n}: report", flush=True)
    columns: dict[str, dict[str, Any]] = {
        "through_glass": {
            **_face_numbers(res["bundled"]["probes"]),
            **image_metrics(d, manifest, d["glass"] / "stills"),
        }
    }
    for key in paths:
        columns[key] = {
            **_face_numbers(res[key]["cleaned"]),
            **image_metrics(d, manifest, root / "cleaned" / key / "stills"),
        }
    columns["clean_probes"] = _face_numbers(upper["probes"])
    timings["total_s"] = time.perf_counter() - t0
    summary = {
        "models": models,
        "headline": columns,
        "timings": timings,
        "clean_jobs": {k: v.to_dict() for k, v in clean_jobs.items()},
        "identity_similarity": {
            "through_glass": columns["through_glass"]["identity_similarity"],
            "cleaned": columns["bundled"]["identity_similarity"],
            "clean_probes_upper_bound": columns["clean_probes"]["identity_similarity"],
        },
        "psnr": {
            "through_glass": columns["through_glass"]["psnr_vs_clean"],
            "cleaned": columns["bundled"]["psnr_vs_clean"],
        },
    }
    atomic_write_text(root / "demo.json", json.dumps(summary, indent=2))
    grid = _side_by_side(d, root, list(paths), manifest)
    strip = _video_strip(root, list(paths))
    page = root / "report.html"
    text = page.read_text()
    detail = (
        '<h2>Face metrics in detail (bundled model)</h2><p class="note">The headline\'s face rows come from this '
        "table, under the same names; it adds lower false-accept rates, rank-5 and the number of pairs.</p>"
    )
    for marker, extra in (
        ("<h2>Metrics</h2>", _headline_html(models, columns) + detail),
        (
            "<h2>Before / after</h2>",
            grid + strip + _about_html() + "<h2>Before / after (stills, bundled model)</h2>",
        ),
    ):
        if marker not in text:
            raise RuntimeError(f"the face report {page} has no '{marker}' section to extend")
        text = text.replace(marker, extra, 1)
    atomic_write_text(page, text)
    print(
        f"demo: done in {timings['total_s']:.0f} s; identity similarity {_f(columns['through_glass']['identity_similarity'])} "
        f"through the glass -> {_f(columns['bundled']['identity_similarity'])} cleaned, PSNR "
        f"{_f(columns['through_glass']['psnr_vs_clean'])} -> {_f(columns['bundled']['psnr_vs_clean'])} dB",
        flush=True,
    )
    return page


def _face_numbers(r: dict[str, Any]) -> dict[str, Any]:
    return {
        "detection_rate": r["detection_rate"],
        "identity_similarity": r["identity_similarity"],
        "rank1": r["rank1"],
        "eer": r["eer"],
        "tar_at_far_0.1": r["tar_at_far"]["0.1"],
    }


def _f(v: Any, digits: int = 3) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "n/a"
    return f"{v:.{digits}f}" if isinstance(v, float) else html.escape(str(v))


ROWS = (
    ("faces detected", "detection_rate", 3),
    ("identity similarity to clean reference", "identity_similarity", 3),
    ("rank-1 identification", "rank1", 3),
    ("EER (lower is better)", "eer", 3),
    ("TAR @ FAR 1e-1", "tar_at_far_0.1", 3),
    ("PSNR vs the clean window, dB", "psnr_vs_clean", 2),
    ("PSNR vs the clean window, face box, dB", "psnr_face_vs_clean", 2),
    ("PSNR vs the view through the glass without the reflection, dB", "psnr_vs_no_reflection", 2),
)


def _headline_html(models: dict[str, dict[str, Any]], columns: dict[str, dict[str, Any]]) -> str:
    heads = {
        "through_glass": "through the glass",
        "bundled": f"cleaned: {models['bundled']['name']}",
        "demo_model": "cleaned: small demo model",
        "clean_probes": "no glass (upper bound)",
    }
    keys = list(columns)
    head = "".join(f"<th>{html.escape(heads[k])}</th>" for k in keys)
    body = "".join(
        f"<tr><td>{html.escape(label)}</td>"
        + "".join(f"<td>{_f(columns[k].get(key), dig)}</td>" for k in keys)
        + "</tr>"
        for label, key, dig in ROWS
    )
    about = ""
    if "demo_model" in models:
        about = (
            "<p>Small demo model (for comparison; <code>--train-demo-model</code>): a CycleGAN (residual generator, "
            "ngf 16, 2 res-blocks) trained here for a few hundred steps on 64 px crops of windows of <b>these very "
            "identities through this very glass recipe</b> (half of them as synthetic pairs, whose clean target is "
            "the window without glass). It has home advantage and is not the product's model.</p>"
        )
    return (
        f"<h2>Headline: what cleaning changed</h2>{about}"
        f"<table><tr><th>metric (mean of the stills)</th>{head}</tr>{body}</table>"
        '<p class="note">Face numbers: the stills against the clean gallery photos (dlib ResNet embeddings). '
        "PSNR: the first two rows compare with the same window without any glass (the clean probes); the last row "
        "compares with the view through the glass without the reflection (tint and darkening kept), which is what "
        "the bundled model's training targets look like.</p>"
    )


def _about_html() -> str:
    return (
        "<h2>About the data</h2><p>Gallery: one clean head photo per identity. Probes: window crops drawn by the demo "
        f"({WINDOW} px, a dark cabin-like backdrop, the face {FACE_WIDTH[0]:.0%}-{FACE_WIDTH[1]:.0%} of the width), seen "
        "through the demo's own glass recipe: the scene tinted green-blue and darkened to 56-75 % of its brightness, plus a reflection layer "
        f"(procedural sky, foliage, buildings or street lights, the same families the bundled model's training uses) "
        f"blurred by 0.5-2 px and added in display values with strength {STRENGTH} fading to 45 % at the bottom. The "
        "bundled model was trained with a different recipe (linear light, other strengths, blur, ghosting, glare, "
        "noise, JPEG) and different cabins. The faces are public-domain photos (pipelines/demo_data/PROVENANCE.md); Biden and the astronaut "
        "have one photo each, so their probes show the gallery photo (mirrored on odd views) in a window.</p>"
    )


def _side_by_side(d: dict[str, Path], report: Path, keys: list[str], manifest: dict[str, Any]) -> str:
    """Two stills per identity: clean window | through the glass | cleaned by each model."""
    rels = [r for r in sorted(manifest["face_boxes"]) if r.endswith(("/0.png", "/3.png"))]
    rows = []
    for rel in rels:
        cells = [read_image(d["clean"] / "stills" / rel), read_image(d["glass"] / "stills" / rel)]
        cells += [read_image(report / "cleaned" / k / "stills" / rel) for k in keys]
        rows.append(
            np.concatenate([cv2.resize(c, (192, 192), interpolation=cv2.INTER_AREA) for c in cells], axis=1)
        )
    write_image(report / "images" / "side_by_side.jpg", np.concatenate(rows, axis=0), quality=90)
    cols = ["no glass", "through the glass"] + [
        "cleaned: bundled model" if k == "bundled" else "cleaned: small demo model" for k in keys
    ]
    return (
        f"<h2>Side by side (columns: {html.escape(' | '.join(cols))})</h2>"
        '<img src="images/side_by_side.jpg" alt="stills: clean, through the glass, cleaned">'
    )


def _video_strip(report: Path, keys: list[str]) -> str:
    """Every 6th frame of the video before and after cleaning, as one image."""
    paths = [report / "data" / "glass" / "video" / "checkpoint_cam.avi"]
    paths += [report / "cleaned" / k / "video" / "checkpoint_cam.mp4" for k in keys]
    rows = []
    for path in paths:
        cap, frames = cv2.VideoCapture(str(path)), []
        while True:
            ok, f = cap.read()
            if not ok:
                break
            frames.append(
                cv2.resize(cv2.cvtColor(f, cv2.COLOR_BGR2RGB), (128, 128), interpolation=cv2.INTER_AREA)
            )
        cap.release()
        rows.append(np.concatenate(frames[::6], axis=1) if frames else np.zeros((128, 128 * 6, 3), np.uint8))
    write_image(report / "video_strip.jpg", np.concatenate(rows, axis=0))
    names = ["through the glass", "cleaned by the bundled model"] + (
        ["cleaned by the small demo model"] if len(keys) > 1 else []
    )
    links = "".join(
        f'<li>{html.escape(n)}: <a href="{p.resolve().as_uri()}">{html.escape(p.name)}</a></li>'
        for n, p in zip(names, paths, strict=True)
    )
    return (
        f"<h2>Video (every 6th frame; rows: {html.escape(' | '.join(names))})</h2>"
        f'<img src="video_strip.jpg" alt="video frames before and after"><ul class="note">{links}</ul>'
    )
