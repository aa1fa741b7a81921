"""``reflect clean``: batch cleaning of folders of images and videos, resumable after ``kill -9``.

Decoder processes (:mod:`pipelines.batch_clean.decode`, run by :mod:`pipelines.batch_clean.decoders`:
one that crashes or hangs costs its input, not the job) read the inputs; the main process crops
each frame's window region, translates batches with any :class:`deploy.translator.Translator`
backend and pastes the cleaned region back (or keeps the crop); with ``--detect faces`` the decoder
processes also find faces and the regions around them are cleaned (:mod:`pipelines.batch_clean.faces`); a writer thread
(:mod:`pipelines.batch_clean.writer`) encodes outputs atomically and records them in the job
database (:mod:`pipelines.batch_clean.jobdb`).

Deterministic backends give byte-identical outputs whether or not a job was interrupted: every
translated batch is padded to the same size (CPU convolutions can round differently for another
batch size), and a video is always re-encoded from its first frame.
"""

from __future__ import annotations

import hashlib
import json
import logging
import multiprocessing as mp
import os
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from pipelines.batch_clean.batching import WindowBatcher, job_writer
from pipelines.batch_clean.decoders import DecoderPool
from pipelines.batch_clean.faces import FaceBatcher
from pipelines.batch_clean.inputs import Roi, clip_roi, discover, input_root, load_rois, roi_for
from pipelines.batch_clean.jobdb import JobDB
from pipelines.batch_clean.lock import job_lock
from pipelines.batch_clean.naming import CODECS, assign_stems, output_rel
from pipelines.batch_clean.options import CleanOptions, CleanSummary
from pipelines.videos import ends_early, truncation_note
from reflect.data.io import MIN_SIDE
from reflect.errors import ConfigError, OutputError
from reflect.utils.atomic import atomic_write_text, remove_stale_temporaries
from reflect.utils.paths import check_io_folders, writable_folder
from reflect.work_size import check_work_size, describe, resolve_work_size

log = logging.getLogger(__name__)
STATE_DIR = ".reflect"  # inside the output folder: job.sqlite, summary.json


def job_paths(output: str | Path) -> tuple[Path, Path]:
    state = Path(output) / STATE_DIR
    return state / "job.sqlite", state / "summary.json"


def _settings(opts: CleanOptions, rois: dict[str, Roi]) -> dict[str, Any]:
    """What decides the bytes of the outputs; a restart must use the same."""
    model = Path(str(opts.model)).resolve()
    return (
        {
            "input": str(Path(opts.input).resolve()),
            "model": str(model),
            "backend": opts.backend,
            "rois": hashlib.sha256(json.dumps(rois, sort_keys=True).encode()).hexdigest()[:16],
            "write": opts.write,
            "codec": opts.codec,
            "batch": opts.batch,
        }
        | ({"work_size": opts.work_size} if int(opts.work_size) > 0 else {})  # resolved by run_clean
        | (
            {
                "enhance_faces": True,
                "face_model": str(Path(opts.face_model).resolve()) if opts.face_model else "bundled",
                "face_detector": opts.face_detector,
            }
            if opts.enhance_faces
            else {}
        )
        | (
            {
                "detect": opts.detect,
                "detector": opts.detector,
                "face_margin": opts.face_margin,
                "face_size": opts.face_size,
                "detector_weights": str(Path(opts.detector_weights).resolve())
                if opts.detector_weights
                else None,
            }
            if opts.detect == "faces"
            else {}
        )
    )  # jobs made before stay valid


