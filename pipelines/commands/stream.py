"""reflect stream [--model M] --source SRC --sink SINK [--sink SINK ...]"""

from __future__ import annotations

import argparse
from typing import Any

HELP = "clean a live stream or a video: bounded queues, drops under overload, HTTP preview and metrics"


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
    p.add_argument(
        "--source",
        required=True,
        help="video file, image folder, camera index (0), rtsp:// or http:// URL, "
        "or synthetic://640x360?fps=30&seconds=10 (a test pattern)",
    )
    p.add_argument(
        "--sink",
        action="append",
        required=True,
        help="out.mp4 / out.avi, a folder, or http://127.0.0.1:8080 (MJPEG preview at /, "
        "metrics at /metrics and /metrics.json); repeat for several",
    )
    p.add_argument("--backend", default="auto", help="auto | torch | onnxruntime | tensorrt")
    p.add_argument("--device", default="cpu", help="cpu or cuda")
    p.add_argument("--batch", type=int, default=4, help="frames per translation batch (default 4)")
    p.add_argument(
        "--queue-size", type=int, default=8, help="frames each stage queue holds before dropping (default 8)"
    )
    p.add_argument(
        "--max-latency-ms",
        type=float,
        default=0.0,
        help="live sources: latency bound from capture to output; frames that cannot be written "
        "within it are dropped before translation and counted as late (0: off)",
    )
    p.add_argument("--roi", help="clean only this window region: x,y,w,h in pixels")
    p.add_argument(
        "--detect",
        choices=["none", "faces"],
        default="none",
        help="faces: clean regions around detected faces (and count them)",
    )
    p.add_argument(
        "--results", help="append per-frame results (face boxes, regions, latency) to this JSONL file"
    )
    p.add_argument("--realtime", action="store_true", help="read files and folders at their frame rate")
    p.add_argument(
        "--max-retries",
        type=int,
        default=10,
        help="reconnects in a row before giving up (default 10); with the back-off (0.5 s doubling to "
        "8 s) a URL that stays silent is given up after about max-retries x (--timeout + 8) s",
    )
    p.add_argument(
        "--timeout",
        type=float,
        default=10.0,
        help="URL sources: seconds to wait for the connection or for a frame (default 10; FFmpeg's own "
        "is 30)",
    )
    p.add_argument(
        "--duration", type=float, default=0.0, help="stop after this many seconds (0: run to the end)"
    )
    add_work_size_argument(p, "windows")
    add_face_arguments(p)
    add_max_pixels_argument(p)


def _roi(text: str | None) -> tuple[int, int, int, int] | None:
    from reflect.errors import ConfigError

    if not text:
        return None
    try:
        x, y, w, h = (int(v) for v in text.split(","))
    except ValueError:
        raise ConfigError(f"--roi '{text}' must be x,y,w,h (integers)") from None
    if w <= 0 or h <= 0:
        raise ConfigError(f"--roi '{text}': width and height must be positive")
    return (x, y, x + w, y + h)


def _check_numbers(args: argparse.Namespace) -> None:
    """Counts and durations out of range are one line each, before the model or the source opens."""
    import math

    from reflect.errors import ConfigError

    for flag, value, low in (
        ("--batch", args.batch, 1),
        ("--queue-size", args.queue_size, 1),
        ("--max-retries", args.max_retries, 0),
    ):
        if value < low:
            raise ConfigError(f"{flag} must be at least {low}, got {value}")
    if not (math.isfinite(args.timeout) and args.timeout > 0):
        raise ConfigError(f"--timeout must be a positive number of seconds, got {args.timeout}")
    for flag, number in (("--max-latency-ms", args.max_latency_ms), ("--duration", args.duration)):
        if not (math.isfinite(number) and number >= 0):
            raise ConfigError(f"{flag} must be a number >= 0 (0: off), got {number}")
    from reflect.data.io import check_max_pixels

    check_max_pixels(args.max_pixels)
    from reflect.work_size import check_work_size

    check_work_size(args.work_size)


