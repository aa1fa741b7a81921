"""reflect faces detect|embed|compare print JSON; bad input exits 2 with one clear line."""

from __future__ import annotations

import json

import pytest

from reflect.cli import main
from tests.faces.conftest import face_file


def test_detect_prints_faces(capsys):
    pytest.importorskip("dlib")
    f = str(face_file("obama.jpg"))
    assert main(["faces", "detect", "--detector", "dlib-hog", f]) == 0
    out = json.loads(capsys.readouterr().out)
    assert len(out[f]["faces"]) == 1 and len(out[f]["faces"][0]["landmarks"]) == 5


def test_compare_tells_people_apart(capsys, tmp_path):
    pytest.importorskip("dlib")
    files = [str(face_file(n)) for n in ("obama.jpg", "obama2.jpg", "biden.jpg")]
    assert (
        main(["faces", "compare", "--detector", "dlib-hog", "--output", str(tmp_path / "c.json"), *files])
        == 0
    )
    out = json.loads(capsys.readouterr().out)
    same = {(p["a"], p["b"]): p["same_person"] for p in out["pairs"]}
    assert same == {(files[0], files[1]): True, (files[0], files[2]): False, (files[1], files[2]): False}
    assert json.loads((tmp_path / "c.json").read_text()) == out


def test_embed_gives_unit_vectors(capsys):
    pytest.importorskip("dlib")
    f = str(face_file("biden.jpg"))
    assert main(["faces", "embed", "--detector", "dlib-hog", "--largest", f]) == 0
    vec = json.loads(capsys.readouterr().out)[f]["faces"][0]["embedding"]
    assert len(vec) == 128 and abs(sum(v * v for v in vec) - 1) < 1e-3


def test_errors_are_one_line(capsys, tmp_path):
    f = str(face_file("obama.jpg"))
    assert main(["faces", "detect", "--detector", "retinaface", f]) == 2
    assert "needs a weights file" in capsys.readouterr().err
    bad = tmp_path / "broken.jpg"
    bad.write_bytes(b"not an image")
    assert main(["faces", "detect", "--detector", "dlib-hog", str(bad)]) == 2
    err = capsys.readouterr().err.strip()
    assert "broken.jpg" in err and len(err.splitlines()) == 1