def _validate(opts: CleanOptions) -> None:
    if opts.workers < 1 or opts.batch < 1:
        raise ConfigError(f"--workers ({opts.workers}) and --batch ({opts.batch}) must be at least 1")
    check_work_size(opts.work_size)
    if opts.write not in ("frame", "crop"):
        raise ConfigError(f"--write must be 'frame' or 'crop', got '{opts.write}'")
    if opts.engine not in ("local", "ray"):
        raise ConfigError(f"--engine must be 'local' or 'ray', got '{opts.engine}'")
    if opts.detect not in ("none", "faces"):
        raise ConfigError(f"--detect must be 'none' or 'faces', got '{opts.detect}'")
    if opts.detect == "faces":
        from reflect.faces.detectors import DETECTORS

        if opts.engine == "ray":
            raise ConfigError(
                "--detect faces is not supported with --engine ray; use --engine local (the default)"
            )
        if opts.detector not in DETECTORS:
            raise ConfigError(f"--detector must be one of {', '.join(DETECTORS)}, got '{opts.detector}'")
        if not (opts.face_margin >= 0 and 8 <= opts.face_size <= 4096):
            raise ConfigError(
                f"--face-margin ({opts.face_margin}) must be >= 0 and --face-size ({opts.face_size}) "
                "between 8 and 4096"
            )
    if opts.enhance_faces and opts.engine == "ray":
        raise ConfigError(
            "--enhance-faces is not supported with --engine ray; use --engine local (the default)"
        )
    if opts.engine == "ray":
        from pipelines.batch_clean.ray_engine import require_ray

        require_ray()
    if opts.codec not in CODECS:
        raise ConfigError(f"--codec must be one of {', '.join(CODECS)}, got '{opts.codec}'")
    if not 0 < opts.memory_mb < float("inf"):  # nan fails this too
        raise ConfigError(f"--memory-mb must be a positive number, got {opts.memory_mb}")
    from reflect.data.io import check_max_pixels

    check_max_pixels(opts.max_pixels)
    if not opts.decode_timeout_s > 0:
        raise ConfigError(f"--decode-timeout must be positive (seconds), got {opts.decode_timeout_s}")
    check_io_folders(input_root(opts.input), opts.output)


def run_clean(opts: CleanOptions, translator: Any = None) -> CleanSummary:
    """Run (or resume) a cleaning job; returns its summary (also written to .reflect/summary.json)."""
    from reflect.bundled import model_or_bundled
    from reflect.loader import identify

    _validate(opts)
    opts = replace(opts, model=model_or_bundled(opts.model))  # the job database records this path
    ref = identify(opts.model)  # a file that is no model ends the job before anything is written
    given = opts.work_size
    opts = replace(opts, work_size=resolve_work_size(given, ref))  # recorded in the job's settings
    if int(opts.work_size) > 0:
        log.info("%s", describe(int(opts.work_size), given, "windows"))
    if (
        opts.engine == "local" and translator is None
    ):  # so does a model refused at load (no empty OUTPUT/.reflect)
        from deploy.loader import load_translator
        from deploy.translator import with_work_size

        translator = load_translator(ref, backend=opts.backend, device=opts.device)  # identified above
        translator = with_work_size(translator, int(opts.work_size))  # the face model sees full size
        if opts.enhance_faces:  # the face model loads before any decoder
            from deploy.enhance import with_face_enhancement

            translator = with_face_enhancement(translator, opts.face_model, opts.face_detector, opts.device)
    rois = load_rois(opts.roi_file)
    out_root = Path(opts.output)
    ignored: list[str] = []
    unreadable: list[str] = []
    entries = discover(opts.input, exclude=out_root, ignored=ignored, unreadable=unreadable)
    if ignored:
        shown = ", ".join(sorted(ignored)[:5]) + (", ..." if len(ignored) > 5 else "")
        log.warning(
            "skipped %d file(s) that are neither images nor videos by their extension: %s",
            len(ignored),
            shown,
        )
    if unreadable and not entries:
        raise ConfigError(f"nothing in input {opts.input} can be read: {'; '.join(unreadable)}")
    for where in unreadable:
        log.warning("cannot read the input folder %s: its files are left out of this run", where)
    writable_folder(out_root)
    with job_lock(out_root / STATE_DIR, wait=opts.wait):  # before anything in the folder is touched
        return _run_job(opts, translator, rois, entries, unreadable)


