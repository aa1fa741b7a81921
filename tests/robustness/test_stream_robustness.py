"""`reflect stream` (and `reflect clean` on videos) under overload and bad videos.

* the latency bound: under twice the load the model sustains, no frame that is written is older than
  the bound (measured from capture to write), and every frame not written is counted as dropped;
* frames of another size are resized into the video, not silently left out of it;
* an empty, unopenable or 0-frame video is one line naming it and a non-zero exit; a truncated one is
  one warning with the frames read, and `clean` records it as done *with* that warning.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from pipelines.stream.latency import LatencyBudget
from pipelines.stream.pipeline import StreamOptions, StreamPipeline
from pipelines.stream.sinks import Sink, VideoFileSink
from pipelines.stream.sources import Source, SourceError
from reflect.cli import main
from tests.bundled.tiny import tiny_generator_file
from tests.pipelines.conftest import write_video

REPO = Path(__file__).resolve().parents[2]


# ---- the latency bound ---------------------------------------------------------------------------
class PacedSource(Source):
    """A live camera: ``fps`` frames a second for ``seconds``; frame i is filled with the value i % 200.

    ``captured[i]``: when frame i was handed over.
    """

    def __init__(self, fps: float, seconds: float, size: tuple[int, int] = (48, 32)) -> None:
        self.fps, self.n, self.size = fps, int(fps * seconds), size
        self.name, self.i, self.t0 = "paced camera", 0, 0.0
        self.captured: list[float] = []

    def open(self) -> None:
        self.t0 = self.t0 or time.monotonic()

    def read(self) -> np.ndarray | None:
        if self.i >= self.n:
            self.ended = True
            return None
        time.sleep(max(0.0, self.t0 + self.i / self.fps - time.monotonic()))
        w, h = self.size
        frame = np.full((h, w, 3), self.i % 200, np.uint8)
        frame[..., 1] = self.i // 200
        self.i += 1
        self.captured.append(time.monotonic())
        return frame


class SlowInverter:
    """A model that needs ``per_frame_s`` per frame (sleeping, so it holds no core) and inverts the image."""

    deterministic = True

    def __init__(self, per_frame_s: float) -> None:
        self.per_frame_s = per_frame_s
        self.started: list[
            tuple[int, float]
        ] = []  # (frame index from PacedSource's pixels, when its batch began)

    def translate(self, frames: np.ndarray) -> np.ndarray:
        now = time.monotonic()
        self.started += [(int(f[0, 0, 1]) * 200 + int(f[0, 0, 0]), now) for f in frames]
        time.sleep(self.per_frame_s * len(frames))
        return 255 - frames


class Recorder(Sink):
    def __init__(self) -> None:
        self.written: list[tuple[int, int]] = []  # (frame index, its pixel value)

    def write(self, index: int, frame: np.ndarray) -> None:
        self.written.append((index, int(frame[0, 0, 0])))


def _stream(
    tmp_path: Path, model: SlowInverter, source: Source, bound_ms: float
) -> tuple[dict, list[dict], Recorder]:
    sink, results = Recorder(), tmp_path / "results.jsonl"
    pipe = StreamPipeline(
        source, model, [sink], StreamOptions(batch=4, queue_size=8, max_latency_ms=bound_ms), results=results
    )
    final = pipe.run()
    return final, [json.loads(x) for x in results.read_text().splitlines()], sink


def test_the_budget_keeps_the_newest_frames_that_fit_on_their_capture_time() -> None:
    class F:
        def __init__(self, t: float) -> None:
            self.t_capture = t

    budget = LatencyBudget(0.5)
    budget.record_batch(4, 0.2)  # 50 ms a frame
    budget.record_write(0.01)  # predicted write: 1.5 x 10 ms + a 10 ms margin
    now = 100.0
    frames = [F(now - age) for age in (0.6, 0.45, 0.3, 0.2, 0.1, 0.0)]  # capture order, oldest first
    kept = budget.choose(frames, now, limit=4)
    # newest first: 0.0 + 50 ms, 0.1 + 100 ms, 0.2 + 150 ms fit; 0.3 + 200 ms + 25 ms does not
    assert kept == frames[3:]
    assert budget.choose(frames, now, limit=2) == frames[4:]
    assert budget.late(now - 0.48, now) and not budget.late(now - 0.47, now)
    slow = LatencyBudget(0.1)
    slow.record_batch(1, 0.3)  # one frame takes longer than the bound: keep the newest to measure again
    assert not slow.feasible() and slow.choose(frames, now, limit=4) == frames[-1:]


def test_twice_overloaded_stream_writes_no_frame_later_than_the_bound(tmp_path: Path) -> None:
    model = SlowInverter(per_frame_s=0.02)  # at most 50 frames/s (batches of 4 in 80 ms)
    source = PacedSource(fps=100, seconds=3)  # twice that
    final, rows, sink = _stream(tmp_path, model, source, bound_ms=120)
    assert final["frames_in"] == 300
    assert final["late"] > 0 and final["frames_out"] > 0
    assert final["frames_in"] == final["frames_out"] + final["dropped"]  # every frame accounted for
    latencies = [r["latency_ms"] for r in rows]
    assert len(latencies) == final["frames_out"]
    assert max(latencies) <= 120, sorted(latencies)[-5:]
    assert final["latency_ms"]["end_to_end"]["max"] <= 120
    # the frames written are translated frames (inverted), in capture order, each once
    assert all(v == 255 - i % 200 for i, v in sink.written)
    indices = [i for i, _ in sink.written]
    assert indices == sorted(set(indices))
    # stale frames are dropped before translation, not translated and thrown away: no frame reached the
    # model already past the bound, and almost every frame translated was written (batches are sized to
    # fit; taking the newest 4 each time wastes about 15 % here)
    translated = model.started[8:]  # after the two warm-up batches of 4 blank frames
    assert all(t - source.captured[i] <= 0.120 for i, t in translated)
    assert len(translated) - final["frames_out"] <= max(3, 0.08 * final["frames_out"])


def test_model_slower_than_the_bound_writes_nothing_late_and_says_so(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    model = SlowInverter(per_frame_s=0.15)  # one frame alone misses a 100 ms bound
    with caplog.at_level(logging.WARNING):
        final, rows, sink = _stream(tmp_path, model, PacedSource(fps=20, seconds=1.5), bound_ms=100)
    assert final["frames_out"] == 0 and sink.written == [] and rows == []
    assert final["late"] + sum(final["dropped_by_queue"].values()) == final["frames_in"] == 30
    assert len([r for r in caplog.records if "--max-latency-ms" in r.getMessage()]) == 1


# ---- frames of another size ----------------------------------------------------------------------
def _frames_of(path: Path) -> list[np.ndarray]:
    cap, out = cv2.VideoCapture(str(path)), []
    while True:
        ok, f = cap.read()
        if not ok:
            return out
        out.append(f)


def test_frames_of_another_size_are_resized_into_the_video(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    out = tmp_path / "out.avi"
    sink = VideoFileSink(out, fps=10)
    sizes = [(48, 32), (48, 32), (64, 48), (32, 24), (64, 48), (48, 32)]
    with caplog.at_level(logging.WARNING):
        for i, (w, h) in enumerate(sizes):
            sink.write(i, np.full((h, w, 3), 40 * i, np.uint8))
        sink.close()
    frames = _frames_of(out)
    assert len(frames) == sink.frames == 6 and sink.resized == 3
    assert all(f.shape == (32, 48, 3) for f in frames)
    assert [round(float(f.mean()) / 40) for f in frames] == list(range(6))  # each frame in its place
    assert len([r for r in caplog.records if str(out) in r.getMessage()]) == 1


def test_stream_of_mixed_size_images_counts_true_frames(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    model = tiny_generator_file(tmp_path / "tiny.safetensors")
    folder = tmp_path / "shots"
    folder.mkdir()
    for i, (w, h) in enumerate([(48, 32), (64, 40), (48, 32), (40, 56)]):
        cv2.imwrite(str(folder / f"{i}.png"), np.full((h, w, 3), 30 * i + 20, np.uint8))
    out = tmp_path / "out.mp4"
    assert (
        main(["stream", "--model", str(model), "--source", str(folder), "--sink", str(out), "--batch", "2"])
        == 0
    )
    printed = capsys.readouterr().out
    assert "frames in 4, out 4, dropped 0" in printed
    assert f"{out}: 2 of 4 frames had another size and were resized to 48x32" in printed
    frames = _frames_of(out)
    assert len(frames) == 4 and all(f.shape == (32, 48, 3) for f in frames)


# ---- bad and truncated videos --------------------------------------------------------------------
def _zero_frames(path: Path) -> None:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"MJPG"), 10, (48, 32))
    writer.release()


def _cut_in_half(path: Path, frames: int = 25) -> Path:
    write_video(path, frames)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return path


def _mp4_cut_in_half(path: Path) -> None:
    """An MP4 writes its index last: cut short, it cannot be opened at all."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"mp4v"), 10, (48, 32))
    for i in range(25):
        writer.write(np.full((32, 48, 3), i, np.uint8))
    writer.release()
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


