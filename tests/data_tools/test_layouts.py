"""Layouts on disk and splits by identity."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from data_tools.synth.layouts import split_identities
from data_tools.synth.run import read_manifest, synthesize
from reflect.data.io import list_images, read_image
from reflect.data.synth.faces import Face
from reflect.errors import ConfigError
from tests.data_tools.conftest import small_cfg


def test_paired_layout_files_and_manifest(tmp_path: Path, fake_faces: list[Face]) -> None:
    cfg = small_cfg()
    summary = synthesize(fake_faces, tmp_path, 12, cfg, workers=1, progress=False)
    assert summary["count"] == 12
    recs = []
    for split in ("train", "test"):
        inputs = list_images(tmp_path / split / "input")
        assert [p.name for p in inputs] == [p.name for p in list_images(tmp_path / split / "target")]
        rows = read_manifest(tmp_path / split / "manifest.jsonl")
        assert sorted(r["name"] for r in rows) == [p.name for p in inputs]
        recs += rows
    r = recs[0]
    assert set(r["params"]) >= {
        "reflection",
        "ghost",
        "glass",
        "glare",
        "false_colour",
        "nir",
        "noise",
        "jpeg",
        "low_res",
        "motion_blur",
    }
    x1, y1, x2, y2 = r["faces"][0]["box"]
    assert 0 <= x1 < x2 <= 64 and 0 <= y1 < y2 <= 64 and r["faces"][0]["role"] == "driver"
    assert read_image(tmp_path / r["files"]["input"]).shape == (64, 64, 3)
    ids = yaml.safe_load((tmp_path / "identities.json").read_text())
    train_ids = {f["identity"] for x in recs if x["split"] == "train" for f in x["faces"]}
    test_ids = {f["identity"] for x in recs if x["split"] == "test" for f in x["faces"]}
    assert not train_ids & test_ids and train_ids <= set(ids["train"]) and test_ids <= set(ids["test"])


def test_unpaired_groups_share_no_identity(tmp_path: Path, fake_faces: list[Face]) -> None:
    cfg = small_cfg(layout="unpaired", test_fraction=0.34)
    synthesize(fake_faces, tmp_path, 24, cfg, workers=1, progress=False)
    recs = read_manifest(tmp_path / "manifest.jsonl")
    seen: dict[str, set[str]] = {}
    for r in recs:
        seen.setdefault(r["split"], set()).update(f["identity"] for f in r["faces"])
        ((kind, rel),) = r["files"].items()
        assert kind == ("input" if r["split"].endswith("A") else "target") and (tmp_path / rel).is_file()
    assert set(seen) == {"trainA", "trainB", "testA", "testB"}
    groups = list(seen.values())
    for i in range(len(groups)):
        for j in range(i + 1, len(groups)):
            assert not groups[i] & groups[j]
    assert all(list_images(tmp_path / g) for g in seen)


def test_multidomain_layout(tmp_path: Path, fake_faces: list[Face]) -> None:
    cfg = small_cfg(layout="multidomain", test_fraction=0.0)
    synthesize(fake_faces, tmp_path, 12, cfg, workers=1, progress=False)
    domains = yaml.safe_load((tmp_path / "domains.yaml").read_text())["domains"]
    assert domains == ["clean", "sky", "foliage", "glare", "false_colour", "nir"]
    for d in domains:
        assert len(list_images(tmp_path / "train" / d)) == 2
    for r in read_manifest(tmp_path / "train" / "manifest.jsonl"):
        if r["domain"] == "clean":
            assert r["params"]["reflection"] is None and r["params"]["glare"] is None
        if r["domain"] in ("sky", "foliage"):
            assert r["params"]["reflection"]["source"] == r["domain"]
        if r["domain"] == "nir":
            img = read_image(tmp_path / r["files"]["input"])
            assert (img[..., 0] == img[..., 2]).all()


def test_workers_do_not_change_the_bytes(tmp_path: Path, fake_faces: list[Face]) -> None:
    cfg = small_cfg()
    synthesize(fake_faces, tmp_path / "one", 6, cfg, workers=1, progress=False)
    synthesize(fake_faces, tmp_path / "two", 6, cfg, workers=2, progress=False)
    for p in sorted((tmp_path / "one").rglob("*.png")):
        assert p.read_bytes() == (tmp_path / "two" / p.relative_to(tmp_path / "one")).read_bytes()


def test_too_few_identities_is_a_clear_error() -> None:
    with pytest.raises(ConfigError, match="needs at least 4 face identities"):
        split_identities(["a", "b", "c"], small_cfg(layout="unpaired"))
