"""A site's own window crops for ``reflect adapt`` (the ``adapt`` variant's data).

The site is a folder of crops through the glass, without targets; optionally a folder of clean
images of the same domain; optionally anchor pairs rendered from the base model's own recipe
(:class:`~reflect.data.synthetic.SyntheticDataset`). Each crop is prepared once the same way
everywhere (:func:`prepare`: the shorter side scaled to the training size, centre square), so the
face boxes and landmarks of the site index (:mod:`reflect.adapt.index`, found once per run) are in
the training crop's pixels.

A sample, a pure function of ``(seed, key)`` as everywhere in :mod:`reflect.data` (exact resume):
``A`` (3, S, S) in [-1, 1]; ``site`` (a site crop, no target) or an anchor pair (``has_target``,
``A_target``); ``B`` a clean image (the ``clean`` folder, else the anchor recipe's clean render, else
zeros: no adversarial term); ``layer`` (3, S, S) in [0, 1], the reflection the re-synthesis loss adds
(another crop of the site, or a procedural sky, foliage, facade or street lights) and ``blend`` its
glass model and parameters (:data:`reflect.data.synth.blends.BLEND_PARAMS`); ``faces_box``,
``faces_n``, ``faces_lm`` the site crop's clear faces (dlib's 5 points), for the identity loss; with
``colour_stats``, ``clean_mean`` and ``clean_std`` (3,), the clean images' per-channel moments in [0, 1]
units (the same in every sample; :func:`reflect.losses.adaptation.colour_moments`); ``clean_pair``: with
``clean_pair_fraction``, a clean crop behind a new reflection with the crop as ``A_target`` (``has_target``,
not ``site``), its input scaled to the site crops' mean brightness (:meth:`SiteDataset._calibrate_pairs`)
or, with ``pair_glass="site-mean"``, put behind the site's mean glass, with ``"site-floor"`` behind one site
crop's veiling light (:meth:`SiteDataset._fit_site_glass`).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch
from torch.utils.data import Dataset

from reflect.data.io import folder_images, list_images, read_image, to_tensor
from reflect.data.site_stats import SITE_GLASS_GRID, linear_stats
from reflect.data.synth import glass
from reflect.data.synth.blends import BLEND_PARAMS, RESYNTH_BLENDS, apply_row
from reflect.data.synth.reflections import reflection_layer
from reflect.errors import ConfigError, ImageReadError
from reflect.utils.images import float_to_uint8, image_moments

log = logging.getLogger(__name__)

MAX_FACES = 2
MOMENT_IMAGES = 256  # clean images read (evenly spaced) for the colour moments
PAIR_CALIBRATION = 64  # pairs drawn to calibrate the pairs' brightness to the site's crops
EPOCH = 1_000_000
PROCEDURAL_LAYERS = ("sky", "foliage", "buildings", "streetlights")
INDEX_NAME = "site_index.json"


def site_images(folder: str | Path, what: str = "--site", videos: int = 0) -> list[Path]:
    """The images of a site folder (recursively, sorted); a missing folder, or one with neither images
    nor (``videos``, counted by the caller, for ``--site``) videos, is one line."""
    root = Path(folder).expanduser()
    if videos:
        return list_images(root, recursive=True)
    kinds = " or videos" if what == "--site" else ""
    hint = f" (give a folder of window crops: .jpg, .png, ...{kinds})"
    return folder_images(root, f"{what} folder", recursive=True, hint=hint)


def prepare(image: np.ndarray, size: int) -> np.ndarray:
    """(H, W, 3) uint8 -> (size, size, 3) uint8: shorter side scaled to ``size``, centre square."""
    h, w = image.shape[:2]
    s = size / min(h, w)
    nh, nw = max(size, round(h * s)), max(size, round(w * s))
    img = cv2.resize(image, (nw, nh), interpolation=cv2.INTER_AREA if s < 1 else cv2.INTER_LINEAR)
    y, x = (nh - size) // 2, (nw - size) // 2
    return np.ascontiguousarray(img[y : y + size, x : x + size])


def load_index(run_dir: Path) -> dict[str, Any]:
    path = run_dir / INDEX_NAME
    if not path.is_file():
        raise ConfigError(f"{run_dir} has no {INDEX_NAME}: it was not started by `reflect adapt`")
    index: dict[str, Any] = json.loads(path.read_text())
    return index


def _mirror(boxes: torch.Tensor, marks: torch.Tensor, n: int, size: int) -> None:
    """Mirror boxes and dlib-5 landmarks of a horizontally flipped crop, in place (as the synthetic data)."""
    boxes[:n] = torch.stack([size - boxes[:n, 2], boxes[:n, 1], size - boxes[:n, 0], boxes[:n, 3]], 1)
    marks[:n, :, 0] = size - 1 - marks[:n, :, 0]
    marks[:n] = marks[:n][:, [2, 3, 0, 1, 4]]


class SiteDataset(Dataset[dict[str, Any]]):
    """Site crops, clean images and anchor pairs (see the module docstring).

    ``index``: the site index (``crops``: ``path`` and ``faces``, each with ``box``, ``lm`` and
    ``clear``); ``anchor``: a synthetic dataset of the same crop size, or None; ``need_b``: whether
    the adversarial term needs a clean image per sample.
    """

    def __init__(
        self,
        index: dict[str, Any],
        size: int,
        seed: int,
        *,
        clean: str = "",
        anchor: Dataset[dict[str, Any]] | None = None,
        anchor_fraction: float = 0.0,
        site_layer_fraction: float = 0.5,
        flip: bool = True,
        need_b: bool = False,
        colour_stats: bool = False,
        clean_pair_fraction: float = 0.0,
        calibrate_pairs: bool = True,
        pair_glass: str = "resynthesis",
    ) -> None:
        self.crops: list[dict[str, Any]] = index["crops"]
        if not self.crops:
            raise ConfigError("the site index holds no readable crop")
        self.size, self.seed, self.flip = size, seed, flip
        self.clean = site_images(clean, "--clean") if clean else []
        self.anchor, self.anchor_fraction, self.layer_fraction = anchor, anchor_fraction, site_layer_fraction
        self.need_b, self.pair_fraction = need_b, clean_pair_fraction
        if clean_pair_fraction > 0 and not self.clean:
            raise ConfigError(
                "pairs from the clean crops need clean crops of the site's camera: give --clean DIR"
            )
        self.unreadable: set[str] = set()
        pairs = clean_pair_fraction > 0
        self.site_glass = (
            self._fit_site_glass(per_crop=pair_glass == "site-floor")
            if pairs and pair_glass in ("site-mean", "site-floor")
            else None
        )
        self.pair_gain = (
            self._calibrate_pairs() if pairs and calibrate_pairs and self.site_glass is None else None
        )
        if need_b and not self.clean and anchor is None:
            raise ConfigError(
                "the adversarial term needs clean images: give --clean DIR, or a base recipe with "
                "synthetic data (its faces folder), or --method none"
            )
        self.moments: dict[str, torch.Tensor] = {}
        if colour_stats:
            if not self.clean:
                raise ConfigError("matching the clean images' colour needs clean crops: give --clean DIR")
            self.moments = self._clean_moments()

    def _clean_moments(self) -> dict[str, torch.Tensor]:
        """Per-channel mean and std of the clean images (at most :data:`MOMENT_IMAGES`, evenly spaced)."""
        step = max(1, len(self.clean) // MOMENT_IMAGES)
        stack = np.stack([self._read(str(p)) for p in self.clean[::step][:MOMENT_IMAGES]])
        mean, std = image_moments(torch.from_numpy(stack).permute(0, 3, 1, 2).float() / 255.0)
        log.info(
            "clean crops' colour: mean %s, spread %s (%d images)",
            [round(float(v), 3) for v in mean],
            [round(float(v), 3) for v in std],
            len(stack),
        )
        return {"clean_mean": mean, "clean_std": std}

    def __len__(self) -> int:
        return EPOCH

    def _read(self, path: str) -> np.ndarray:
        try:
            return prepare(read_image(path), self.size)
        except ImageReadError as e:
            if path not in self.unreadable:
                self.unreadable.add(path)
                log.error("%s; training uses a grey image in its place", e)
            return np.full((self.size, self.size, 3), 128, np.uint8)

    def _layer(self, rng: np.random.Generator, i: int) -> tuple[np.ndarray, bool]:
        """A reflected scene (S, S, 3) in [0, 1]: another crop of the site, or a procedural one."""
        if len(self.crops) > 1 and rng.random() < self.layer_fraction:
            j = (i + 1 + int(rng.integers(len(self.crops) - 1))) % len(self.crops)
            img = self._read(self.crops[j]["path"])
            return np.ascontiguousarray(img[:, ::-1] if rng.random() < 0.5 else img).astype(
                np.float32
            ) / 255.0, True
        source = PROCEDURAL_LAYERS[int(rng.integers(len(PROCEDURAL_LAYERS)))]
        return reflection_layer(rng, source, self.size, None)[0].astype(np.float32), False

    def _blend(self, rng: np.random.Generator, own_site: bool) -> torch.Tensor:
        """One row of blend parameters: glass model, strength, blur (site layers blurred more), gains."""
        px = self.size / 256.0
        a = float(rng.uniform(0.15, 0.5))
        sigma = float(rng.uniform(2.0, 6.0) if own_site else rng.uniform(1.0, 4.0)) * px
        g_t = 1.0 - rng.uniform(0.05, 0.28) * rng.uniform(0.8, 1.2, 3)  # within the gain ceiling 1.5
        g_r = a * rng.uniform(0.8, 1.2, 3)
        row = [float(rng.integers(len(RESYNTH_BLENDS))), a, sigma, *g_t, *g_r]
        assert len(row) == BLEND_PARAMS
        return torch.tensor(row, dtype=torch.float32)

    def _clean_image(self, rng: np.random.Generator) -> np.ndarray:
        """A clean crop of the site's camera, (S, S, 3) uint8, flipped at random."""
        img = self._read(str(self.clean[int(rng.integers(len(self.clean)))]))
        return np.ascontiguousarray(img[:, ::-1]) if self.flip and rng.random() < 0.5 else img

    def _clean(self, rng: np.random.Generator, key: int) -> torch.Tensor:
        if not self.need_b:
            return torch.zeros(3, self.size, self.size)
        if self.clean:
            return to_tensor(self._clean_image(rng))
        assert self.anchor is not None
        target: torch.Tensor = self.anchor[EPOCH + key]["A_target"]
        return target

    def __getitem__(self, key: int) -> dict[str, Any]:
        rng = np.random.default_rng([self.seed, key, 29])
        s = self.size
        boxes, marks, count = torch.zeros(MAX_FACES, 4), torch.zeros(MAX_FACES, 5, 2), 0
        if self.anchor is not None and rng.random() < self.anchor_fraction:
            pair = self.anchor[key]
            return {
                "A": pair["A"],
                "A_target": pair["A_target"],
                "has_target": torch.tensor(True),
                "site": torch.tensor(False),
                "B": self._clean(rng, key),
                "layer": torch.zeros(3, s, s),
                "blend": torch.zeros(BLEND_PARAMS),
                "faces_box": boxes,
                "faces_n": torch.tensor(0),
                "faces_lm": marks,
                "clean_pair": torch.tensor(False),
            } | self.moments
        i = int(rng.integers(len(self.crops)))
        if self.pair_fraction > 0 and rng.random() < self.pair_fraction:
            return self._clean_pair(rng, i) | self.moments
        crop = self.crops[i]
        img = self._read(crop["path"])
        for f in (f for f in crop.get("faces", []) if f.get("clear")):
            if count < MAX_FACES:
                boxes[count] = torch.tensor(f["box"], dtype=torch.float32)
                marks[count] = torch.tensor(f["lm"], dtype=torch.float32)
                count += 1
        if self.flip and rng.random() < 0.5:
            img = np.ascontiguousarray(img[:, ::-1])
            _mirror(boxes, marks, count, s)
        layer, own = self._layer(rng, i)
        return {
            "A": to_tensor(img),
            "A_target": torch.zeros(3, s, s),
            "has_target": torch.tensor(False),
            "site": torch.tensor(True),
            "B": self._clean(rng, key),
            "layer": torch.from_numpy(layer).permute(2, 0, 1).contiguous(),
            "blend": self._blend(rng, own),
            "faces_box": boxes,
            "faces_n": torch.tensor(count),
            "faces_lm": marks,
            "clean_pair": torch.tensor(False),
        } | self.moments

    def _pair_input(self, rng: np.random.Generator, i: int) -> tuple[np.ndarray, np.ndarray]:
        """A clean crop (uint8) and that crop behind a new reflection (display values in [0, 1])."""
        target = self._clean_image(rng)
        layer, own = self._layer(rng, i)
        row = self._blend(rng, own).numpy()
        return apply_row(target.astype(np.float32) / 255.0, layer, row), target

    def _site_and_pair_stats(
        self,
    ) -> tuple[tuple[np.ndarray, np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """:func:`~reflect.data.site_stats.linear_stats` (mean image, detail, light floors) in linear light of the site's crops (at
        most :data:`MOMENT_IMAGES`, evenly spaced) and of :data:`PAIR_CALIBRATION` pair inputs as the
        re-synthesis glass makes them: what the calibrations compare. One image in memory at a time; a
        pure function of the seed and the folders."""
        step = max(1, len(self.crops) // MOMENT_IMAGES)
        site = (self._read(c["path"]).astype(np.float32) / 255.0 for c in self.crops[::step][:MOMENT_IMAGES])
        rng = np.random.default_rng([self.seed, 31])
        pairs = (
            self._pair_input(rng, int(rng.integers(len(self.crops))))[0].astype(np.float32)
            for _ in range(PAIR_CALIBRATION)
        )
        return linear_stats(site), linear_stats(pairs)

    def _fit_site_glass(self, per_crop: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """The site's glass, fitted to the crops' statistics with no model in the loop: in linear light,
        per channel, the pairs' inputs become ``k * x + b(x, y)``. ``k``, at most 1, is the ratio of the
        detail of the site's crops to that of the pairs (:func:`~reflect.data.site_stats.fine_detail`): the contrast a veil or a
        transmission loss takes from the scene (the spread of whole crops would count the glass's own
        smooth light, a haze growing toward the sun, as contrast).

        ``b`` is the smooth light the glass adds. ``--pair-glass site-mean``: one map, the difference of
        the mean images on a :data:`~reflect.data.site_stats.SITE_GLASS_GRID` grid, interpolated (an airlight, a haze, the
        reflections' mean): whatever the glass does the same to every crop survives the average, each
        crop's scene and reflection average out, and so does a haze that grows toward the sun from a
        different side in each crop. ``--pair-glass site-floor`` (``per_crop``): one map per site crop,
        its :func:`~reflect.data.site_stats.light_floor` less ``k`` times the pairs' mean floor, so each pair is veiled as one
        site crop was (its haze, its side of the sun, its reflection's floor), while the crop's scene
        and the structure of its reflection, above the floor, stay out. Returns ``k`` (3,) and ``b``:
        (S, S, 3) for the mean, (N, grid, grid, 3) per crop (:meth:`_glass_light` draws and
        interpolates one)."""
        (mean_site, detail_site, floors_site), (mean_pairs, detail_pairs, floors_pairs) = (
            self._site_and_pair_stats()
        )
        # a glass takes contrast from the scene, never adds it: more detail through the site's glass
        # than in the pairs is the reflections' (stronger than the re-synthesis ones), not the scene's
        k = np.clip(detail_site / np.maximum(detail_pairs, 1e-6), 0.5, 1.0).astype(np.float32)
        if per_crop:
            b = (floors_site - k * floors_pairs.mean(0)).astype(np.float32)
            what = "each site crop's glass (its light floor)"
        else:
            grid = (SITE_GLASS_GRID, SITE_GLASS_GRID)

            def smooth(image: np.ndarray) -> np.ndarray:
                coarse = cv2.resize(image, grid, interpolation=cv2.INTER_AREA)
                return cv2.resize(coarse, (self.size, self.size), interpolation=cv2.INTER_LINEAR)

            b = (smooth(mean_site) - k * smooth(mean_pairs)).astype(np.float32)
            what = "the site's mean glass"
        log.info(
            "pairs from the clean crops behind %s: contrast %s, added light %s (mean, linear light)",
            what,
            np.round(k, 3).tolist(),
            np.round(b.reshape(-1, 3).mean(0), 3).tolist(),
        )
        return k, b

    def _glass_light(self, rng: np.random.Generator, b: np.ndarray) -> np.ndarray:
        """The added light (S, S, 3) of one pair: the mean map, or one site crop's floor map drawn and
        interpolated; flipped as the site crops are."""
        if b.ndim == 4:
            coarse = b[int(rng.integers(len(b)))]
            b = cv2.resize(coarse, (self.size, self.size), interpolation=cv2.INTER_LINEAR)
        return b[:, ::-1] if self.flip and rng.random() < 0.5 else b

    def _calibrate_pairs(self) -> np.ndarray:
        """Per-channel factor in linear light that makes the pairs' inputs as bright, on average, as the
        site's own crops: the site's glass may take light away (a transmission loss) where the
        re-synthesis blends mostly add it, and pairs brighter than every site crop teach the model to
        darken. Clipped to [1/2, 2]; a pure function of the seed and the folders."""
        (mean_site, _, _), (mean_pairs, _, _) = self._site_and_pair_stats()
        site, pairs = mean_site.reshape(-1, 3).mean(0), mean_pairs.reshape(-1, 3).mean(0)
        gain = np.clip(site / np.maximum(pairs, 1e-4), 0.5, 2.0).astype(np.float32)
        log.info(
            "pairs from the clean crops: inputs scaled by %s (linear light) to the site's brightness",
            np.round(gain, 3).tolist(),
        )
        return gain

    def _clean_pair(self, rng: np.random.Generator, i: int) -> dict[str, Any]:
        """A supervised pair in the site's own world: a clean crop of its camera behind a new reflection
        (another site crop or a procedural scene, through one of the re-synthesis glass models); the
        target is the clean crop itself. Unlike the re-synthesis loss, whose target is the model's own
        output, this target shows what the site's scenes really look like (a bright backdrop stays
        bright)."""
        s = self.size
        x, target = self._pair_input(rng, i)
        if self.site_glass is not None:
            k, b = self.site_glass
            x = glass.to_display(np.clip(glass.to_linear(x) * k + self._glass_light(rng, b), 0.0, 1.0))
        elif self.pair_gain is not None:
            x = glass.to_display(glass.to_linear(x) * self.pair_gain)
        return {
            "A": to_tensor(float_to_uint8(x)),
            "A_target": to_tensor(target),
            "has_target": torch.tensor(True),
            "site": torch.tensor(False),
            "B": self._clean(rng, i),
            "layer": torch.zeros(3, s, s),
            "blend": torch.zeros(BLEND_PARAMS),
            "faces_box": torch.zeros(MAX_FACES, 4),
            "faces_n": torch.tensor(0),
            "faces_lm": torch.zeros(MAX_FACES, 5, 2),
            "clean_pair": torch.tensor(True),
        }
