"""Real photos: the manifest's face boxes hold a face MTCNN finds in the target; the CLI end to end."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from reflect.data.synth.config import synth_config_from_dict
from reflect.data.synth.faces import Face, detect_boxes
from reflect.data.synth.generator import Synthesizer


def _iou(a: list[float], b: np.ndarray) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


def test_face_bank_identities(real_faces: tuple[Path, list[Face]]) -> None:
    _, faces = real_faces
    assert sorted(f.identity for f in faces) == ["biden", "hanks", "obama"]


def test_manifest_boxes_hold_a_face_mtcnn_detects_in_the_target(real_faces: tuple[Path, list[Face]]) -> None:
    _, faces = real_faces
    synth = Synthesizer(synth_config_from_dict({}))
    for i in range(6):
        s = synth.render(i, faces[i % len(faces)], faces[(i + 1) % len(faces)] if i % 2 else None)
        driver = s.faces[0]
        found = detect_boxes(s.target, min_prob=0.9)
        assert found, f"sample {i}: MTCNN finds no face in the target ({s.params})"
        best = max(_iou(driver["box"], b) for b, _ in found)
        assert best > 0.5, (
            f"sample {i}: manifest box {driver['box']} vs detections {[b.tolist() for b, _ in found]}"
        )


def test_synth_command_end_to_end(real_faces: tuple[Path, list[Face]], tmp_path: Path) -> None:
    from reflect.cli import main

    folder, _ = real_faces
    out = tmp_path / "ds"
    out.mkdir()
    shutil.copy(folder.parent / "faces_index.json", out / "faces_index.json")  # detected once already
    rc = main(
        [
            "synth",
            "--faces",
            str(folder),
            "--out",
            str(out),
            "--count",
            "6",
            "--size",
            "64",
            "--workers",
            "1",
            "--contact-sheet",
            "4",
            "--no-progress",
        ]
    )
    assert rc == 0 and (out / "contact_sheet.png").is_file()
    rows = [json.loads(x) for x in (out / "train" / "manifest.jsonl").read_text().splitlines()]
    rows += [json.loads(x) for x in (out / "test" / "manifest.jsonl").read_text().splitlines()]
    assert len(rows) == 6
    assert main(["synth", "--faces", str(folder), "--out", str(out), "--count", "2", "ghost.offsett=3"]) == 2


def test_missing_faces_folder_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from reflect.cli import main

    assert (
        main(["synth", "--faces", str(tmp_path / "nope"), "--out", str(tmp_path / "o"), "--count", "1"]) == 2
    )
    assert "faces folder" in capsys.readouterr().err
