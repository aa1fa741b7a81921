"""`reflect photos fetch`: a fake .deb in --debs lands in the cache by the hash rule, with its licences;
a second run does nothing; a corrupt photo or a missing package is one warning; apt is never asked
when the .deb is there."""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from data_tools.photos import sources
from data_tools.photos.cache import split_for
from data_tools.photos.copyright import licence_for
from reflect.cli import main
from reflect.data.synth.split import TEST_PHOTOS, TRAIN_PHOTOS

COPYRIGHT = """\
Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: fakepkg

Files: *
Copyright: 2020 Fake Team
License: GPL-2+

Files: photos/special.jpg
Copyright: 2021, Jane Photographer
           2022, Joe Assistant
License: CC0-1.0
 To the extent possible under law, the author has dedicated this work to the public domain.
"""
PHOTOS = "usr/share/backgrounds/fake"


def _photo(seed: int, fmt: str) -> bytes:
    rng = np.random.default_rng(seed)
    img = Image.fromarray(rng.integers(0, 255, (120, 200, 3), dtype=np.uint8))
    buf = io.BytesIO()
    img.save(buf, format=fmt)
    return buf.getvalue()


def _split(data: bytes) -> str:
    """The documented rule, written out: test when the first 8 hex of the sha256, mod 100, are below 25."""
    return "test" if int(hashlib.sha256(data).hexdigest()[:8], 16) % 100 < 25 else "train"