def _run_job(
    opts: CleanOptions,
    translator: Any,
    rois: dict[str, Roi],
    entries: list[tuple[str, str]],
    unreadable: list[str],
) -> CleanSummary:
    out_root, root = Path(opts.output), input_root(opts.input)
    db_path, summary_path = job_paths(out_root)
    removed = remove_stale_temporaries(out_root)  # safe: the lock says no other job writes here
    if removed:
        log.info("removed %d temporary file(s) left by an interrupted run", removed)
    db = JobDB(db_path)
    try:
        if opts.restart:
            db.reset()
        db.check_settings(_settings(opts, rois))
        known = db.known()
        new = [e for e in entries if e[0] not in {k[0] for k in known}]
        db.add_items(
            assign_stems(new, known, opts.codec, face_crops=opts.detect == "faces" and opts.write == "crop")
        )
        db.retry_failed()  # a full disk or out of memory earlier: every run tries those again
        if opts.retry_errors:
            db.retry_errors()
        pending = db.pending()
        skipped = db.count() - len(pending)
        start = time.perf_counter()
        stopped = ""
        if opts.engine == "ray":
            frames = _process_ray(opts, db, pending, root, rois, translator, skipped)
        else:
            frames, stopped = (
                _process(opts, db, pending, root, rois, translator, skipped) if pending else (0, "")
            )
        summary = CleanSummary(
            total=db.count(),
            done=db.count("done"),
            errors=db.errors(),
            frames=frames,
            seconds=time.perf_counter() - start,
            skipped=skipped,
            faces=db.faces_done(),
            failed=db.failures(),
            stopped=stopped,
            warnings=db.warnings(),
            faces_enhanced=translator.stats.enhanced if hasattr(translator, "stats") else 0,
            unreadable=unreadable,
        )
        try:
            atomic_write_text(summary_path, json.dumps(summary.to_dict(), indent=2))
        except OSError as e:  # the job database holds the same; a full disk must not hide the job's state
            log.warning("cannot write %s (%s)", summary_path, e.strerror or e)
        if stopped:
            left = summary.total - summary.done - len(summary.errors)
            raise OutputError(
                f"the job stopped: {stopped}; {left} input(s) left: free space (or fix the folder), "
                "then run the same command again to finish them"
            )
        return summary
    finally:
        db.close()


def _process_ray(
    opts: CleanOptions,
    db: JobDB,
    pending: list[Any],
    root: Path,
    rois: dict[str, Roi],
    translator: Any,
    skipped: int,
) -> int:
    """Images on Ray actors (ray_engine.py); videos afterwards by this process, as the local engine does."""
    from pipelines.batch_clean.ray_engine import process_images

    if translator is not None:
        raise ValueError("engine 'ray' loads the model in its actors: pass no translator object")
    images = [it for it in pending if it.kind == "image"]
    videos = [it for it in pending if it.kind == "video"]
    frames = process_images(opts, db, images, root, rois, skipped) if images else 0
    if videos:
        frames += _process(opts, db, videos, root, rois, None, skipped + len(images))[0]
    return frames


