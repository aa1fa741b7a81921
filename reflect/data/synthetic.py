"""``data.kind: synthetic``: windshield pairs rendered on the fly, without limit.

Every sample is new (the synthesiser's sample index is the stream key, which grows forever) and
still a pure function of ``(seed, key)``, so data order does not depend on the number of loader
workers and resume is exact (see :class:`reflect.data.datasets.StreamSampler`).

Cabin content: the faces in ``data.faces`` (folders of photos; MTCNN finds each face once and the
result is cached), restricted to ``data.faces_split`` of the fixed identity split
(:mod:`reflect.data.synth.split`), so the held-out identities are never trained on. The glass
recipe is ``data.synth`` (a :class:`~reflect.data.synth.config.SynthConfig` mapping).

Real data mix in when ``data.root`` is given: ``ROOT/trainB`` (real clean crops) become the "real"
side of the adversarial term instead of the synthetic targets; ``ROOT/trainA`` (real crops with
reflections, no target) replaces a ``data.real_fraction`` of the synthetic inputs, for the
unpaired losses only.

A sample: ``A`` (input), ``A_target`` (clean), ``has_target``, ``B`` (a clean image), ``faces_box``
(``MAX_FACES`` x 4 boxes in the crop's pixels, zero rows unused), ``faces_n``, ``domain``,
``reflection_free`` (input == target: the glass model ``none``); with
``data.face_landmarks`` also ``faces_lm`` (``MAX_FACES`` x 5 x 2, dlib's 5-point layout, the same rows).
"""

from __future__ import annotations

import hashlib
import logging
import os
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from reflect.data.config import DataConfig
from reflect.data.io import list_images, read_image, to_tensor
from reflect.data.synth.config import SynthConfig, synth_config_from_dict
from reflect.data.synth.faces import Face, load_face_bank
from reflect.data.synth.generator import Sample, Synthesizer
from reflect.data.synth.split import in_split
from reflect.data.transforms import train_transform
from reflect.errors import ConfigError

log = logging.getLogger(__name__)

MAX_FACES = 2
EPOCH = 1_000_000  # stream positions per "epoch" (every key is a new sample anyway)


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "reflect"


def load_faces(folders: list[str], split: str) -> list[Face]:
    """Faces of ``folders`` whose identity is in ``split`` (train | test | all), detections cached."""
    if not folders:
        raise ConfigError("data.faces is empty: give one or more folders of face photos for the cabin layer")
    faces: list[Face] = []
    for folder in folders:
        root = Path(folder).expanduser()
        if not root.is_dir():
            raise ConfigError(f"data.faces: folder {root} does not exist")
        key = hashlib.sha256(str(root.resolve()).encode()).hexdigest()[:16]
        bank = load_face_bank(root, cache=cache_dir() / f"faces-{key}.json")
        faces += [f for f in bank if in_split(f.identity, split)]
    if not faces:
        raise ConfigError(f"data.faces: no face of the '{split}' split in {', '.join(folders)}")
    log.info(
        "synthetic data: %d faces of %d identities (%s split)",
        len(faces),
        len({f.identity for f in faces}),
        split,
    )
    return faces


def synth_config(cfg: DataConfig, seed: int) -> SynthConfig:
    sc = synth_config_from_dict(dict(cfg.synth))
    if "seed" not in cfg.synth:
        sc.seed = seed
    return sc


