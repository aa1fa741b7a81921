"""reflect clean [--model M] --input DIR --output DIR [--detect faces] [--engine local|ray [--ray-address ADDR]]"""

from __future__ import annotations

import argparse

HELP = "clean folders of images and videos (resumable job; outputs keep their relative paths)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    from reflect.commands.translate import (
        add_face_arguments,
        add_max_pixels_argument,
        add_model_argument,
        add_work_size_argument,
    )

    add_model_argument(
        p, "run folder, checkpoint (.pt), generator file (.safetensors), .onnx or TensorRT engine"
    )
    p.add_argument("--input", required=True, help="a folder (searched recursively) or one image/video file")
    p.add_argument(
        "--output", required=True, help="output folder; the job database lives in OUTPUT/.reflect/"
    )
    p.add_argument("--backend", default="auto", help="auto | torch | onnxruntime | tensorrt")
    p.add_argument("--device", default="cpu", help="cpu or cuda")
    p.add_argument(
        "--workers",
        type=int,
        default=2,
        help="local: decoder processes; ray: actors that each hold the model (default 2)",
    )
    p.add_argument("--batch", type=int, default=4, help="frames per translation batch (default 4)")
    p.add_argument(
        "--roi", dest="roi_file", help="per-camera window rectangles: JSON/YAML {camera: [x, y, w, h]}"
    )
    p.add_argument(
        "--write",
        choices=["frame", "crop"],
        default="frame",
        help="frame: paste the cleaned window back (default); crop: write only the window "
        "(with --detect faces: one PNG per face, <stem>_face0.png, videos <stem>_frame000000_face0.png)",
    )
    p.add_argument(
        "--detect",
        choices=["none", "faces"],
        default="none",
        help="faces: find faces (inside the --roi window, if any) in the decoder processes and clean "
        "a square region around each; frames without a face are written unchanged (local engine only)",
    )
    p.add_argument(
        "--detector",
        default="dlib-hog",
        help="with --detect faces: mtcnn | retinaface | dlib-hog (default) | dlib-cnn",
    )
    p.add_argument(
        "--detector-weights", help="with --detector retinaface: its checkpoint file (never downloaded)"
    )
    p.add_argument(
        "--face-margin",
        type=float,
        default=0.6,
        help="with --detect faces: add this fraction of the face size on each side (default 0.6)",
    )
    p.add_argument(
        "--face-size",
        type=int,
        default=128,
        help="with --detect faces: face regions are translated at this square size (default 128)",
    )
    p.add_argument(
        "--codec", choices=["mp4v", "MJPG"], default="mp4v", help="video re-encoding (.mp4 or .avi)"
    )
    p.add_argument(
        "--engine",
        choices=["local", "ray"],
        default="local",
        help="local (default): decoder processes and this process translate; ray: images are "
        "decoded and translated by Ray Data actors (map_batches, --workers actors holding the "
        "model, --batch rows per call) while this process keeps the job database and writes "
        "every output, so results equal the local engine's; videos are processed by this "
        "process. Needs the optional extra: pip install 'reflect[ray]'",
    )
    p.add_argument(
        "--ray-address",
        help="with --engine ray: the cluster to connect to (e.g. auto or "
        "HEAD_IP:6379); inputs and model must be at the same paths on every node. Default: start a "
        "private local cluster for this job (no dashboard, no usage statistics)",
    )
    p.add_argument(
        "--memory-mb",
        type=float,
        default=4096.0,
        help="memory budget of one translation call (default 4096): a batch above it is translated "
        "frame by frame, a frame above it in overlapping tiles",
    )
    p.add_argument(
        "--decode-timeout",
        type=float,
        default=60.0,
        help="seconds a decoder may spend on one input without progress (default 60): a decoder that "
        "hangs longer is killed, the input recorded as an error, and a fresh decoder goes on",
    )
    p.add_argument(
        "--retry-errors", action="store_true", help="try inputs that failed in an earlier run again"
    )
    p.add_argument("--restart", action="store_true", help="forget the job database and start over")
    p.add_argument(
        "--wait",
        action="store_true",
        help="another job is writing the same --output folder: wait for it to end (default: refuse "
        "at once, naming it)",
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    add_work_size_argument(p, "windows")
    add_face_arguments(p)
    add_max_pixels_argument(p)


def run(args: argparse.Namespace) -> int:
    from pipelines.batch_clean.runner import CleanOptions, job_paths, run_clean
    from pipelines.videos import quiet_ffmpeg

    quiet_ffmpeg()  # decoder processes inherit it: a bad video is one line of ours
    opts = CleanOptions(
        model=args.model,
        input=args.input,
        output=args.output,
        backend=args.backend,
        device=args.device,
        workers=args.workers,
        batch=args.batch,
        roi_file=args.roi_file,
        write=args.write,
        codec=args.codec,
        retry_errors=args.retry_errors,
        restart=args.restart,
        progress=not args.no_progress,
        engine=args.engine,
        ray_address=args.ray_address,
        detect=args.detect,
        detector=args.detector,
        detector_weights=args.detector_weights,
        face_margin=args.face_margin,
        face_size=args.face_size,
        memory_mb=args.memory_mb,
        enhance_faces=args.enhance_faces,
        face_model=args.face_model,
        face_detector=args.face_detector,
        decode_timeout_s=args.decode_timeout,
        wait=args.wait,
        max_pixels=args.max_pixels,
        work_size=args.work_size,
    )
    summary = run_clean(opts)
    db, summary_file = job_paths(args.output)
    print(
        f"cleaned {summary.done} of {summary.total} inputs ({summary.skipped} finished by an earlier run); "
        f"{summary.frames} frames in {summary.seconds:.1f} s ({summary.fps:.1f} frames/s); "
        f"{len(summary.errors)} error(s)"
        + (f"; {summary.faces} face(s) cleaned" if args.detect == "faces" else "")
        + (f"; {summary.faces_enhanced} face(s) enhanced" if args.enhance_faces else "")
        + (f"; {len(summary.warnings)} warning(s)" if summary.warnings else "")
        + (f"; {len(summary.unreadable)} unreadable folder(s)" if summary.unreadable else "")
    )
    for where in summary.unreadable:
        print(f"  unreadable: {where}: its files were not cleaned")
    for rel, error in summary.errors:
        print(f"  error: {rel}: {error}")
    for rel, warning in summary.warnings:
        print(f"  warning: {rel}: {warning}")
    for rel, error in summary.failed:
        print(f"  failed (retried by the next run): {rel}: {error}")
    print(f"job database: {db}; summary: {summary_file}")
    return 1 if summary.errors or summary.failed or summary.unreadable else 0
