"""``reflect clean --engine ray``: the images of a batch job on a Ray cluster.

Ray Data streams rows ``(id, rel, path)`` through ``map_batches`` with an actor class,
:class:`CleanActor` (``--workers`` actors, ``--batch`` rows per call). Each actor loads the
Translator once in its constructor (:func:`deploy.loader.load_translator`) and turns a batch of
rows into cleaned frames with the local engine's own code: the decoder of
:mod:`pipelines.batch_clean.decode`, the ROI rules of :mod:`pipelines.batch_clean.inputs`, and
:func:`~pipelines.batch_clean.batching.translate_padded` / :func:`~pipelines.batch_clean.batching.place_window`
(crops of one size translated in batches zero-padded to ``--batch``). So with a deterministic backend
the frames are the bytes the local engine makes.

The driver (the process running ``reflect clean``) keeps everything else: the SQLite job database
(workers never touch it), the writer thread that encodes every output atomically before marking it
done, and the progress bars. A killed job therefore resumes exactly like a local one, and a job may
be resumed with the other engine (the engine is not one of the job's settings).

``--detect faces`` is refused with this engine (one line, before Ray starts): face regions are
cleaned by the local engine only (:mod:`pipelines.batch_clean.faces`).

Videos are not split across actors (their frames must reach one encoder in order): the driver
processes them after the images with the local engine (decoder processes plus one Translator).

Without ``--ray-address`` a private cluster is started on this machine (no dashboard, usage
statistics off, Ray's token authentication on) and shut down at the end; it sends nothing off the
machine, but note that Ray 2.60 has no loopback-only mode: its gRPC servers listen on the machine's
interfaces (``ray.init`` maps 127.0.0.1 to the node's address). On a remote cluster every node must read
the input folder and the model at the same paths (a shared filesystem, as Ray Data's own readers
need) and have reflect installed; outputs are still written by the driver only.
"""

from __future__ import annotations

import logging
import os
import socket
from pathlib import Path
from typing import Any

import numpy as np

from pipelines.batch_clean.batching import job_writer, place_window, translate_padded
from pipelines.batch_clean.decode import decode_image
from pipelines.batch_clean.inputs import Roi, clip_roi, roi_for
from pipelines.batch_clean.jobdb import Item, JobDB
from pipelines.batch_clean.options import CleanOptions
from reflect.errors import ConfigError

log = logging.getLogger(__name__)
OBJECT_STORE_BYTES = 256 * 2**20  # a private cluster's shared memory: frames are small and streamed
MAX_BLOCKS = 4096  # input blocks of a job's row list (small rows; more blocks only add scheduling)


def require_ray() -> Any:
    """Import Ray (with Ray Data) or fail with one line saying how to install it."""
    try:
        import ray
        import ray.data  # noqa: F401
    except ImportError:
        raise ConfigError(
            "--engine ray needs Ray, which is not installed: pip install 'reflect[ray]'"
        ) from None
    return ray


def check_reachable(address: str, timeout: float = 5.0) -> None:
    """Fail fast on a ``HOST:PORT`` (or ``ray://HOST:PORT``) nobody listens on: Ray itself retries for minutes."""
    host, sep, port = address.removeprefix("ray://").rpartition(":")
    if not sep or not port.isdigit():
        return  # 'auto' and other forms Ray resolves itself
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=timeout).close()
    except OSError as e:
        raise ConfigError(
            f"cannot reach the Ray cluster at --ray-address {address} ({e.strerror or e}); "
            "give the head node's HOST:PORT (e.g. 10.0.0.5:6379), or leave it out to start a local cluster"
        ) from None


def connect(address: str | None, num_cpus: int) -> bool:
    """Connect to ``address``, or start a local cluster; True when this call started the connection."""
    ray = require_ray()
    if address is not None:
        check_reachable(address)
    if ray.is_initialized():
        return False
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")  # no usage report over the network
    common: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False, "configure_logging": False}
    try:
        if address is None:
            ray.init(num_cpus=num_cpus, object_store_memory=OBJECT_STORE_BYTES, **common)
        else:
            ray.init(address=address, **common)
    except (ConnectionError, RuntimeError, ValueError) as e:
        where = f"the Ray cluster at {address}" if address else "a local Ray cluster"
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise ConfigError(f"cannot connect to {where}: {first}") from None
    return True


