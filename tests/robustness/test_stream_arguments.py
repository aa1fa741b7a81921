"""`reflect stream` arguments that cannot work are one line and exit 2, before any frame is read:
a sink that is an existing file, lies under a file or in a read-only folder; a queue of 0 frames; an
ROI outside the frame.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from reflect.cli import main
from tests.bundled.tiny import tiny_generator_file
from tests.pipelines.conftest import write_video


@pytest.fixture
def setup(tmp_path: Path) -> tuple[Path, Path]:
    model = tiny_generator_file(tmp_path / "tiny.safetensors")
    src = tmp_path / "in.avi"
    write_video(src, 6)  # 48x32
    return model, src


def _stream(setup: tuple[Path, Path], *extra: str) -> list[str]:
    model, src = setup
    return ["stream", "--model", str(model), "--source", str(src), *extra]


def _one_line(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert "Traceback" not in err[0]
    return err[0]


@pytest.mark.parametrize(
    "kind", ["existing file", "video under a file", "folder under a file", "video named folder"]
)
def test_a_sink_that_cannot_be_written_is_one_line(
    kind: str, setup: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "notes").write_text("x")
    (tmp_path / "clip.mp4").mkdir()
    sink = {
        "existing file": tmp_path / "notes",
        "video under a file": tmp_path / "notes" / "out.mp4",
        "folder under a file": tmp_path / "notes" / "frames",
        "video named folder": tmp_path / "clip.mp4",
    }[kind]
    assert main(_stream(setup, "--sink", str(sink))) == 2
    assert "--sink" in _one_line(capsys)
    assert (tmp_path / "notes").read_text() == "x"


def test_a_sink_in_a_read_only_folder_is_one_line(
    setup: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    disk = tmp_path / "ro"
    disk.mkdir()
    if (
        shutil.which("mount") is None
        or subprocess.run(
            ["mount", "-t", "tmpfs", "-o", "ro,size=64k", "tmpfs", str(disk)], capture_output=True
        ).returncode
        != 0
    ):
        pytest.skip("cannot mount a read-only tmpfs here (needs root on Linux)")
    try:
        for sink in (disk / "out.mp4", disk / "frames"):
            assert main(_stream(setup, "--sink", str(sink))) == 2
            err = _one_line(capsys)
            assert "not writable" in err or "cannot be created" in err
    finally:
        subprocess.run(["umount", "-l", str(disk)], capture_output=True)


@pytest.mark.parametrize(
    ("flags", "words"),
    [
        (["--queue-size", "0"], "--queue-size"),
        (["--batch", "0"], "--batch"),
        (["--max-retries", "-1"], "--max-retries"),
        (["--max-latency-ms", "nan"], "--max-latency-ms"),
        (["--roi", "100,100,20,20"], "lies outside the 48x32"),
        (["--roi", "44,0,20,20"], "--roi"),
    ],
)
def test_bad_stream_numbers_are_one_line(
    flags: list[str], words: str, setup: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out.mp4"
    assert main(_stream(setup, "--sink", str(out), *flags)) == 2
    assert words in _one_line(capsys)
    assert not out.exists()


def test_a_silent_stream_server_costs_the_timeout_not_30_s_per_try(
    setup: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import socket
    import threading
    import time

    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    held: list[socket.socket] = []

    def accept() -> None:  # accepts every connection and never says a word
        while True:
            try:
                held.append(server.accept()[0])
            except OSError:
                return

    threading.Thread(target=accept, daemon=True).start()
    model, _ = setup
    url = f"rtsp://127.0.0.1:{server.getsockname()[1]}/cam"
    started = time.monotonic()
    try:
        rc = main(
            [
                "stream",
                "--model",
                str(model),
                "--source",
                url,
                "--sink",
                str(tmp_path / "o.mp4"),
                "--timeout",
                "0.5",
                "--max-retries",
                "1",
            ]
        )
    finally:
        server.close()
        for c in held:
            c.close()
    assert (
        rc == 2 and time.monotonic() - started < 15
    )  # two tries of 0.5 s and a 0.5 s back-off, not 2 x 30 s
    assert "cannot open" in _one_line(capsys)