BAD = {
    "zero_frames.avi": (_zero_frames, "no frame could be read"),
    "empty.mp4": (lambda p: p.write_bytes(b""), "empty (0 bytes)"),
    "garbage.avi": (lambda p: p.write_bytes(np.random.default_rng(3).bytes(4000)), "cannot open"),
    "cut_in_half.mp4": (_mp4_cut_in_half, "cannot open"),
}


@pytest.mark.parametrize("name", sorted(BAD))
def test_bad_video_source_is_one_line_and_a_non_zero_exit(
    name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    make, words = BAD[name]
    src = tmp_path / name
    make(src)
    model = tiny_generator_file(tmp_path / "tiny.safetensors")
    out = tmp_path / "out.mp4"
    rc = main(["stream", "--model", str(model), "--source", str(src), "--sink", str(out)])
    captured = capsys.readouterr()
    err = [ln for ln in captured.err.splitlines() if ln.strip()]
    assert rc == 2
    assert len(err) == 1 and str(src) in err[0] and words in err[0], err
    assert "Traceback" not in captured.err + captured.out
    assert not out.exists()


def test_truncated_mp4_is_one_line_without_ffmpeg_noise(tmp_path: Path) -> None:
    """As a user sees it (a new process): FFmpeg's own 'moov atom not found' is not printed beside ours."""
    src = tmp_path / "cut.mp4"
    _mp4_cut_in_half(src)
    model = tiny_generator_file(tmp_path / "tiny.safetensors")
    env = {k: v for k, v in os.environ.items() if k != "OPENCV_FFMPEG_LOGLEVEL"} | {
        "PYTHONPATH": str(REPO),
        "OMP_NUM_THREADS": "1",
    }
    res = subprocess.run(
        [
            sys.executable,
            "-m",
            "reflect",
            "stream",
            "--model",
            str(model),
            "--source",
            str(src),
            "--sink",
            str(tmp_path / "out.mp4"),
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        cwd=REPO,
    )
    lines = [
        ln
        for ln in (res.stdout + res.stderr).splitlines()
        if ln.strip() and "bundled" not in ln and not ln.startswith("INFO: model:")
    ]
    assert res.returncode == 2
    assert len(lines) == 1 and str(src) in lines[0], lines


def test_truncated_video_is_streamed_with_one_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    src = _cut_in_half(tmp_path / "half.avi")
    model = tiny_generator_file(tmp_path / "tiny.safetensors")
    out = tmp_path / "out.avi"
    with caplog.at_level(logging.WARNING):
        rc = main(["stream", "--model", str(model), "--source", str(src), "--sink", str(out)])
    assert rc == 0
    read = len(_frames_of(out))
    assert 0 < read < 25
    (warning,) = [r.getMessage() for r in caplog.records if str(src) in r.getMessage()]
    assert f"{read} of its 25 frames" in warning
    assert f"frames in {read}, out {read}, dropped 0" in capsys.readouterr().out


def test_clean_records_a_truncated_video_as_done_with_a_warning(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from pipelines.batch_clean.jobdb import JobDB
    from pipelines.batch_clean.runner import job_paths

    monkeypatch.setenv("OPENCV_FFMPEG_LOGLEVEL", "-8")  # restored after the test
    model = tiny_generator_file(tmp_path / "tiny.safetensors")
    inp = tmp_path / "in"
    inp.mkdir()
    write_video(inp / "full.avi", 25)
    _cut_in_half(inp / "half.avi")
    argv = [
        "clean",
        "--model",
        str(model),
        "--input",
        str(inp),
        "--output",
        str(tmp_path / "out"),
        "--workers",
        "1",
        "--no-progress",
    ]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    db = JobDB(job_paths(tmp_path / "out")[0])
    rows = {r["rel"]: r for r in db.rows()}
    db.close()
    half, full = rows["half.avi"], rows["full.avi"]
    assert full["status"] == "done" and full["frames"] == 25 and full["warning"] is None
    assert half["status"] == "done" and 0 < half["frames"] < 25
    assert f"{half['frames']} of its 25 frames" in half["warning"]
    assert len(_frames_of(tmp_path / "out" / half["output"])) == half["frames"]
    named = [ln for ln in printed.splitlines() if "half.avi" in ln]
    assert len(named) == 1 and named[0].strip().startswith("warning:") and "1 warning(s)" in printed
    assert main(argv) == 0  # a resume keeps the warning in its summary and does not redo the video
    again = capsys.readouterr().out
    assert (
        "2 finished by an earlier run" in again
        and len([ln for ln in again.splitlines() if "half.avi" in ln]) == 1
    )


def test_live_camera_that_never_opens_is_one_clear_error() -> None:
    class DeadCamera(Source):
        name = "camera 7"

        def open(self) -> None:
            raise OSError("no such device")

    pipe = StreamPipeline(
        DeadCamera(), SlowInverter(0.0), [], StreamOptions(max_retries=2, backoff_s=(0.01, 0.02))
    )
    with pytest.raises(SourceError, match="cannot open camera 7 after 3 attempts: no such device"):
        pipe.run()
