"""27 kinds of bad image (and 4 of bad video) beside good files, against `reflect translate` and `reflect clean`.

Each command runs once, as a user runs it (a subprocess), over one folder holding every kind; each
kind is then a test case: the command exits non-zero, exactly one line of its output names the
file, the good files beside it are written (the large one in tiles, under a small memory budget),
and no original changed by a byte.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from PIL import Image

from tests.pipelines.conftest import write_video
from tests.robustness.bad_inputs import make_bad_images, make_bad_videos, make_good_inputs, snapshot

REPO = Path(__file__).resolve().parents[2]
BUDGET_MB = "0.5"  # the tiny test model needs about 115 bytes per pixel: 160x120 px is tiled, 48x32 is not


@dataclass
class Ran:
    rc: int
    lines: list[str]
    out: Path


def reflect(*args: str) -> subprocess.CompletedProcess[str]:
    env = os.environ | {"PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1", "NO_ALBUMENTATIONS_UPDATE": "1"}
    return subprocess.run(
        [sys.executable, "-m", "reflect", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
        cwd=REPO,
    )


IMAGE_KINDS = [
    "empty.png",
    "truncated.jpg",
    "random.png",
    "text.jpg",
    "page.webp",
    "tiny3.png",
    "line1x64.png",
    "tiny4.jpg",
    "tiny_palette.png",
    "tiny2.tif",
    "bomb.png",
    "bomb_warn.png",
    "bad_crc.png",
    "zero_dim.png",
    "half.png",
    "header_only.jpg",
    "truncated.ppm",
    "junk.bmp",
    "junk.tif",
    "zero.pgm",
    "gzip.png",
    "archive.jpg",
    "ünï cödé.png",
    "truncated.webp",
    "nul.jpeg",
    "dangling.png",
    "fifo.png",
]
VIDEO_KINDS = ["empty.mp4", "garbage.avi", "notes.mkv", "header.mov"]
GOOD = ["good1.png", "good2.jpg", "big.png"]


@dataclass
class Job:
    root: Path  # the input folder (bad and good files; the output folder lies inside it)
    originals: dict[str, bytes]
    first: Ran
    second: Ran  # the same command again: its own outputs must not become inputs


def _inputs(root: Path) -> dict[str, bytes]:
    assert sorted(make_bad_images(root)) == sorted(IMAGE_KINDS)
    assert sorted(make_bad_videos(root / "videos")) == sorted(VIDEO_KINDS)
    assert make_good_inputs(root) == GOOD
    write_video(root / "videos" / "good.avi", 6)
    (root / "notes.txt").write_text("not an input")
    (root / "anim.gif").write_bytes(b"GIF89a")
    return snapshot(root)


def _job(root: Path, *args: str) -> Job:
    originals = _inputs(root)
    runs = []
    for _ in range(2):
        res = reflect(*args, "--input", str(root), "--output", str(root / "out"), "--memory-mb", BUDGET_MB)
        runs.append(Ran(res.returncode, (res.stdout + res.stderr).splitlines(), root / "out"))
    return Job(root, originals, *runs)


@pytest.fixture(scope="module")
def translated(smoke_run: Path, tmp_path_factory: pytest.TempPathFactory) -> Job:
    return _job(tmp_path_factory.mktemp("translate") / "in", "translate", "--checkpoint", str(smoke_run))


@pytest.fixture(scope="module")
def cleaned(smoke_run: Path, tmp_path_factory: pytest.TempPathFactory) -> Job:
    return _job(tmp_path_factory.mktemp("clean") / "in", "clean", "--model", str(smoke_run), "--no-progress")


def _naming(lines: list[str], name: str) -> list[str]:
    return [ln for ln in lines if name in ln]


def test_the_catalogue_holds_at_least_25_kinds() -> None:
    assert len(set(IMAGE_KINDS)) + len(set(VIDEO_KINDS)) >= 25


@pytest.mark.parametrize("name", IMAGE_KINDS)
@pytest.mark.parametrize("command", ["translate", "clean"])
def test_bad_image_is_one_line_and_the_job_goes_on(
    command: str, name: str, translated: Job, cleaned: Job
) -> None:
    job = translated if command == "translate" else cleaned
    ran = job.first
    assert ran.rc == (2 if command == "translate" else 1), ran.lines[-3:]
    assert len(_naming(ran.lines, name)) == 1, _naming(ran.lines, name)
    assert "Traceback" not in "\n".join(ran.lines)
    assert not (ran.out / name).exists()
    for good in GOOD:
        assert Image.open(ran.out / good).size == Image.open(job.root / good).size, good


@pytest.mark.parametrize("name", VIDEO_KINDS)
def test_bad_video_is_one_line_and_the_job_goes_on(name: str, cleaned: Job) -> None:
    assert cleaned.first.rc == 1
    assert len(_naming(cleaned.first.lines, name)) == 1, cleaned.first.lines
    assert (cleaned.first.out / "videos" / "good.mp4").stat().st_size > 0


@pytest.mark.parametrize("command", ["translate", "clean"])
def test_skipped_files_are_named_and_counted(command: str, translated: Job, cleaned: Job) -> None:
    job = translated if command == "translate" else cleaned
    (line,) = [ln for ln in job.first.lines if "skipped" in ln]
    assert f"skipped {2 if command == 'clean' else 7} file(s)" in line  # translate: videos are not images
    assert "anim.gif" in line and "notes.txt" in line


def test_large_image_is_translated_in_tiles_within_the_budget(translated: Job) -> None:
    (line,) = _naming(translated.first.lines, "big.png")
    assert "tiles" in line


@pytest.mark.parametrize("command", ["translate", "clean"])
def test_originals_unchanged_and_outputs_never_read_back(command: str, translated: Job, cleaned: Job) -> None:
    job = translated if command == "translate" else cleaned
    after = {k: v for k, v in snapshot(job.root).items() if not k.startswith("out/")}
    assert after == job.originals
    assert job.second.rc == job.first.rc
    assert not (job.root / "out" / "out").exists()