class SyntheticDataset(Dataset[dict[str, Any]]):
    def __init__(self, cfg: DataConfig, seed: int = 0, faces: list[Face] | None = None) -> None:
        self.cfg, self.seed = cfg, seed
        self.synth_cfg = synth_config(cfg, seed)
        if cfg.crop_size > self.synth_cfg.size:
            raise ConfigError(
                f"data.crop_size {cfg.crop_size} is larger than the rendered size data.synth.size={self.synth_cfg.size}"
            )
        self.faces = faces if faces is not None else load_faces(cfg.faces, cfg.faces_split)
        self.synth = Synthesizer(self.synth_cfg, people=self.faces)  # passers-by for 'person' reflections
        self.real_a: list[Path] = []
        self.real_b: list[Path] = []
        if cfg.root:
            root = Path(cfg.root)
            if not root.is_dir():
                raise ConfigError(f"data.root {root} does not exist")
            for side, files in (("A", self.real_a), ("B", self.real_b)):
                folder = root / f"train{side}"
                if folder.is_dir():
                    files += list_images(folder)[: cfg.max_images or None]
            if not self.real_a and not self.real_b:
                raise ConfigError(f"data.root {root} has no trainA/ or trainB/ images")
        if cfg.real_fraction > 0 and not self.real_a:
            raise ConfigError("data.real_fraction > 0 needs real crops with reflections in data.root/trainA")
        self.transform = train_transform(cfg.load_size, cfg.crop_size, cfg.flip, paired=True)

    def __len__(self) -> int:
        return EPOCH

    def _crop(self, rng: np.random.Generator, size: int, box: list[float]) -> tuple[int, int]:
        """Top-left of a ``crop_size`` window that keeps the driver's face centre well inside."""
        c = self.cfg.crop_size
        if c >= size:
            return 0, 0
        out = []
        for lo_edge, hi_edge in ((box[0], box[2]), (box[1], box[3])):
            centre, margin = (lo_edge + hi_edge) / 2, min(c / 4, (hi_edge - lo_edge))
            lo, hi = max(0, int(centre + margin - c)), min(size - c, int(centre - margin))
            out.append(int(rng.integers(lo, hi + 1)) if hi >= lo else int(rng.integers(0, size - c + 1)))
        return out[0], out[1]

    def _real(self, rng: np.random.Generator, files: list[Path]) -> torch.Tensor:
        path = files[int(rng.integers(len(files)))]
        self.transform.set_random_seed(int(rng.integers(2**31)))
        img = read_image(path)
        return to_tensor(self.transform(image=img, target=img)["image"])

    def _chip(self, rng: np.random.Generator, sample: Sample) -> dict[str, Any]:
        """The driver's face of both images, aligned to dlib's template (landmarks found on the clean
        render inside the known box) with a random similarity jitter, as a detector at test time
        would place it; the identity box covers the chip (see :class:`BoxIdentityLoss`' margin)."""
        from reflect.faces.align import ChipSpec, align_faces
        from reflect.faces.landmarks import dlib_shape5
        from reflect.faces.types import DLIB_5

        c = self.cfg.face_chip
        lm = dlib_shape5(sample.target, sample.faces[0]["box"]).astype(np.float64)
        centre, span = lm.mean(0), float(np.linalg.norm(lm[0] - lm[2]))  # outer eye corners
        scale, angle = float(np.exp(rng.normal(0.0, 0.05))), float(rng.normal(0.0, 0.05))
        rot = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]]) * scale
        lm = centre + (lm - centre) @ rot.T + rng.normal(0.0, 0.03, 2) * span
        images = torch.stack([to_tensor(sample.input), to_tensor(sample.target)])
        lms = torch.from_numpy(lm).float().expand(2, 5, 2)
        a_t, t_t = align_faces(images, lms, torch.arange(2), layout=DLIB_5, spec=ChipSpec(c, 0.25))
        if self.cfg.flip and rng.random() < 0.5:
            a_t, t_t = a_t.flip(-1), t_t.flip(-1)
        half = c / 2.6  # with the identity loss' 0.15 margin the square is the whole chip
        boxes = torch.zeros(MAX_FACES, 4)
        boxes[0] = torch.tensor([c / 2 - half, c / 2 - half, c / 2 + half, c / 2 + half])
        return {
            "A": a_t,
            "A_target": t_t,
            "has_target": torch.tensor(True),
            "B": t_t,
            "faces_box": boxes,
            "faces_n": torch.tensor(1),
            "domain": sample.domain,
        }

    def __getitem__(self, key: int) -> dict[str, Any]:
        cfg = self.cfg
        rng = np.random.default_rng([self.seed, key, 17])
        n = len(self.faces)
        driver = self.faces[int(rng.integers(n))]
        passenger = None
        if rng.random() < self.synth_cfg.cabin.second_occupant and n > 1:
            others = [
                f
                for f in (self.faces[int(k)] for k in rng.integers(n, size=4))
                if f.identity != driver.identity
            ]
            passenger = others[0] if others else None
        domain = "nir" if rng.random() < cfg.nir_fraction else None
        sample = self.synth.render(int(key), driver, passenger, domain=domain)
        if cfg.face_chip:
            return self._chip(rng, sample)
        x0, y0 = self._crop(rng, self.synth_cfg.size, sample.faces[0]["box"])
        c = min(cfg.crop_size, self.synth_cfg.size)
        a = sample.input[y0 : y0 + c, x0 : x0 + c]
        t = sample.target[y0 : y0 + c, x0 : x0 + c]
        boxes = torch.zeros(MAX_FACES, 4)
        marks = torch.zeros(MAX_FACES, 5, 2)
        if cfg.face_landmarks:
            from reflect.faces.landmarks import dlib_shape5
        count = 0
        for f in sample.faces[:MAX_FACES]:
            x1, y1, x2, y2 = f["box"]
            bx = [
                np.clip(x1 - x0, 0, c),
                np.clip(y1 - y0, 0, c),
                np.clip(x2 - x0, 0, c),
                np.clip(y2 - y0, 0, c),
            ]
            if bx[2] - bx[0] >= 8 and bx[3] - bx[1] >= 8:
                boxes[count] = torch.tensor(bx, dtype=torch.float32)
                if cfg.face_landmarks:
                    marks[count] = torch.from_numpy(
                        dlib_shape5(sample.target, f["box"]) - np.array([x0, y0], np.float32)
                    )
                count += 1
        if cfg.flip and rng.random() < 0.5:
            a, t = a[:, ::-1], t[:, ::-1]
            boxes[:count] = torch.stack(
                [c - boxes[:count, 2], boxes[:count, 1], c - boxes[:count, 0], boxes[:count, 3]], 1
            )
            # pixel centres mirror to c - 1 - x; the image-right eye becomes the image-left one
            marks[:count, :, 0] = c - 1 - marks[:count, :, 0]
            marks[:count] = marks[:count][:, [2, 3, 0, 1, 4]]
        a_t, t_t = to_tensor(np.ascontiguousarray(a)), to_tensor(np.ascontiguousarray(t))
        b_t = self._real(rng, self.real_b) if self.real_b else t_t  # the clean side of the adversarial term
        has_target = True
        if self.real_a and rng.random() < cfg.real_fraction:  # a real crop with reflections, no target
            a_t, t_t, has_target, count = self._real(rng, self.real_a), torch.zeros_like(a_t), False, 0
            boxes.zero_()
            marks.zero_()
        free = has_target and sample.reflection_free
        out = {
            "A": a_t,
            "A_target": t_t,
            "has_target": torch.tensor(has_target),
            "B": b_t,
            "faces_box": boxes,
            "faces_n": torch.tensor(count),
            "domain": sample.domain,
            "reflection_free": torch.tensor(free),
        }
        return out | {"faces_lm": marks} if cfg.face_landmarks else out
