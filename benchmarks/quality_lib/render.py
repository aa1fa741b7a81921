"""The quality benchmark's fixed test set: held-out faces through held-out reflections.

Three families of types:

* the project's synthesiser (:mod:`reflect.data.synth`), one forced reflection type at a time
  (``sky``, ``foliage``, ``glare``, ``false_colour``, ``nir``, ``clean`` through the generator's
  ``domain=``; ``buildings``, ``streetlights`` and ``photo`` through a config whose only source is that
  one, with glare and false colour off), photos restricted to :data:`TEST_PHOTOS`;
* ``other recipe``: a plain display-space blend ``input = a*tint*T + s*g(y)*blur(R)`` (vertical
  gradient ``g``, no linear light, no Fresnel side term, ghosting, overflow compensation, noise or
  JPEG), with ``T`` the synthesiser's clean cabin and ``R`` a held-out photo: a model that only
  learnt the synthesiser's own statistics does worse here;
* cross-recipe types (issue 23): ``scene:*`` force what stands behind the glass (the procedural cabin,
  the portrait as taken, the sitter before a dark or a bright defocused photograph, the cabin with a
  bright rear window) through a per-sample mix of the glass models a remover trains with
  (:data:`SCENE_BLENDS`), so that a scene row varies the scene only; ``recipe:*`` force the glass
  model (the windshield physics, Zhang's linear blend, DSRNet's screen blend, RDNet's per-channel
  gains) over a mix of scenes (:data:`RECIPE_SCENES`); ``noharm:*`` are reflection-free (glass model
  ``none``: input == target byte for byte), without glass tint (``clean``), behind tinted glass
  (``tinted``: the tint belongs to the scene, so the output must equal the input) and the sitter before
  an in-focus, lit photograph (``sharp``, :data:`SHARP_BACKDROP`). Reflections and
  photo backdrops come from the photo cache's held-out split (``reflect photos fetch``), else from
  :data:`TEST_PHOTOS` (:func:`cross_photos`); reflected passers-by are other held-out people.

Every sample is a pure function of (seed, type, position): the same bytes on every run.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from typing import Any

import cv2
import numpy as np

from reflect.data.synth.config import SynthConfig, synth_config_from_dict
from reflect.data.synth.faces import Face
from reflect.data.synth.generator import Synthesizer
from reflect.data.synth.reflections import PhotoBank, photo_cache
from reflect.data.synth.split import TEST_PHOTOS, identity_split
from reflect.utils.images import float_to_uint8

#: every type the benchmark knows, in a fixed order (a type's samples never depend on which others run)
ALL_TYPES = ("sky", "foliage", "buildings", "streetlights", "photo", "glare", "false_colour", "nir", "clean")
DEFAULT_TYPES = ALL_TYPES[:-1]
OTHER = "other recipe"
_SOURCE_ONLY = ("buildings", "streetlights", "photo")
SCENE_TYPES = (
    "scene:cabin",
    "scene:portrait",
    "scene:backdrop_dark",
    "scene:backdrop_bright",
    "scene:rear_window",
)
RECIPE_TYPES = ("recipe:windshield", "recipe:linear", "recipe:screen", "recipe:gains", "recipe:veil")
NOHARM_TYPES = ("noharm:clean", "noharm:tinted", "noharm:sharp")
CROSS_TYPES = SCENE_TYPES + RECIPE_TYPES
#: the order that seeds each cross and do-no-harm type's samples: types added later come last, so that
#: no earlier type's samples change
_SEED_ORDER = SCENE_TYPES + RECIPE_TYPES[:4] + NOHARM_TYPES[:2] + RECIPE_TYPES[4:] + NOHARM_TYPES[2:]
#: every type of every family, valid for ``--types``
TYPES = ALL_TYPES + CROSS_TYPES + NOHARM_TYPES
SUITES = {
    "held-out": DEFAULT_TYPES,
    "cross": CROSS_TYPES,
    "noharm": NOHARM_TYPES,
    "all": DEFAULT_TYPES + CROSS_TYPES + NOHARM_TYPES,
}
#: the glass models a scene type draws from per sample: those the bundled remover trained with, so that
#: ``scene:rear_window`` is left out of training by its scene alone
SCENE_BLENDS = {"windshield": 1.0, "linear": 1.0, "gains": 1.0}
#: the scenes a recipe type draws from per sample: those the bundled remover trained with, so that
#: ``recipe:screen`` is left out of training by its glass alone
RECIPE_SCENES = {"cabin": 1.0, "portrait": 1.0, "backdrop": 1.0}
NOHARM_SCENES = {"cabin": 1.0, "portrait": 1.0, "backdrop": 1.0, "rear_window": 1.0}
#: ``noharm:sharp``: the sitter before an in-focus, lit photograph (a curtain, a street, a room), as ordinary
#: photos of people are taken: the scene a remover trained on defocused backdrops most mistakes for a reflection
SHARP_BACKDROP = {"backdrop_blur": [0.0, 0.5], "backdrop_level": [0.6, 1.3]}
BACKDROP_LEVELS = {"backdrop_dark": [0.1, 0.35], "backdrop_bright": [0.9, 1.3]}
#: reflections of the cross types: photos (and passers-by) weighted up, as a street scene has them
CROSS_SOURCES = {
    "photo": 2.0,
    "person": 0.5,
    "sky": 1.0,
    "foliage": 1.0,
    "buildings": 1.0,
    "streetlights": 0.5,
}


@dataclass
class Pair:
    kind: str  # reflection type, or OTHER
    index: int  # position within its type
    person: str  # the face photo's file name (one person each)
    input: np.ndarray  # (H, W, 3) uint8 through the glass
    target: np.ndarray  # (H, W, 3) uint8 clean
    box: tuple[float, float, float, float]  # the driver's face box in pixels
    scene: str = "cabin"  # what stood behind the glass
    blend: str = "windshield"  # the glass model


def test_faces(bank: list[Face], seed: int) -> list[Face]:
    """The face bank's held-out faces (``identity_split(identity) == 'test'``), in a seeded fixed order.

    The split follows the bank's identities, as training's does; a person is one photo (file name =
    person, see the portraits' PROVENANCE.md), so callers label faces by ``source``: the bank's
    near-duplicate merge can put several people of look-alike portraits under one identity."""
    faces = sorted((f for f in bank if identity_split(f.identity) == "test"), key=lambda f: f.source)
    order = np.random.default_rng([seed, 7]).permutation(len(faces))
    return [faces[i] for i in order]


@cache
def held_out_photos() -> PhotoBank:
    """The reflection photos training never sees, loaded once for every type."""
    return PhotoBank(photos=TEST_PHOTOS)


def type_config(kind: str, size: int, seed: int) -> tuple[SynthConfig, str | None]:
    """The synthesis config and forced ``domain`` that render reflections of type ``kind`` only."""
    cfg = synth_config_from_dict({"size": size, "seed": seed, "reflection": {"photos": list(TEST_PHOTOS)}})
    if kind in _SOURCE_ONLY:
        cfg.reflection.sources = {kind: 1.0}
        cfg.glare.enabled = False
        cfg.false_colour.enabled = False
        return cfg, None
    return cfg, kind


def _driver_box(faces: list[dict[str, Any]]) -> tuple[float, float, float, float]:
    x1, y1, x2, y2 = (float(v) for v in next(f["box"] for f in faces if f["role"] == "driver"))
    return x1, y1, x2, y2


#: parts of the glass recipe a decomposition keeps: everything, the reflections without the camera's
#: sensor noise and JPEG, or that noise and JPEG without any reflection (ghost, glare, false colour, NIR veil)
PARTS = ("full", "reflection", "camera")


def recipe_part(cfg: SynthConfig, part: str) -> SynthConfig:
    """``cfg`` with only ``part`` of the input-only degradations left (see :data:`PARTS`); the same
    seeds give the same cabin, face, photo and camera draws, so the parts decompose one sample."""
    if part not in PARTS:
        raise ValueError(f"unknown recipe part {part!r}; valid: {', '.join(PARTS)}")
    if part == "full":
        return cfg
    c = dataclasses.replace(cfg)
    if part == "reflection":
        c.camera = dataclasses.replace(cfg.camera, noise=False, jpeg=False)
    else:
        off = cfg.input_only_terms_off()
        c.reflection, c.ghost, c.glare, c.false_colour = (
            off.reflection,
            off.ghost,
            off.glare,
            off.false_colour,
        )
        c.camera = dataclasses.replace(cfg.camera, nir_veil=[0.0, 0.0])
    return c


def synth_pairs(
    kind: str, faces: list[Face], count: int, size: int, seed: int, part: str = "full"
) -> Iterator[Pair]:
    """``count`` pairs of reflection type ``kind``; pair i shows face ``i % len(faces)`` as the driver.
    ``part`` keeps only part of the recipe (:func:`recipe_part`)."""
    cfg, domain = type_config(kind, size, seed)
    cfg = recipe_part(cfg, part)
    synth = Synthesizer(cfg, held_out_photos())
    base = 100_000 * (ALL_TYPES.index(kind) + 1)
    for i in range(count):
        face = faces[i % len(faces)]
        s = synth.render(base + i, face, None, domain=domain)
        yield Pair(kind, i, face.source, s.input, s.target, _driver_box(s.faces))


def through_glass(
    clean: np.ndarray, layer: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """(input, target) uint8 from a clean display image and a reflection layer (display, [0, 1])."""
    h, w = clean.shape[:2]
    tint = np.array([0.80, 0.88, 0.86], np.float32) * np.float32(rng.uniform(0.7, 0.9))
    t = clean.astype(np.float32) / 255.0 * tint
    r = cv2.GaussianBlur(layer, (0, 0), rng.uniform(0.5, 2.5) * h / 256.0)
    gradient = np.linspace(1.0, rng.uniform(0.3, 0.6), h, dtype=np.float32)[:, None, None]
    out = t + np.float32(rng.uniform(0.4, 0.85)) * gradient * r
    return float_to_uint8(out), float_to_uint8(t)


def other_pairs(faces: list[Face], count: int, size: int, seed: int) -> Iterator[Pair]:
    """``count`` pairs of the other recipe (see the module docstring), faces as in :func:`synth_pairs`."""
    cfg = synth_config_from_dict({"size": size, "seed": seed}).input_only_terms_off()
    cfg.glass.enabled = False  # the recipe tints the glass itself
    synth, photos = Synthesizer(cfg), held_out_photos()
    base = 100_000 * (len(ALL_TYPES) + 1)
    for i in range(count):
        face = faces[i % len(faces)]
        s = synth.render(base + i, face, None)
        rng = np.random.default_rng([seed, base + i, 99])
        layer, _ = photos.sample(rng, size)
        inp, target = through_glass(s.target, layer, rng)
        yield Pair(OTHER, i, face.source, inp, target, _driver_box(s.faces), "cabin", "other")


@cache
def cross_photos() -> tuple[PhotoBank, str]:
    """The held-out photographs the cross types reflect and put behind the sitter, and what they are:
    the photo cache's ``test`` split when ``reflect photos fetch`` has filled it, else :data:`TEST_PHOTOS`."""
    root = photo_cache() / "test"
    if root.is_dir() and any(root.iterdir()):
        bank = PhotoBank(root)
        return bank, f"the photo cache's test split ({len(bank.names)} photos in {root})"
    bank = PhotoBank(photos=TEST_PHOTOS)
    return (
        bank,
        f"scikit-image's TEST_PHOTOS ({len(bank.names)} photos): the photo cache {root} is empty, run `reflect photos fetch`",
    )


def cross_config(kind: str, size: int, seed: int) -> tuple[SynthConfig, str | None, str | None]:
    """The config and the forced (scene, glass model) of a ``scene:``, ``recipe:`` or ``noharm:`` type."""
    family, _, name = kind.partition(":")
    cfg = synth_config_from_dict({"size": size, "seed": seed, "reflection": {"sources": dict(CROSS_SOURCES)}})
    if family == "scene" and kind in SCENE_TYPES:
        cfg.blend.models = dict(SCENE_BLENDS)
        if name in BACKDROP_LEVELS:
            cfg.scene.backdrop_level = list(BACKDROP_LEVELS[name])
            return cfg, "backdrop", None
        return cfg, name, None
    if family == "recipe" and kind in RECIPE_TYPES:
        cfg.scene.sources = dict(RECIPE_SCENES)
        return cfg, None, name
    if family == "noharm" and kind in NOHARM_TYPES:
        cfg.scene.sources = dict(NOHARM_SCENES)
        cfg.glass.enabled = name == "tinted"
        if name == "sharp":
            cfg.scene.backdrop_blur = list(SHARP_BACKDROP["backdrop_blur"])
            cfg.scene.backdrop_level = list(SHARP_BACKDROP["backdrop_level"])
            return cfg, "backdrop", "none"
        return cfg, None, "none"
    raise ValueError(f"unknown benchmark type {kind!r}; valid: {', '.join(TYPES)}")


def cross_pairs(kind: str, faces: list[Face], count: int, size: int, seed: int) -> Iterator[Pair]:
    """``count`` pairs of a cross-recipe or do-no-harm type; faces as in :func:`synth_pairs`, and the
    other held-out people as reflected passers-by."""
    cfg, scene, blend = cross_config(kind, size, seed)
    photos, _ = cross_photos()
    synth = Synthesizer(cfg, photos, photos, people=faces)
    base = 100_000 * (len(ALL_TYPES) + 2 + _SEED_ORDER.index(kind))
    for i in range(count):
        face = faces[i % len(faces)]
        s = synth.render(base + i, face, None, scene=scene, blend=blend)
        yield Pair(
            kind,
            i,
            face.source,
            s.input,
            s.target,
            _driver_box(s.faces),
            s.params["scene"],
            s.params["blend"],
        )


def pairs(kind: str, faces: list[Face], count: int, size: int, seed: int) -> Iterator[Pair]:
    """The pairs of any type of :data:`TYPES`, or of :data:`OTHER`."""
    if kind == OTHER:
        return other_pairs(faces, count, size, seed)
    if kind in ALL_TYPES:
        return synth_pairs(kind, faces, count, size, seed)
    return cross_pairs(kind, faces, count, size, seed)
