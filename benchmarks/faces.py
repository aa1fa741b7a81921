"""Face detection and embedding speed on this machine, milliseconds per face.

    .venv/bin/python benchmarks/faces.py [--iters 5] [--json benchmarks/results/faces.json]

Detection: MTCNN (facenet-pytorch), dlib HOG (1x upsampling) and RetinaFace-MobileNet-0.25 (random
weights: speed does not depend on the values; no checkpoint ships) on obama.jpg (910x1137, 1 face)
and group_six_people.jpg (1280x886, 6 faces); ms per image and per face found. Embedding: the torch
port of dlib's ResNet vs dlib's own ``compute_face_descriptor`` on 150x150 chips, batch 1 and 8, ms
per face, plus the port's agreement with dlib (cosine) on those chips. Median of ``--iters`` runs
after one warm-up. Prints a table and writes JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from reflect.utils.images import to_tensor
from reflect.utils.paths import shared_data

FACES = shared_data("faces")


def median_ms(fn: Any, iters: int) -> float:
    fn()
    times = []
    for _ in range(iters):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--iters", type=int, default=5)
    ap.add_argument("--json", default="benchmarks/results/faces.json")
    args = ap.parse_args()

    import dlib

    from reflect.data.io import read_image
    from reflect.faces.detectors import make_detector
    from reflect.faces.detectors.retinaface_net import RetinaFaceNet
    from reflect.faces.dlib_resnet import DlibFaceResNet
    from reflect.faces.resources import DLIB_RESNET, DLIB_SHAPE_5, dlib_model_path
    from reflect.utils.atomic import atomic_write_text

    images = {n: read_image(FACES / n) for n in ("obama.jpg", "group_six_people.jpg")}
    rows: list[dict[str, Any]] = []

    # ---- detection
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        torch.save(RetinaFaceNet("mobilenet0.25").state_dict(), Path(tmp) / "m.pth")
        detectors = {
            "mtcnn": make_detector("mtcnn"),
            "dlib-hog": make_detector("dlib-hog"),
            "retinaface-mobilenet0.25 (random weights)": make_detector(
                "retinaface", weights=Path(tmp) / "m.pth"
            ),
        }
    hog = detectors["dlib-hog"]
    for dname, det in detectors.items():
        for iname, img in images.items():
            n_faces = len(hog.detect([img])[0]) if "retinaface" in dname else len(det.detect([img])[0])
            ms = median_ms(lambda det=det, img=img: det.detect([img]), args.iters)
            rows.append(
                {
                    "task": "detect",
                    "backend": dname,
                    "input": iname,
                    "faces": n_faces,
                    "ms_per_image": round(ms, 1),
                    "ms_per_face": round(ms / max(n_faces, 1), 1),
                }
            )

    # ---- embedding: the same dlib chips through dlib and the torch port
    sp = dlib.shape_predictor(str(dlib_model_path(DLIB_SHAPE_5)))
    rec = dlib.face_recognition_model_v1(str(dlib_model_path(DLIB_RESNET)))
    chips = []
    for img in images.values():
        for b in hog.detect([img])[0].boxes:
            rect = dlib.rectangle(int(b[0]), int(b[1]), int(b[2]) - 1, int(b[3]) - 1)
            chips.append(np.ascontiguousarray(dlib.get_face_chip(img, sp(img, rect), 150, 0.25)))
    chips = (chips * 2)[:8]
    port = DlibFaceResNet.from_dlib()
    x = to_tensor(np.stack(chips))
    with torch.no_grad():
        ours = port(x).double().numpy()
    ref = np.array([np.asarray(d) for d in rec.compute_face_descriptor(chips)])
    cos = (ours * ref).sum(1) / np.linalg.norm(ours, axis=1) / np.linalg.norm(ref, axis=1)
    for batch in (1, 8):
        xb, cb = x[:batch], chips[:batch]

        def run_port(xb: torch.Tensor = xb) -> None:
            with torch.no_grad():
                port(xb)

        t_port = median_ms(run_port, args.iters) / batch
        t_dlib = median_ms(lambda cb=cb: rec.compute_face_descriptor(cb), args.iters) / batch
        rows.append(
            {
                "task": "embed",
                "backend": "dlib-torch (port)",
                "input": f"batch {batch}",
                "faces": batch,
                "ms_per_face": round(t_port, 1),
                "vs_dlib": round(t_port / t_dlib, 2),
            }
        )
        rows.append(
            {
                "task": "embed",
                "backend": "dlib",
                "input": f"batch {batch}",
                "faces": batch,
                "ms_per_face": round(t_dlib, 1),
                "vs_dlib": 1.0,
            }
        )

    machine = {
        "cpu": platform.processor() or platform.machine(),
        "cores": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "dlib": dlib.__version__,
        "note": "CPU shared with other jobs: timings are noisy",
    }
    print(f"machine: {machine}")
    print(f"torch port vs dlib on {len(cos)} chips: cosine min {cos.min():.6f}, mean {cos.mean():.6f}")
    print(
        f"{'task':7} {'backend':42} {'input':22} {'faces':>5} {'ms/image':>9} {'ms/face':>8} {'vs dlib':>7}"
    )
    for r in rows:
        print(
            f"{r['task']:7} {r['backend']:42} {r['input']:22} {r['faces']:>5} "
            f"{r.get('ms_per_image', ''):>9} {r['ms_per_face']:>8} {r.get('vs_dlib', ''):>7}"
        )
    atomic_write_text(
        args.json,
        json.dumps(
            {
                "machine": machine,
                "iters": args.iters,
                "rows": rows,
                "port_vs_dlib_cosine_min": float(cos.min()),
            },
            indent=2,
        ),
    )


if __name__ == "__main__":
    main()
