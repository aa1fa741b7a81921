"""``data.kind: synthetic``: pairs rendered on the fly, pure in (seed, key), the held-out split respected."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from reflect.config import DataConfig, load_config
from reflect.data.io import write_image
from reflect.data.synth.split import TEST_PHOTOS, TRAIN_PHOTOS, identity_split, in_split
from reflect.data.synthetic import MAX_FACES, SyntheticDataset
from reflect.errors import ConfigError
from reflect.utils.paths import shared_data
from tests.data_tools.conftest import fake_face

REPO = Path(__file__).resolve().parents[2]
PORTRAITS = shared_data("portraits")


def data_cfg(**kw: object) -> DataConfig:
    base: dict[str, object] = {
        "kind": "synthetic",
        "crop_size": 48,
        "load_size": 48,
        "num_workers": 0,
        "synth": {"size": 64},
    }
    base.update(kw)
    return DataConfig(**base)  # type: ignore[arg-type]


@pytest.fixture
def faces() -> list:
    return [fake_face(n, k) for k, n in enumerate(["ann", "bob", "cid", "dee"])]


def test_samples_are_pure_in_seed_and_key_and_always_new(faces: list) -> None:
    a, b = (
        SyntheticDataset(data_cfg(), seed=3, faces=faces),
        SyntheticDataset(data_cfg(), seed=3, faces=faces),
    )
    s1, s2 = a[12345], b[12345]
    for k in ("A", "A_target", "B", "faces_box", "faces_n"):
        assert torch.equal(s1[k], s2[k]), f"{k} differs between two datasets with the same seed"
    assert not torch.equal(a[12346]["A"], s1["A"]), "two stream positions gave the same sample"
    assert not torch.equal(SyntheticDataset(data_cfg(), seed=4, faces=faces)[12345]["A"], s1["A"])
    assert s1["A"].shape == (3, 48, 48) and s1["A"].min() >= -1 and s1["A"].max() <= 1
    assert bool(s1["has_target"])


def test_reflections_are_removed_in_the_target_and_boxes_hold_the_face(faces: list) -> None:
    ds = SyntheticDataset(
        data_cfg(synth={"size": 64, "reflection": {"probability": 1.0, "strength": [0.4, 0.5]}}),
        seed=0,
        faces=faces,
    )
    diffs = []
    for key in range(8):
        s = ds[key]
        diffs.append(float((s["A"] - s["A_target"]).abs().mean()))
        n = int(s["faces_n"])
        assert 1 <= n <= MAX_FACES, "the driver's face must be inside the training crop"
        x1, y1, x2, y2 = s["faces_box"][0].tolist()
        assert 0 <= x1 < x2 <= 48 and 0 <= y1 < y2 <= 48
    assert min(diffs) > 0.02, "every input carries a reflection its target does not"


def test_clean_side_comes_from_real_crops_when_given(faces: list, tmp_path: Path) -> None:
    for i in range(3):
        write_image(tmp_path / "trainB" / f"{i}.png", np.full((60, 60, 3), 200 + i, np.uint8))
    ds = SyntheticDataset(data_cfg(root=str(tmp_path)), seed=0, faces=faces)
    b = ds[7]["B"]
    assert float(b.min()) > 0.5, "B should be one of the real (bright) clean crops, not a synthetic target"


def test_real_reflection_crops_mix_in_without_a_target(faces: list, tmp_path: Path) -> None:
    for i in range(2):
        write_image(tmp_path / "trainA" / f"{i}.png", np.full((60, 60, 3), 10, np.uint8))
    ds = SyntheticDataset(data_cfg(root=str(tmp_path), real_fraction=1.0), seed=0, faces=faces)
    s = ds[0]
    assert not bool(s["has_target"]) and int(s["faces_n"]) == 0
    with pytest.raises(ConfigError, match="trainA"):
        SyntheticDataset(data_cfg(real_fraction=0.5), seed=0, faces=faces)


def test_bad_data_settings_fail_at_load_naming_the_key() -> None:
    with pytest.raises(ConfigError, match="did you mean 'synthetic'"):
        load_config(REPO / "configs" / "remover.yaml", ["data.kind=synthtic"])
    with pytest.raises(ConfigError, match="data.synth.*reflection.strenght"):
        load_config(REPO / "configs" / "remover.yaml", ["data.synth.reflection.strenght=[0.1,0.2]"])
    with pytest.raises(ConfigError, match="faces_split"):
        load_config(REPO / "configs" / "remover.yaml", ["data.faces_split=val"])
    with pytest.raises(ConfigError, match="tests holds no images"):
        SyntheticDataset(data_cfg(faces=[str(REPO / "tests")]), seed=0)
    with pytest.raises(ConfigError, match="data.faces is empty"):
        SyntheticDataset(data_cfg(), seed=0)


def test_the_split_is_fixed_and_disjoint() -> None:
    assert identity_split("Some Body") == identity_split(" some body ")  # names, not files, decide
    names = [f"person {i}" for i in range(2000)]
    share = sum(identity_split(n) == "test" for n in names) / len(names)
    assert 0.15 < share < 0.25
    assert all(in_split(n, "all") for n in names[:10])
    assert not set(TRAIN_PHOTOS) & set(TEST_PHOTOS)


@pytest.mark.skipif(not PORTRAITS.is_dir(), reason=f"portraits not available ({PORTRAITS} is missing)")
def test_training_never_sees_a_held_out_identity() -> None:
    from reflect.data.synthetic import load_faces

    train = load_faces([str(PORTRAITS)], "train")
    test = load_faces([str(PORTRAITS)], "test")
    assert train and test
    assert not {f.identity for f in train} & {f.identity for f in test}
    assert all(identity_split(f.identity) == "train" for f in train)


def test_face_chips_are_the_driver_aligned_to_the_template(tmp_path: Path) -> None:
    """``data.face_chip``: both images cut to the driver's face, eyes and nose where dlib's template puts
    them (within the training jitter), the identity box covering the chip, pure in the key."""
    pytest.importorskip("dlib")
    import shutil

    from reflect.data.io import to_image
    from reflect.data.synth.faces import load_face_bank
    from reflect.faces.align import ChipSpec, template_points
    from reflect.faces.landmarks import dlib_shape5
    from reflect.faces.types import DLIB_5
    from tests.conftest import SHARED_FACES

    if not (SHARED_FACES / "obama.jpg").is_file():
        pytest.skip(f"real face photos not available ({SHARED_FACES} is missing)")
    shutil.copy(SHARED_FACES / "obama.jpg", tmp_path / "obama.jpg")
    bank = load_face_bank(tmp_path)
    cfg = data_cfg(face_chip=96, synth={"size": 256, "cabin": {"face_width": [0.3, 0.35]}})
    ds = SyntheticDataset(cfg, seed=1, faces=bank)
    template = template_points(DLIB_5, ChipSpec(96, 0.25)).numpy()
    for key in range(3):
        s = ds[key]
        assert s["A"].shape == s["A_target"].shape == (3, 96, 96)
        assert torch.equal(ds[key]["A"], s["A"])
        found = dlib_shape5(to_image(s["A_target"]), (0, 0, 96, 96))
        err = np.abs(found - template)
        if err.mean() > 8:  # a mirrored chip swaps the eyes: compare with the flipped template
            err = np.abs(
                found - np.stack([96 - template[[2, 3, 0, 1, 4], 0], template[[2, 3, 0, 1, 4], 1]], 1)
            )
        assert err.mean() < 8, f"landmarks {found.round(1).tolist()} far from the template"
        x1, y1, x2, y2 = s["faces_box"][0].tolist()
        assert (
            int(s["faces_n"]) == 1 and x1 > 0 and x2 < 96 and (x2 - x1) * 1.3 == pytest.approx(96, rel=1e-3)
        )
    from reflect.config import build_config

    with pytest.raises(ConfigError, match="data.face_chip"):
        build_config({"model": {"variant": "remover"}, "data": {"kind": "synthetic", "face_chip": 8}})


def test_face_landmarks_are_the_faces_in_the_crop_flipped_with_it(tmp_path: Path) -> None:
    """``data.face_landmarks``: each kept face's 5 landmarks in the crop's pixels, the ones dlib finds
    on the clean crop itself, mirrored (and the eyes swapped) with the crop; off by default."""
    pytest.importorskip("dlib")
    import shutil

    from reflect.config import build_config
    from reflect.data.io import to_image
    from reflect.data.synth.faces import load_face_bank
    from reflect.faces.landmarks import dlib_shape5
    from tests.conftest import SHARED_FACES

    if not (SHARED_FACES / "obama.jpg").is_file():
        pytest.skip(f"real face photos not available ({SHARED_FACES} is missing)")
    shutil.copy(SHARED_FACES / "obama.jpg", tmp_path / "obama.jpg")
    bank = load_face_bank(tmp_path)
    synth = {"size": 256, "cabin": {"face_width": [0.3, 0.35], "second_occupant": 0.0}}
    ds = SyntheticDataset(
        data_cfg(crop_size=200, load_size=200, face_landmarks=True, flip=True, synth=synth),
        seed=2,
        faces=bank,
    )
    plain = SyntheticDataset(
        data_cfg(crop_size=200, load_size=200, face_landmarks=True, flip=False, synth=synth),
        seed=2,
        faces=bank,
    )
    flipped = 0
    for key in range(6):
        s = ds[key]
        assert int(s["faces_n"]) == 1 and s["faces_lm"].shape == (MAX_FACES, 5, 2)
        lm = s["faces_lm"][0].numpy()
        found = dlib_shape5(to_image(s["A_target"]), s["faces_box"][0].tolist())
        assert np.abs(found - lm).mean() < 2.0, (
            f"key {key}: {lm.round(1).tolist()} vs dlib's {found.round(1).tolist()}"
        )
        assert lm[0, 0] > lm[2, 0]  # dlib's order: the image-right eye first, in either orientation
        flipped += int(torch.equal(s["A"], plain[key]["A"].flip(-1)))
        assert torch.equal(s["faces_lm"], ds[key]["faces_lm"])  # pure in the key
    assert flipped > 0, "no sample was mirrored: the flip path went untested"
    assert "faces_lm" not in SyntheticDataset(data_cfg(synth=synth), seed=2, faces=bank)[0]
    with pytest.raises(ConfigError, match="data.face_landmarks needs"):
        build_config(
            {
                "model": {"variant": "remover"},
                "data": {"kind": "synthetic", "face_landmarks": True, "face_chip": 96},
            }
        )