def run(args: argparse.Namespace) -> int:
    import json
    import logging
    import signal
    import threading

    from deploy.loader import load_translator
    from pipelines.stream.metrics import Metrics
    from pipelines.stream.pipeline import StreamOptions, StreamPipeline
    from pipelines.stream.sinks import HttpSink, VideoFileSink, open_sink
    from pipelines.stream.sources import open_source
    from pipelines.videos import quiet_ffmpeg
    from reflect.bundled import model_or_bundled
    from reflect.errors import OutputError

    log = logging.getLogger(__name__)
    _check_numbers(args)
    quiet_ffmpeg()
    model = model_or_bundled(args.model)  # before the source opens: a missing model fails first
    opts = StreamOptions(
        batch=args.batch,
        queue_size=args.queue_size,
        max_latency_ms=args.max_latency_ms,
        roi=_roi(args.roi),
        max_retries=args.max_retries,
    )
    source = open_source(
        args.source, realtime=args.realtime, max_pixels=args.max_pixels, timeout_s=args.timeout
    )
    if args.max_latency_ms > 0 and not source.live:
        log.warning(
            "--max-latency-ms applies to live sources only: %s is read without dropping frames", source.name
        )
    detector = None
    if args.detect == "faces":
        from pipelines.face_eval.backend import load_face_backend

        detector = load_face_backend("dlib").detect_boxes
    from deploy.translator import with_work_size
    from reflect.loader import identify
    from reflect.work_size import describe, resolve_work_size

    translator = load_translator(model, backend=args.backend, device=args.device)
    work_size = resolve_work_size(args.work_size, identify(model))
    if work_size > 0:
        log.info("%s", describe(work_size, args.work_size, "windows"))
    translator = with_work_size(translator, work_size)
    if args.enhance_faces:
        from deploy.enhance import with_face_enhancement

        translator = with_face_enhancement(translator, args.face_model, args.face_detector, args.device)
    metrics = Metrics()
    sinks = [
        open_sink(s, fps=lambda: source.fps, metrics=metrics) for s in args.sink
    ]  # the rate of the open source
    for sink in sinks:
        if isinstance(sink, HttpSink):
            print(f"preview: {sink.url}  metrics: {sink.url}metrics  {sink.url}metrics.json", flush=True)
    pipe = StreamPipeline(
        source, translator, sinks, opts, detector=detector, results=args.results, metrics=metrics
    )

    def _stop(signum: int, _frame: object) -> None:
        print(f"reflect stream: {signal.Signals(signum).name}, finishing frames in flight", flush=True)
        pipe.stop()

    old = {s: signal.signal(s, _stop) for s in (signal.SIGINT, signal.SIGTERM)}
    timer = threading.Timer(args.duration, pipe.stop) if args.duration > 0 else None
    if timer:
        timer.daemon = True
        timer.start()
    try:
        final = pipe.run()
    except OutputError:  # a sink failed (a full disk): say what was really written, then the one error line
        _print_summary(
            pipe.metrics.snapshot(), sinks, args.max_latency_ms if pipe.budget.on else None, source.live
        )
        raise
    finally:
        for s, h in old.items():
            signal.signal(s, h)
        if timer:
            timer.cancel()
    _print_summary(final, sinks, args.max_latency_ms if pipe.budget.on else None, source.live)
    for sink in sinks:
        if isinstance(sink, VideoFileSink) and sink.resized:
            final.setdefault("resized", {})[str(sink.path)] = sink.resized
            print(
                f"{sink.path}: {sink.resized} of {sink.frames} frames had another size and were resized to "
                f"{sink.size[0]}x{sink.size[1]}"
            )
    if args.enhance_faces:
        st = translator.stats  # type: ignore[attr-defined]
        final["faces_enhanced"] = st.enhanced
        print(f"faces: {st.enhanced} enhanced, {st.too_small} too small")
    print(json.dumps(final), flush=True)
    return 0


def _print_summary(final: dict[str, Any], sinks: list[Any], bound_ms: float | None, live: bool) -> None:
    """The run's one-line summary; ``final["written"]``: frames each file or folder sink really holds.

    A file or folder is read as fast as the pipeline takes it, so its frames wait in the queues: the
    summary says that its latency includes that wait.
    """
    from pipelines.stream.sinks import HttpSink

    final["written"] = {s.name: s.written for s in sinks if not isinstance(s, HttpSink)}
    lat = final["latency_ms"]["end_to_end"]
    late = f" ({final['late']} late for the {bound_ms:g} ms bound)" if bound_ms is not None else ""
    written = "".join(f"; {n} frame(s) written to {name}" for name, n in final["written"].items())
    queued = "" if live else " (a file source: latency includes the wait in the queues)"
    print(
        f"frames in {final['frames_in']}, out {final['frames_out']}, dropped {final['dropped']}{late}, "
        f"{final['fps']:.1f} fps, latency p50 {lat['p50']} ms p99 {lat['p99']} ms{queued}, reconnects "
        f"{final['reconnects']}{written}",
        flush=True,
    )
