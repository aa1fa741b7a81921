"""``reflect demo``: the whole story on the bundled public-domain sample faces, in minutes on a CPU.

1. face crops from ``pipelines/demo_data/faces`` (and scikit-image's astronaut), one clean gallery
   photo per identity;
2. synthetic windshield views of them: reflection layers from :mod:`reflect.data.synth.reflections`
   (sky, foliage, buildings, street lights) blurred, Fresnel-weighted and added over the tinted face;
   a folder of stills and a short video with a drifting reflection;
3. a *small demo model* (CycleGAN, ngf 16, 48 px) trained for a few minutes on those crops with
   ``reflect train`` in a subprocess; it is not the bundled generator and is labelled as such;
4. ``reflect clean`` on the stills and the video, then ``reflect faces eval`` before vs after;
5. ``runs/demo/report.html`` (with metrics.json, roc.png, images/ beside it) and demo.json (timings).
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np

from reflect.data.io import list_images, read_image, write_image
from reflect.utils.atomic import atomic_write_text

log = logging.getLogger(__name__)
DATA = Path(__file__).resolve().parent / "demo_data"
SIDE = 96  # face crop side (px)
PROCEDURAL = ("sky", "foliage", "buildings", "streetlights")


def face_crops(backend: object) -> dict[str, list[np.ndarray]]:
    """identity -> square head crops (SIDE px), gallery photo first."""
    import skimage.data

    photos: dict[str, list[np.ndarray]] = {}
    for p in list_images(DATA / "faces", recursive=True):
        photos.setdefault(p.parent.name, []).append(read_image(p))
    photos["astronaut"] = [np.ascontiguousarray(skimage.data.astronaut())]
    crops: dict[str, list[np.ndarray]] = {}
    for ident, images in sorted(photos.items()):
        for img in images:
            boxes = backend.detect_boxes(img)  # type: ignore[attr-defined]
            if not boxes:
                log.warning("demo: no face found in a photo of %s; skipped", ident)
                continue
            x1, y1, x2, y2 = boxes[0]
            cx, cy, s = (x1 + x2) / 2, (y1 + y2) / 2 + 0.05 * (y2 - y1), 1.7 * max(x2 - x1, y2 - y1)
            m = cv2.getAffineTransform(np.float32([[cx - s / 2, cy - s / 2], [cx + s / 2, cy - s / 2], [cx - s / 2, cy + s / 2]]),
                                       np.float32([[0, 0], [SIDE, 0], [0, SIDE]]))
            crops.setdefault(ident, []).append(cv2.warpAffine(img, m, (SIDE, SIDE), flags=cv2.INTER_AREA,
                                                              borderMode=cv2.BORDER_REFLECT))
    return crops


def reflection(rng: np.random.Generator, size: int) -> np.ndarray:
    """One reflection layer in [0, 1], (size, size, 3)."""
    try:
        from reflect.data.synth.reflections import reflection_layer

        layer, _ = reflection_layer(rng, str(rng.choice(PROCEDURAL)), size, None)
        return np.asarray(layer, np.float32)
    except ImportError:  # data_tools not installed: a plain bright gradient with bars
        y, x = np.mgrid[0:size, 0:size] / size
        bars = (np.sin(x * 30 + rng.uniform(0, 6)) > 0.4).astype(np.float32)
        return np.stack([0.6 + 0.4 * y, 0.7 + 0.3 * y, 0.9 * np.ones_like(y)], -1) * 0.6 + bars[..., None] * 0.4


def through_glass(face: np.ndarray, layer: np.ndarray, rng: np.random.Generator, strength: float) -> np.ndarray:
    """Tinted, darkened face plus a blurred, Fresnel-weighted reflection (display values)."""
    h, w = face.shape[:2]
    t = face.astype(np.float32) / 255.0 * np.float32([0.80, 0.88, 0.86]) * rng.uniform(0.7, 0.85)
    r = cv2.GaussianBlur(cv2.resize(layer, (w, h)), (0, 0), rng.uniform(0.5, 2.0))
    fresnel = np.linspace(1.0, 0.45, h, dtype=np.float32)[:, None, None]
    out = t + strength * fresnel * r
    return (np.clip(out, 0, 1) * 255 + 0.5).astype(np.uint8)


def build_data(root: Path, crops: dict[str, list[np.ndarray]], seed: int = 0) -> dict[str, Path]:
    """Gallery / clean probes / glass probes / training folders / a video, under ``root``."""
    rng = np.random.default_rng(seed)
    keys = ("gallery", "probes_clean", "probes", "train/trainA", "train/trainB", "pairs/train/input",
            "pairs/train/target", "video")
    d = {k: root / k for k in keys}
    for ident, faces in crops.items():
        write_image(d["gallery"] / ident / "ref.png", faces[0])
        views = faces[1:] or [np.ascontiguousarray(faces[0][:, ::-1])]  # one photo only: a mirrored probe
        for k in range(6):
            face = views[k % len(views)]
            face = np.ascontiguousarray(face[:, ::-1]) if k >= len(views) and k % 2 else face
            write_image(d["probes_clean"] / ident / f"{k}.png", face)
            write_image(d["probes"] / ident / f"{k}.png", through_glass(face, reflection(rng, SIDE), rng, 0.85))
        for k, face in enumerate(faces):
            for j in range(24):  # training views: flips, small shifts, many reflections
                f = np.roll(face[:, ::-1] if j % 2 else face, int(rng.integers(-6, 7)), axis=1)
                glass = through_glass(f, reflection(rng, SIDE), rng, 0.85)
                name = f"{ident}_{k}_{j}.png"
                write_image(d["train/trainB"] / name, f)
                write_image(d["train/trainA"] / name, glass)
                if j % 2 == 0:  # half the views also serve as synthetic pairs (input, clean target)
                    write_image(d["pairs/train/input"] / name, glass)
                    write_image(d["pairs/train/target"] / name, f)
    face, layer = crops["obama"][-1], reflection(rng, SIDE * 2)
    d["video"].mkdir(parents=True, exist_ok=True)
    writer = cv2.VideoWriter(str(d["video"] / "checkpoint_cam.avi"), cv2.VideoWriter.fourcc(*"MJPG"), 12, (SIDE, SIDE))
    for i in range(36):  # the reflection drifts across the window as the car moves
        frame = through_glass(face, np.roll(layer, 3 * i, axis=1)[:SIDE, :SIDE], np.random.default_rng(1), 0.85)
        writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    writer.release()
    return d


def train_model(root: Path, data: Path, steps: int, pairs: Path | None = None) -> Path:
    """Train the small demo model with ``reflect train`` in a subprocess (pipelines never import reflect.train).

    With ``pairs`` (ROOT/train/input + target), half the A samples are synthetic pairs and feed
    CycleGAN's supervised L1 term: with a few hundred CPU steps, the unpaired losses alone teach
    the generator little, the paired term teaches it what a clean face looks like.
    """
    cfg = Path(__file__).resolve().parents[1] / "configs" / "cyclegan.yaml"
    overrides = ["name=demo_model", f"out_dir={root}", f"data.root={data}", "data.load_size=56", "data.crop_size=48",
                 "data.num_workers=0", "data.batch_size=1", "model.ngf=16", "model.ndf=16", "model.n_blocks=2",
                 f"train.steps={steps}", f"train.decay_steps={steps // 2}", f"train.checkpoint_every={steps}",
                 f"train.sample_every={steps}", "train.log_every=50", "train.tensorboard=false"]
    if pairs is not None:
        overrides += [f"data.paired_root={pairs}", "data.paired_fraction=0.5", "model.lambda_sup=10"]
    overrides.append("model.residual=true")  # starts near the identity: faces survive a short training
    subprocess.run([sys.executable, "-m", "reflect", "train", str(cfg), *overrides], check=True)
    return root / "demo_model"


def run_demo(out: str | Path = "runs/demo", steps: int = 600) -> Path:
    from pipelines.batch_clean.runner import CleanOptions, run_clean
    from pipelines.face_eval.backend import FaceBackend
    from pipelines.face_eval.evaluate import run_face_eval

    root, t0, timings = Path(out), time.perf_counter(), {}
    backend = FaceBackend("dlib-torch")
    print("demo 1/5: face crops from the bundled public-domain photos", flush=True)
    d = build_data(root / "data", face_crops(backend))
    timings["data_s"] = time.perf_counter() - t0
    print(f"demo 2/5: training a small demo model for {steps} steps (a few minutes)", flush=True)
    model = train_model(root, root / "data" / "train", steps, pairs=root / "data" / "pairs")
    timings["train_s"] = time.perf_counter() - t0 - timings["data_s"]
    print("demo 3/5: cleaning the stills and the video (reflect clean)", flush=True)
    stills = run_clean(CleanOptions(str(model), str(d["probes"]), str(root / "cleaned"), restart=True, progress=False))
    video = run_clean(CleanOptions(str(model), str(d["video"]), str(root / "cleaned_video"), restart=True, progress=False))
    print("demo 4/5: face recognition before and after (reflect faces eval)", flush=True)
    strip = _video_strip(d["video"] / "checkpoint_cam.avi", root / "cleaned_video" / "checkpoint_cam.mp4", root)
    notes = (f"Model: a SMALL DEMO MODEL (CycleGAN, residual generator, ngf 16, 2 res-blocks, 48 px crops) trained here for {steps} steps "
             "on synthetic crops of the sample faces (half of them as synthetic pairs for the supervised L1 term); "
             "the same identities appear in training and evaluation. It is not the bundled production generator, "
             "so do not read its numbers as the method's. Probes are synthetic windshield views (reflection layers from "
             "data_tools.synth); the 'clean probes' upper bound is in metrics.json.")
    res = run_face_eval(d["gallery"], d["probes"], root, cleaned=root / "cleaned", backend=backend,
                        title="reflect demo: face recognition through the windshield", notes=notes)
    upper = run_face_eval(d["gallery"], d["probes_clean"], root / "report_clean_probes", backend=backend)
    timings["total_s"] = time.perf_counter() - t0
    summary = {"timings": timings, "stills": stills.to_dict(), "video": video.to_dict(),
               "identity_similarity": {"through_glass": res["probes"]["identity_similarity"],
                                       "cleaned": res["cleaned"]["identity_similarity"],
                                       "clean_probes_upper_bound": upper["probes"]["identity_similarity"]}}
    atomic_write_text(root / "demo.json", json.dumps(summary, indent=2))
    page = root / "report.html"
    atomic_write_text(page, page.read_text().replace("<h2>Before / after</h2>", strip + "<h2>Before / after (stills)</h2>"))
    print(f"demo 5/5: done in {timings['total_s']:.0f} s", flush=True)
    return page


def _video_strip(before: Path, after: Path, report: Path) -> str:
    """Every 6th frame of the video before and after cleaning, as one image."""
    rows = []
    for path in (before, after):
        cap, frames = cv2.VideoCapture(str(path)), []
        while True:
            ok, f = cap.read()
            if not ok:
                break
            frames.append(cv2.cvtColor(f, cv2.COLOR_BGR2RGB))
        rows.append(np.concatenate(frames[::6], axis=1) if frames else np.zeros((SIDE, SIDE, 3), np.uint8))
    write_image(report / "video_strip.jpg", np.concatenate(rows, axis=0))
    return ('<h2>Video (every 6th frame; top: through the glass, bottom: cleaned)</h2>'
            '<img src="video_strip.jpg" alt="video frames before and after">'
            f'<p class="note">The cleaned video: {after.resolve().as_uri()}</p>')