def _build_fake_deb(tmp_path: Path, copyright_text: str) -> tuple[Path, dict[str, bytes]]:
    """debs/fakepkg_1.0-1_all.deb: three photos, a corrupt one, an illustration, ``copyright_text``."""
    if shutil.which("dpkg-deb") is None:
        pytest.skip("dpkg-deb is not installed (needed to build the fake package)")
    for seed in range(0, 300, 3):  # the first seeds whose three photos fall in both splits
        photos = {
            name: _photo(seed + k, "PNG" if name.endswith(".png") else "JPEG")
            for k, name in enumerate(("plain.jpg", "other.png", "special.jpg"))
        }
        if {_split(b) for b in photos.values()} == {"train", "test"}:
            break
    root = tmp_path / "tree"
    (root / "DEBIAN").mkdir(parents=True)
    (root / "DEBIAN" / "control").write_text(
        "Package: fakepkg\nVersion: 1.0-1\nArchitecture: all\n"
        "Maintainer: Test <test@example.org>\nDescription: fake photos\n"
    )
    (root / "usr/share/doc/fakepkg").mkdir(parents=True)
    (root / "usr/share/doc/fakepkg/copyright").write_text(copyright_text)
    (root / PHOTOS).mkdir(parents=True)
    for name, data in photos.items():
        (root / PHOTOS / name).write_bytes(data)
    (root / PHOTOS / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    (root / "usr/share/illustrations").mkdir(parents=True)
    (root / "usr/share/illustrations/drawing.png").write_bytes(_photo(99, "PNG"))
    debs = tmp_path / "debs"
    debs.mkdir()
    subprocess.run(
        ["dpkg-deb", "--root-owner-group", "--build", str(root), str(debs / "fakepkg_1.0-1_all.deb")],
        check=True,
        capture_output=True,
    )
    return debs, photos


@pytest.fixture
def fake_deb(tmp_path: Path) -> tuple[Path, dict[str, bytes]]:
    """The fake package with a machine-readable copyright file (one photo has its own stanza)."""
    return _build_fake_deb(tmp_path, COPYRIGHT)


@pytest.fixture(autouse=True)
def offline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An apt-get that fails like one without network and leaves a mark; fakepkg and nopkg allow-listed."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    marker = tmp_path / "apt-called"
    (bin_dir / "apt-get").write_text(
        f'#!/bin/sh\necho "$@" >> {marker}\necho \'E: Unable to locate package\' "$2" >&2\nexit 100\n'
    )
    (bin_dir / "apt-get").chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.setitem(sources.DEBIAN_SOURCES, "fakepkg", sources.DebianSource("fakepkg", (f"{PHOTOS}/*",)))
    monkeypatch.setitem(sources.DEBIAN_SOURCES, "nopkg", sources.DebianSource("nopkg", ("usr/x/*.jpg",)))
    return marker


def _fetch(cache: Path, *extra: str) -> int:
    return main(["photos", "fetch", "--cache", str(cache), "--max-side", "64", *extra])


def _manifest(cache: Path) -> dict:
    return json.loads((cache / "manifest.json").read_text())


def _warnings(err: str) -> list[str]:
    return [line for line in err.splitlines() if line.startswith("warning:")]


def test_fetch_splits_by_hash_records_licences_and_never_calls_apt(fake_deb, offline, tmp_path, capsys):
    debs, photos = fake_deb
    cache = tmp_path / "cache"
    assert _fetch(cache, "--debs", str(debs), "--packages", "fakepkg") == 0
    assert not offline.exists(), "apt-get was called although the .deb was in --debs"
    records = {r["path"].rsplit("/", 1)[1]: r for r in _manifest(cache)["photos"]}
    assert set(records) == set(photos)  # the corrupt photo and the illustration are not there
    for name, data in photos.items():
        r = records[name]
        assert r["split"] == _split(data) and r["sha256"] == hashlib.sha256(data).hexdigest()
        out = cache / r["split"] / r["file"]
        assert r["file"] == f"fakepkg__{name.rsplit('.', 1)[0]}.jpg" and out.is_file()
        assert not (cache / ("train" if r["split"] == "test" else "test") / r["file"]).exists()
        with Image.open(out) as img:
            assert img.format == "JPEG" and img.size == (64, 38) == (r["width"], r["height"])
        assert (r["original_width"], r["original_height"], r["version"]) == (200, 120, "1.0-1")
    assert (
        records["plain.jpg"]["licence"] == "GPL-2+" and records["plain.jpg"]["copyright"] == "2020 Fake Team"
    )
    special = records["special.jpg"]
    assert special["licence"] == "CC0-1.0" and special["licence_from"] == "Files: photos/special.jpg"
    assert special["copyright"] == "2021, Jane Photographer; 2022, Joe Assistant"
    warnings = _warnings(capsys.readouterr().err)
    assert len(warnings) == 1 and "broken.jpg" in warnings[0] and "fakepkg" in warnings[0]


def test_second_run_does_nothing_and_a_lost_file_comes_back(fake_deb, offline, tmp_path, capsys):
    debs, _ = fake_deb
    cache = tmp_path / "cache"
    assert _fetch(cache, "--debs", str(debs), "--packages", "fakepkg") == 0
    first = _manifest(cache)
    files = sorted(cache.glob("*/*.jpg"))
    stamps = [f.stat().st_mtime_ns for f in files]
    capsys.readouterr()
    moved = tmp_path / "elsewhere"
    shutil.move(debs, moved)  # a complete source is not read again: its .deb is not even needed
    debs.mkdir()
    assert _fetch(cache, "--debs", str(debs), "--packages", "fakepkg") == 0
    out, err = capsys.readouterr()
    assert "0 photos added" in out and not _warnings(err) and not offline.exists()
    assert _manifest(cache) == first and [f.stat().st_mtime_ns for f in files] == stamps
    lost = files[0]
    data = lost.read_bytes()
    lost.unlink()
    shutil.copy(moved / "fakepkg_1.0-1_all.deb", debs)
    assert _fetch(cache, "--debs", str(debs), "--packages", "fakepkg") == 0
    assert "1 photo added, 2 already there" in capsys.readouterr().out
    assert lost.read_bytes() == data and _manifest(cache) == first


def test_missing_package_is_one_warning_and_the_fetch_goes_on(fake_deb, offline, tmp_path, capsys):
    debs, photos = fake_deb
    cache = tmp_path / "cache"
    assert _fetch(cache, "--debs", str(debs), "--packages", "nopkg,fakepkg") == 0
    assert offline.read_text().split() == ["download", "nopkg"]  # only the package not in --debs
    warnings = [w for w in _warnings(capsys.readouterr().err) if "nopkg" in w]
    assert len(warnings) == 1 and "Unable to locate package" in warnings[0]
    assert len(_manifest(cache)["photos"]) == len(photos)


def test_nothing_fetched_exits_2_with_one_line(tmp_path, capsys):
    cache = tmp_path / "cache"
    assert _fetch(cache, "--packages", "nopkg") == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(_warnings("\n".join(err))) == 1
    assert err[-1].startswith("reflect photos: error: no photographs could be fetched") and "nopkg" in err[-1]


def test_unknown_source_is_refused(tmp_path, capsys):
    assert _fetch(tmp_path / "cache", "--packages", "no-such-thing") == 2
    assert "unknown photo source no-such-thing" in capsys.readouterr().err


def test_scikit_image_photos_keep_the_projects_fixed_split(tmp_path, capsys):
    cache = tmp_path / "cache"
    assert _fetch(cache, "--packages", "scikit-image") == 0
    records = _manifest(cache)["photos"]
    assert records and all(r["licence"] for r in records)
    for r in records:
        name = r["path"].rsplit("/", 1)[1]
        assert name in TRAIN_PHOTOS + TEST_PHOTOS
        assert r["split"] == ("test" if name in TEST_PHOTOS else "train"), name
        assert (cache / r["split"] / r["file"]).is_file()
    assert main(["photos", "list", "--cache", str(cache)]) == 0
    out = capsys.readouterr().out
    assert f"{len(records)} photos (train " in out and "CC0-1.0" in out


def test_licence_matches_source_paths_to_installed_paths():
    lomiri = (
        "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n\n"
        "Files: *\nCopyright: 2018 Someone\nLicense: Expat\n\n"
        "Files: 16.04/Bridge_by_Sander_Klootwijk.jpg\nCopyright: 2018. Sander Klootwijk\nLicense: CC-BY-SA-4.0\n\n"
        "Files: nature/*.jpg\nCopyright: 2008 Nature People\nLicense: GPL-2+\n"
    )
    bridge = licence_for(lomiri, "usr/share/backgrounds/Bridge_by_Sander_Klootwijk.jpg", "c")
    assert (bridge.licence, bridge.copyright) == ("CC-BY-SA-4.0", "2018. Sander Klootwijk")
    assert licence_for(lomiri, "usr/share/backgrounds/mate/nature/Aqua.jpg", "c").licence == "GPL-2+"
    assert licence_for(lomiri, "usr/share/backgrounds/other.png", "c").licence == "Expat"
    assert licence_for("Copyright (c) someone, GPL", "x.jpg", "usr/share/doc/p/copyright").licence.startswith(
        "see "
    )


def test_split_rule_is_the_documented_hash_rule():
    blobs = [np.random.default_rng(k).bytes(64) for k in range(400)]
    got = [
        split_for("any-package", f"usr/share/{k}.jpg", hashlib.sha256(b).hexdigest())
        for k, b in enumerate(blobs)
    ]
    assert got == [_split(b) for b in blobs]
    assert 0.18 < got.count("test") / len(got) < 0.32


def test_damaged_deb_is_one_warning_naming_it(offline, tmp_path, capsys):
    debs = tmp_path / "debs"
    debs.mkdir()
    (debs / "fakepkg_1.0-1_all.deb").write_bytes(
        b"!<arch>\ndebian-binary   0           0     0     100644  4         `\n"
    )
    assert _fetch(tmp_path / "cache", "--debs", str(debs), "--packages", "fakepkg") == 2
    warnings = _warnings(capsys.readouterr().err)
    assert len(warnings) == 1 and "fakepkg_1.0-1_all.deb" in warnings[0] and not offline.exists()


def test_prose_copyright_gives_the_allow_lists_reading_or_points_to_the_file(offline, tmp_path, monkeypatch):
    debs, photos = _build_fake_deb(
        tmp_path, "Copyright 2004 Someone.\nThese photos are in the public domain.\n"
    )
    cache = tmp_path / "cache"
    assert _fetch(cache, "--debs", str(debs), "--packages", "fakepkg") == 0
    records = _manifest(cache)["photos"]
    assert len(records) == len(photos)
    assert {r["licence"] for r in records} == {"see usr/share/doc/fakepkg/copyright (not machine-readable)"}
    read = sources.DebianSource(
        "fakepkg", (f"{PHOTOS}/*",), prose_licence="public domain", prose_copyright="2004 Someone"
    )
    monkeypatch.setitem(sources.DEBIAN_SOURCES, "fakepkg", read)
    assert _fetch(cache, "--debs", str(debs), "--packages", "fakepkg") == 0  # a new selection: read again
    records = _manifest(cache)["photos"]
    assert {(r["licence"], r["copyright"]) for r in records} == {("public domain", "2004 Someone")}
    assert all("prose" in r["licence_from"] for r in records)
