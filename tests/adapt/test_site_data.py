"""The site's data: every sample a pure function of (seed, key), site crops and anchor pairs alike."""

from __future__ import annotations

import torch

from reflect.config import DataConfig
from reflect.data.io import list_images
from reflect.data.site import SiteDataset
from reflect.data.synthetic import SyntheticDataset
from tests.data_tools.conftest import fake_face

SIZE = 64


def index_of(site) -> dict:  # type: ignore[no-untyped-def]
    box, lm = [20.0, 16.0, 44.0, 48.0], [[38, 28], [34, 28], [26, 28], [30, 28], [32, 38]]
    crops = [{"path": str(p), "faces": [{"box": box, "lm": lm, "clear": True}]} for p in list_images(site)]
    return {"size": SIZE, "crops": crops}


def test_samples_are_reproducible_and_mix_site_crops_with_anchor_pairs(toy_site):
    faces = [fake_face(n, k) for k, n in enumerate(["ann", "bob", "cid"])]
    data = DataConfig(kind="synthetic", load_size=SIZE, crop_size=SIZE, synth={"size": SIZE})
    anchor = SyntheticDataset(data, seed=3, faces=faces)
    ds = SiteDataset(index_of(toy_site), SIZE, seed=3, anchor=anchor, anchor_fraction=0.5, need_b=True)
    samples = [ds[k] for k in range(12)]
    kinds = {bool(s["site"]) for s in samples}
    assert kinds == {True, False}  # both kinds in a dozen draws
    for s in samples:
        assert set(s) == set(samples[0]) and s["A"].shape == s["B"].shape == (3, SIZE, SIZE)
        assert bool(s["has_target"]) != bool(s["site"])
        assert int(s["faces_n"]) == (1 if s["site"] else 0)  # identity on the site's clear faces only
        assert float(s["layer"].min()) >= 0 and float(s["layer"].max()) <= 1
    again = ds[5]
    for k, v in samples[5].items():
        assert torch.equal(v, again[k]), k
    # a mirrored crop carries the mirrored box: the face box stays on the face
    boxes = {tuple(s["faces_box"][0].tolist()) for s in samples if s["site"]}
    assert boxes <= {(20.0, 16.0, 44.0, 48.0), (SIZE - 44.0, 16.0, SIZE - 20.0, 48.0)}, boxes