def _process(
    opts: CleanOptions,
    db: JobDB,
    pending: list[Any],
    root: Path,
    rois: dict[str, Roi],
    translator: Any,
    skipped: int,
) -> tuple[int, str]:
    """Translate ``pending`` with decoder processes; returns frames translated and why the job stopped early."""
    ctx = mp.get_context("spawn")  # no fork after torch/OpenCV threads exist
    tasks = [(it.id, str(root / it.rel), it.kind, roi_for(it.rel, rois)) for it in pending]
    detector = opts.detector if opts.detect == "faces" else None
    args = (opts.batch, os.getpid(), detector, opts.detector_weights, opts.max_pixels)
    if translator is None:  # first: a bad model file ends the job before any decoder starts
        from deploy.loader import load_translator
        from deploy.translator import with_work_size

        translator = load_translator(opts.model, backend=opts.backend, device=opts.device)
        translator = with_work_size(translator, int(opts.work_size))  # resolved by run_clean
    max_pixels, bpp = _budget_pixels(translator, opts.memory_mb)
    sources = {it.id: root / it.rel for it in pending if it.kind == "image"} if opts.write == "frame" else {}
    with job_writer(
        db,
        Path(opts.output),
        opts.codec,
        progress=opts.progress,
        pending=len(pending),
        skipped=skipped,
        sources=sources,
    ) as writer:
        batcher = WindowBatcher(translator, opts.batch, opts.write, writer, max_pixels, bpp)
        faces = FaceBatcher(
            batcher.translate, opts.batch, opts.face_margin, opts.face_size, opts.write, writer
        )
        items = {it.id: it for it in pending}
        rois_by_id: dict[int, Roi] = {}

        def give_up(item_id: int, reason: str) -> None:  # its decoder crashed or hung on it
            writer.put("error", item_id, reason)

        pool = DecoderPool(ctx, min(opts.workers, len(pending)), tasks, args, opts.decode_timeout_s, give_up)
        try:
            while not pool.done() and not writer.stopped:
                msg = pool.get(timeout=0.1)
                if msg is None:
                    batcher.flush()  # inputs are slow: do not hold back a partial batch
                    faces.flush()
                    continue
                op, item_id, payload = msg
                if op == "fatal":
                    raise ConfigError(payload)
                it = items[item_id]
                if op in ("error", "failed"):
                    writer.put(op, item_id, payload)
                elif op == "frames":
                    frames, fps, boxes = payload
                    if item_id not in rois_by_id:
                        rois_by_id[item_id] = _window(
                            writer, it.id, it.rel, roi_for(it.rel, rois), frames.shape
                        )
                    roi = rois_by_id[item_id]
                    if roi[0] < 0:
                        continue
                    out_rel = output_rel(it.rel, it.kind, it.stem, opts.codec)
                    if boxes is not None and it.kind == "image":
                        faces.add_image(item_id, it.stem, frames[0], roi, boxes[0], out_rel)
                    elif boxes is not None:
                        faces.add_video_chunk(item_id, it.stem, out_rel, frames, roi, fps, boxes)
                    elif it.kind == "image":
                        batcher.add_image(item_id, out_rel, frames[0], roi)
                    else:
                        batcher.add_video_chunk(item_id, out_rel, frames, roi, fps)
                elif op == "end" and it.kind == "video" and rois_by_id.get(item_id, (0,))[0] >= 0:
                    out_rel = output_rel(it.rel, it.kind, it.stem, opts.codec)
                    n, declared = payload["frames"], payload.get("declared", 0)
                    warning = truncation_note(n, declared) if ends_early(n, declared) else None
                    if opts.detect == "faces":
                        faces.end_video(item_id, it.stem, out_rel, warning)
                    else:
                        writer.put("video_end", item_id, (out_rel, 0, warning))
            if not writer.stopped:
                batcher.flush()
                faces.flush()
            writer.finish()
        finally:
            pool.stop()
    return (batcher.translated if opts.detect != "faces" else faces.frames), writer.stopped


def _window(writer: Any, item_id: int, rel: str, roi: Roi | None, shape: tuple[int, ...]) -> Roi:
    """The item's window clipped to its frames; ``(-1, -1, -1, -1)`` (and an error) when there is none."""
    try:
        x, y, w, h = clip_roi(roi, *shape[1:3])
    except ValueError as e:
        writer.put("error", item_id, str(e))
        return (-1, -1, -1, -1)
    if min(w, h) < MIN_SIDE:
        writer.put(
            "error",
            item_id,
            f"too small to translate ({w}x{h} px window; at least {MIN_SIDE} px on each side)",
        )
        return (-1, -1, -1, -1)
    return (x, y, w, h)


def _budget_pixels(translator: Any, memory_mb: float) -> tuple[int, float]:
    """Input pixels one translation call may hold within ``memory_mb``, and the bytes a pixel costs
    (measured on torch models)."""
    from reflect.inference import DEFAULT_BYTES_PER_PIXEL, budget_pixels, bytes_per_pixel

    variant = getattr(translator, "variant", None)
    bpp = (
        bytes_per_pixel(variant, getattr(translator, "target", None))
        if variant is not None
        else DEFAULT_BYTES_PER_PIXEL
    )
    return budget_pixels(memory_mb, bpp), bpp