class CleanActor:
    """A Ray Data actor: holds one Translator; rows ``(id, rel, path)`` -> cleaned frames or errors.

    Returns columns ``id``, ``error`` ('' when fine), ``pixels`` (the cleaned uint8 RGB frame as raw
    bytes, C order), ``h`` and ``w``: flat columns that any Ray Data block format carries.
    """

    def __init__(
        self,
        model: str,
        backend: str,
        device: str,
        batch: int,
        write: str,
        rois: dict[str, Roi],
        work_size: int = 0,
    ) -> None:
        from deploy.loader import load_translator
        from deploy.translator import with_work_size

        self.t = with_work_size(load_translator(model, backend=backend, device=device), work_size)
        self.batch, self.write, self.rois = batch, write, rois

    def __call__(self, rows: dict[str, np.ndarray]) -> dict[str, Any]:
        ids = [int(i) for i in rows["id"]]
        errors = {i: "" for i in ids}
        results: dict[int, np.ndarray] = {}
        groups: dict[tuple[int, int], list[tuple[int, np.ndarray, Roi]]] = {}
        for item_id, rel, path in zip(ids, rows["rel"], rows["path"], strict=True):
            try:
                frame = decode_image(str(path))[0]
                roi = clip_roi(roi_for(str(rel), self.rois), *frame.shape[:2])
            except (OSError, ValueError) as e:  # same reasons as the local engine records
                errors[item_id] = getattr(e, "reason", str(e))
                continue
            groups.setdefault((roi[3], roi[2]), []).append((item_id, frame, roi))
        for group in groups.values():
            for start in range(0, len(group), self.batch):
                chunk = group[start : start + self.batch]
                crops = np.stack([f[y : y + h, x : x + w] for _, f, (x, y, w, h) in chunk])
                cleaned = translate_padded(self.t, crops, self.batch)
                for (item_id, frame, roi), c in zip(chunk, cleaned, strict=True):
                    results[item_id] = place_window(frame[None], roi, c[None], self.write)[0]
        empty = np.zeros((0, 0, 3), np.uint8)
        images = [results.get(i, empty) for i in ids]
        return {
            "id": np.asarray(ids, np.int64),
            "error": np.asarray([errors[i] for i in ids], dtype=object),
            "pixels": np.asarray([np.ascontiguousarray(im).tobytes() for im in images], dtype=object),
            "h": np.asarray([im.shape[0] for im in images], np.int64),
            "w": np.asarray([im.shape[1] for im in images], np.int64),
        }


def _quiet_ray_data(progress: bool) -> None:
    import ray.data

    ctx = ray.data.DataContext.get_current()
    ctx.enable_job_writer = False  # the job's own bars count files and frames
    ctx.print_on_execution_start = False
    for name in ("ray.data", "ray"):
        logging.getLogger(name).setLevel(logging.WARNING if progress else logging.ERROR)


def process_images(
    opts: CleanOptions, db: JobDB, images: list[Item], root: Path, rois: dict[str, Roi], skipped: int
) -> int:
    """Clean ``images`` (pending image items) on Ray; returns the number of frames translated."""
    ray = require_ray()
    n_actors = max(1, min(opts.workers, len(images)))
    started = connect(opts.ray_address, num_cpus=max(2, n_actors))
    _quiet_ray_data(opts.progress)
    sources = {it.id: root / it.rel for it in images} if opts.write == "frame" else {}  # EXIF kept
    with job_writer(
        db,
        Path(opts.output),
        opts.codec,
        progress=opts.progress,
        pending=len(images),
        skipped=skipped,
        sources=sources,
    ) as writer:
        items = {it.id: it for it in images}
        translated = 0
        try:
            rows = [{"id": it.id, "rel": it.rel, "path": str(root / it.rel)} for it in images]
            resources = {"num_gpus": 1} if opts.device.startswith("cuda") else {"num_cpus": 1}
            # about one block per batch (capped): results stream back, and the bars move, batch by batch
            blocks = max(1, min(MAX_BLOCKS, -(-len(rows) // opts.batch)))
            ds = ray.data.from_items(rows, override_num_blocks=blocks).map_batches(
                CleanActor,
                batch_size=opts.batch,
                batch_format="numpy",
                compute=ray.data.ActorPoolStrategy(size=n_actors),
                fn_constructor_kwargs={
                    "model": str(Path(str(opts.model)).resolve()),  # resolved by run_clean
                    "backend": opts.backend,
                    "device": opts.device,
                    "batch": opts.batch,
                    "write": opts.write,
                    "rois": rois,
                    "work_size": int(opts.work_size),  # resolved by run_clean
                },
                **resources,
            )
            for out in ds.iter_batches(batch_size=None, batch_format="numpy"):
                for item_id, error, pixels, h, w in zip(
                    out["id"], out["error"], out["pixels"], out["h"], out["w"], strict=True
                ):
                    it = items[int(item_id)]
                    if error:
                        writer.put("error", it.id, str(error))
                        continue
                    image = np.frombuffer(pixels, np.uint8).reshape(int(h), int(w), 3)
                    writer.put("image", it.id, (it.rel, image))
                    translated += 1
            writer.finish()
        finally:
            if started:
                ray.shutdown()
    return translated
