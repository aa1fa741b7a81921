"""reflect stream: bounded memory and latency under overload, reconnects, clean SIGTERM, HTTP sink."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import cv2
import numpy as np
import pytest

from deploy.loader import load_translator
from pipelines.stream.pipeline import StreamOptions, StreamPipeline
from pipelines.stream.sinks import HttpSink, VideoFileSink, open_sink
from pipelines.stream.sources import SyntheticSource, open_source
from reflect.errors import ConfigError
from reflect.utils.atomic import TMP_SUFFIX
from tests.pipelines.conftest import write_video

ROOT = Path(__file__).resolve().parents[2]


class SlowTranslator:
    """The tiny model plus a fixed delay per batch: a model too slow for the source's frame rate."""

    deterministic = True

    def __init__(self, inner, delay_s: float) -> None:  # type: ignore[no-untyped-def]
        self.inner, self.delay_s = inner, delay_s

    def translate(self, frames: np.ndarray) -> np.ndarray:
        time.sleep(self.delay_s)
        return self.inner.translate(frames)


class FlakySource(SyntheticSource):
    """A live source that disconnects after ``cut`` frames and refuses the first reconnect."""

    def __init__(self, cut: int) -> None:
        super().__init__(48, 32, fps=30, seconds=2)
        self.cut, self.opens = cut, 0

    def open(self) -> None:
        self.opens += 1
        if self.opens == 2:
            raise OSError("connection refused")
        super().open()

    def read(self) -> np.ndarray | None:
        if self.opens == 1 and self.i == self.cut:
            return None  # lost, not ended
        return super().read()


def _rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _overload(model: Path, seconds: float, bound_ms: float) -> tuple[dict, float]:
    translator = SlowTranslator(load_translator(model), delay_s=0.15)
    source = SyntheticSource(64, 48, fps=30, seconds=seconds)
    opts = StreamOptions(batch=2, queue_size=4, max_latency_ms=bound_ms)
    pipe = StreamPipeline(source, translator, [], opts)
    rss: list[float] = []
    sampler = threading.Thread(
        target=lambda: [rss.append(_rss_mb()) or time.sleep(0.2) for _ in range(int(seconds * 5))]
    )
    sampler.start()
    final = pipe.run()
    sampler.join()
    half = len(rss) // 2
    return final, max(rss[half:]) - max(rss[:half])


def _check_overload(final: dict, growth_mb: float, bound_ms: float) -> None:
    assert final["dropped"] > 0 and final["frames_out"] > 0
    assert final["frames_in"] == final["frames_out"] + final["dropped"]
    assert all(v <= 4 for k, v in final["queue_high_water"].items() if k != "late")
    assert final["latency_ms"]["end_to_end"]["p99"] <= bound_ms
    assert growth_mb < 40, f"memory grew by {growth_mb:.1f} MB in the second half"


def test_overload_drops_oldest_and_keeps_latency_bounded(tiny_model: Path) -> None:
    final, growth = _overload(tiny_model, seconds=4, bound_ms=1500)
    _check_overload(final, growth, 1500)


@pytest.mark.slow
def test_overload_30_seconds(tiny_model: Path) -> None:
    final, growth = _overload(tiny_model, seconds=30, bound_ms=1500)
    _check_overload(final, growth, 1500)


def test_lost_source_is_reconnected_with_backoff(tiny_model: Path, tmp_path: Path) -> None:
    source = FlakySource(cut=20)
    opts = StreamOptions(batch=2, backoff_s=(0.05, 0.2))
    final = StreamPipeline(source, load_translator(tiny_model), [], opts).run()
    assert final["reconnects"] >= 1 and source.opens >= 3
    assert final["frames_in"] == 60  # every frame of both connections came through


def test_file_source_loses_no_frame(tiny_model: Path, tmp_path: Path) -> None:
    write_video(tmp_path / "in.avi", 25)
    out = tmp_path / "out.avi"
    results = tmp_path / "results.jsonl"
    source = open_source(str(tmp_path / "in.avi"))
    final = StreamPipeline(
        source, load_translator(tiny_model), [VideoFileSink(out, source.fps)], results=results
    ).run()
    assert final["frames_out"] == 25 and final["dropped"] == 0
    lines = [json.loads(x) for x in results.read_text().splitlines()]
    assert [r["frame"] for r in lines] == list(range(25)) and lines[0]["regions"] == [[0, 0, 48, 32]]
    cap = cv2.VideoCapture(str(out))
    assert int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == 25


def test_http_sink_serves_preview_and_metrics(tiny_model: Path) -> None:
    with pytest.raises(ConfigError, match="127.0.0.1"):
        open_sink("http://0.0.0.0:0", fps=30, metrics=None)
    source = SyntheticSource(48, 32, fps=30, seconds=3)
    pipe = StreamPipeline(source, load_translator(tiny_model), [], StreamOptions(batch=2))
    sink = HttpSink("127.0.0.1", 0, pipe.metrics)
    pipe.sinks.append(sink)
    thread = threading.Thread(target=pipe.run)
    thread.start()
    time.sleep(1.5)
    try:
        stats = json.loads(urllib.request.urlopen(sink.url + "metrics.json", timeout=5).read())
        prom = urllib.request.urlopen(sink.url + "metrics", timeout=5).read().decode()
        with urllib.request.urlopen(sink.url + "preview.mjpg", timeout=5) as r:
            assert r.headers["Content-Type"].startswith("multipart/x-mixed-replace")
            head = r.read(300)
    finally:
        pipe.stop()
        thread.join()
    assert stats["frames_out"] > 0 and "p99" in stats["latency_ms"]["end_to_end"]
    assert "reflect_stream_dropped_frames_total" in prom and 'quantile="0.99"' in prom
    assert b"--frame" in head and b"\xff\xd8" in head  # a JPEG part


def test_sigterm_flushes_a_playable_video(tiny_model: Path, tmp_path: Path) -> None:
    out = tmp_path / "out.mp4"
    cmd = [
        sys.executable,
        "-m",
        "reflect",
        "stream",
        "--model",
        str(tiny_model),
        "--source",
        "synthetic://48x32?fps=20&seconds=120",
        "--sink",
        str(out),
    ]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + 60
    while not any(TMP_SUFFIX in p.name for p in tmp_path.iterdir()) and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(1.5)
    os.kill(proc.pid, signal.SIGTERM)
    stdout, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0, stdout
    assert "SIGTERM" in stdout
    cap = cv2.VideoCapture(str(out))
    frames = 0
    while cap.read()[0]:
        frames += 1
    assert frames > 5
    assert not [p for p in tmp_path.iterdir() if TMP_SUFFIX in p.name]


def test_stream_without_model_uses_the_bundled_model(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    import logging

    from reflect.cli import main
    from tests.bundled.tiny import tiny_generator_file, use_as_bundled

    bundled = use_as_bundled(monkeypatch, tiny_generator_file(tmp_path / "bundled.safetensors"))
    out = tmp_path / "frames"
    with caplog.at_level(logging.INFO):
        rc = main(
            ["stream", "--source", "synthetic://48x32?fps=20&seconds=0.5", "--sink", str(out), "--batch", "2"]
        )
    assert rc == 0
    assert f"using the bundled model {bundled}" in caplog.text
    assert any(out.iterdir())
