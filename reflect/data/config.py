"""The ``data`` section of an experiment config (:mod:`reflect.config`): where training images come from
and how they are augmented. The builders of :mod:`reflect.data` read it; the synthetic recipe it
carries (``synth``) is a :class:`~reflect.data.synth.config.SynthConfig` mapping."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal


@dataclass
class DataConfig:
    """Where training images come from and how they are augmented."""

    # unpaired: ROOT/trainA, trainB (CycleGAN layout); multidomain: ROOT/train/<domain>/;
    # toy: procedurally generated window-like images (tests, smoke runs; no files needed);
    # synthetic: windshield pairs rendered on the fly from the faces in ``faces`` (reflect.data.synthetic),
    # with real ROOT/trainB (clean) and ROOT/trainA (reflections) mixed in when ``root`` is given.
    kind: Literal["unpaired", "toy", "synthetic", "multidomain"] = "unpaired"
    root: str = ""
    load_size: int = 286  # resize the shorter side to this, then random-crop crop_size
    crop_size: int = 256
    flip: bool = True
    batch_size: int = 1
    num_workers: int = 2
    max_images: int = 0  # 0 = all; otherwise the first N files of each domain (sorted)
    # Optional synthetic pairs (ROOT/train/input, ROOT/train/target) mixed into domain A samples:
    # such samples carry a target and feed the supervised L1 term.
    paired_root: str = ""
    paired_fraction: float = 0.0
    # multidomain (and toy with a multi-domain variant): the domain set, in the model's order (default:
    # the model's domains); extra_roots: more datasets, each labelled with a subset (its domains.yaml)
    domains: list[str] = field(default_factory=list)
    extra_roots: list[str] = field(default_factory=list)
    # synthetic: folders of face photos for the cabin, which identities (train | test | all of the
    # fixed split in reflect.data.synth.split), the glass recipe (a SynthConfig mapping, see
    # configs/synth.yaml), the share of near-infrared samples and of real trainA crops.
    faces: list[str] = field(default_factory=list)
    faces_split: Literal["train", "test", "all"] = "train"
    synth: dict[str, Any] = field(default_factory=dict)
    nir_fraction: float = 0.0
    real_fraction: float = 0.0
    # synthetic: > 0 trains on the driver's face only, aligned to dlib's template in a chip of this
    # many pixels (the face-enhancement model, reflect.face_enhance); crop_size is then unused.
    face_chip: int = 0
    # synthetic: also give each face's 5 landmarks (dlib's predictor on the clean render in the known box,
    # ``faces_lm``) so that the identity loss cuts the chips a recogniser sees: aligned to dlib's template
    face_landmarks: bool = False
