"""The settings and the summary of a ``reflect clean`` job (shared by the runner and the Ray engine)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from reflect.data.io import DEFAULT_MAX_PIXELS


@dataclass
class CleanOptions:
    model: str | None  # None: the bundled generator file (run_clean records the resolved path)
    input: str
    output: str
    backend: str = "auto"
    device: str = "cpu"
    workers: int = 2
    batch: int = 4
    roi_file: str | None = None
    write: str = "frame"  # frame: paste the cleaned window back | crop: write the cleaned window only
    codec: str = "mp4v"  # mp4v (.mp4) | MJPG (.avi)
    retry_errors: bool = False
    restart: bool = False
    progress: bool = True
    engine: str = "local"  # local: decoder processes + this process | ray: Ray Data actors (ray_engine.py)
    ray_address: str | None = None  # ray: connect to this cluster (None: start a local one)
    detect: str = "none"  # none | faces: clean square regions around faces found inside the window
    detector: str = "dlib-hog"  # a reflect.faces detector (make_detector name)
    detector_weights: str | None = None  # retinaface: its checkpoint (never downloaded)
    face_margin: float = 0.6  # face regions: this fraction of the face size added on each side
    face_size: int = 128  # face regions are resized to this square for translation
    memory_mb: float = (
        4096.0  # budget of one translation call: larger batches go alone, larger frames in tiles
    )
    enhance_faces: bool = False  # clean each face again with the face model (reflect.face_enhance)
    face_model: str | None = None  # None: the bundled face model
    face_detector: str = "mtcnn"  # --enhance-faces: detector run on the globally cleaned window
    decode_timeout_s: float = 60.0  # a decoder silent this long on one input is killed; the input is an error
    wait: bool = False  # another job holds the output folder: wait for it (else refuse at once)
    max_pixels: int = DEFAULT_MAX_PIXELS  # larger images are refused as possible decompression bombs
    # the model runs on windows scaled down to this many px on their longer side, its correction scaled
    # back up (reflect.work_size): "auto" = the model's training size; 0 = at their own size
    work_size: int | str = "auto"


@dataclass
class CleanSummary:
    total: int
    done: int
    errors: list[tuple[str, str]] = field(default_factory=list)
    frames: int = 0  # frames translated in this run
    seconds: float = 0.0
    skipped: int = 0  # already done by an earlier run of the job
    faces: int = 0  # --detect faces: faces cleaned in all the job's finished inputs
    failed: list[tuple[str, str]] = field(
        default_factory=list
    )  # not the input's fault: a resume retries them
    stopped: str = ""  # why the job stopped before its end (a full disk), else empty
    faces_enhanced: int = 0  # --enhance-faces: faces the face model cleaned in this run
    warnings: list[tuple[str, str]] = field(default_factory=list)  # done, but short: truncated videos
    unreadable: list[str] = field(
        default_factory=list
    )  # input folders that could not be listed: 'path (reason)'

    @property
    def fps(self) -> float:
        return self.frames / self.seconds if self.seconds > 0 else 0.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self) | {"fps": round(self.fps, 3)}
