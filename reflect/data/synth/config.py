"""The synthesis configuration: every term of the windshield model, switchable, with its range.

A term is applied to a sample with its ``probability`` (when ``enabled``); its parameters are drawn
uniformly from the ``[low, high]`` ranges below and recorded in the sample's manifest line.
Validated like :mod:`reflect.config` (by :mod:`reflect.schema`): unknown keys and wrong types are a ConfigError naming the key,
and every range is checked (two numbers, low <= high, inside the term's physical limits).

Terms fall in two groups (see :mod:`reflect.data.synth.generator`):
- *input-only* (what the network must remove): reflection (with blur, Fresnel map and overflow
  compensation), ghosting, glare, false colour, the NIR glass veil, sensor noise, JPEG;
- *shared* (the scene as the camera sees it, in both input and target): cabin, face, glass tint and
  transmission, NIR mode, motion blur, low resolution.
With every input-only term off, input == target byte for byte.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from reflect.errors import ConfigError
from reflect.schema import apply_overrides, from_dict, load_yaml, to_dict

REFLECTION_SOURCES = ("photo", "sky", "foliage", "buildings", "streetlights", "person")
#: what stands behind the glass (layer T), see :mod:`reflect.data.synth.scenes`
SCENE_SOURCES = ("cabin", "portrait", "backdrop", "rear_window")
#: how the glass mixes T and R, see :mod:`reflect.data.synth.blends`
BLEND_MODELS = ("windshield", "linear", "screen", "gains", "veil", "none")
DOMAINS = ("clean", "sky", "foliage", "glare", "false_colour", "nir")


@dataclass
class CabinConfig:
    """Layer T: the cabin backdrop and the occupants (face scale/position as fractions of the side)."""

    face_width: list[float] = field(default_factory=lambda: [0.2, 0.32])  # face box width / image width
    face_x: list[float] = field(default_factory=lambda: [0.35, 0.65])  # face centre
    face_y: list[float] = field(default_factory=lambda: [0.38, 0.52])
    second_occupant: float = 0.3  # probability of a passenger (a different identity)
    brightness: list[float] = field(default_factory=lambda: [0.04, 0.18])  # cabin interior level
    face_light: list[float] = field(default_factory=lambda: [0.55, 1.0])  # exposure of the face
    visor: bool = True
    headrest: bool = True
    wheel: bool = True


@dataclass
class SceneConfig:
    """Layer T's source, drawn per sample by weight: ``cabin`` (the procedural cabin above),
    ``portrait`` (the face photo as it was taken, its own backdrop filling the frame), ``backdrop``
    (the sitter cut out and placed before a defocused real photograph, dark or bright), ``rear_window``
    (the cabin with a bright rear window behind the head). Then an exposure from night-dark to
    over-exposed, shared by input and target."""

    sources: dict[str, float] = field(default_factory=lambda: {"cabin": 1.0})
    folder: str = ""  # backdrop photos: a folder, "cache:train" / "cache:test" (reflect photos fetch), or "" (scikit-image's)
    photos: list[str] = field(default_factory=list)  # scikit-image file names when ``folder`` is empty
    portrait_face_width: list[float] = field(default_factory=lambda: [0.22, 0.42])
    backdrop_blur: list[float] = field(default_factory=lambda: [1.0, 6.0])  # defocus sigma, pixels at 256 px
    backdrop_level: list[float] = field(
        default_factory=lambda: [0.15, 1.3]
    )  # backdrop exposure (dark .. bright)
    window_level: list[float] = field(default_factory=lambda: [0.6, 1.0])  # the bright rear window
    exposure_probability: float = 0.0
    exposure: list[float] = field(default_factory=lambda: [0.3, 1.6])  # linear-light gain, log-uniform


@dataclass
class BlendConfig:
    """The glass model, drawn per sample by weight (see :mod:`reflect.data.synth.blends`):
    ``windshield`` (this project's physics: Fresnel map, ghosting, overflow compensation),
    ``linear`` (Zhang et al. 2018 / ERRNet 2019: ``T + a*blur(R)`` in linear light, over-exposure
    compensated), ``screen`` (DSRNet 2023: ``1 - (1 - T)(1 - a*blur(R))`` in display values),
    ``gains`` (RDNet 2025: ``g_t * T + g_r * blur(R)``, per-channel gains; the target is ``T``),
    ``veil`` (dusty glass in sunlight: ``(1 - v) T + v A s(x, y) + a*blur(R)``, a smooth airlight), and
    ``none`` (no reflection: input == target)."""

    models: dict[str, float] = field(default_factory=lambda: {"windshield": 1.0})
    strength: list[float] = field(default_factory=lambda: [0.15, 0.6])  # a, the reflection's weight
    blur_sigma: list[float] = field(default_factory=lambda: [1.0, 5.0])  # pixels at 256 px (Zhang: 1..5)
    transmission_loss: list[float] = field(default_factory=lambda: [0.05, 0.35])  # gains: 1 - g_t
    veil: list[float] = field(default_factory=lambda: [0.1, 0.3])  # veil: the dust's density v
    airlight: list[float] = field(default_factory=lambda: [0.6, 1.0])  # veil: the sunlit dust's level


@dataclass
class ReflectionConfig:
    """Layer R and its blend: ``input = t*T + r(x,y) * blur(R)`` in linear light (gamma 2.2)."""

    enabled: bool = True
    probability: float = 1.0
    folder: str = ""  # photos to reflect; empty: scikit-image's bundled photographs named in ``photos``
    # which of scikit-image's photographs (file names) when ``folder`` is empty; empty: the default set
    photos: list[str] = field(default_factory=list)
    sources: dict[str, float] = field(
        default_factory=lambda: {
            "photo": 1.0,
            "sky": 1.0,
            "foliage": 1.0,
            "buildings": 1.0,
            "streetlights": 0.5,
        }
    )
    strength: list[float] = field(default_factory=lambda: [0.1, 0.5])  # r at the top of the glass
    blur: bool = True
    blur_sigma: list[float] = field(default_factory=lambda: [0.0, 6.0])  # pixels at 256 px
    fresnel: bool = True
    fresnel_bottom: list[float] = field(default_factory=lambda: [0.3, 0.8])  # r at the bottom / r at the top
    fresnel_side: list[float] = field(default_factory=lambda: [0.0, 0.4])  # extra r toward one side (grazing)
    overflow: bool = True  # subtract the mean excess over 1 from R (Zhang et al. 2018)


@dataclass
class GhostConfig:
    """Double image from the two glass surfaces: ``R + c * shift(R, dx, dy)``."""

    enabled: bool = True
    probability: float = 0.5
    offset: list[float] = field(default_factory=lambda: [1.0, 6.0])  # pixels at 256 px
    attenuation: list[float] = field(default_factory=lambda: [0.2, 0.6])  # c


@dataclass
class GlassConfig:
    """Laminated windshield: green-blue tint, transmission t < 1, lowered contrast (haze)."""

    enabled: bool = True
    probability: float = 1.0
    transmission: list[float] = field(default_factory=lambda: [0.7, 0.95])
    tint: list[float] = field(default_factory=lambda: [0.0, 0.25])  # red/blue absorption vs green
    contrast: list[float] = field(default_factory=lambda: [0.8, 1.0])  # haze: 1 = none


@dataclass
class GlareConfig:
    """Specular highlights: sun, headlights, the camera's own flash (additive, soft-edged)."""

    enabled: bool = True
    probability: float = 0.3
    count: list[float] = field(default_factory=lambda: [1.0, 3.0])
    radius: list[float] = field(default_factory=lambda: [0.02, 0.12])  # fraction of the side
    intensity: list[float] = field(default_factory=lambda: [0.6, 2.0])  # linear light, may saturate


@dataclass
class FalseColourConfig:
    """Colour-shifted, over-saturated reflections (coated glass, sensor processing)."""

    enabled: bool = True
    probability: float = 0.2
    hue_shift: list[float] = field(default_factory=lambda: [40.0, 320.0])  # degrees
    saturation: list[float] = field(default_factory=lambda: [1.3, 2.2])  # gain


@dataclass
class CameraConfig:
    """The camera: colour or near-infrared, sensor noise, motion blur, JPEG, low resolution."""

    mode: str = "color"  # color | nir
    nir_flash: list[float] = field(default_factory=lambda: [0.1, 0.5])  # extra light on the face (shared)
    nir_veil: list[float] = field(default_factory=lambda: [0.05, 0.3])  # bright glass (input only)
    noise: bool = True
    noise_probability: float = 0.7
    noise_sigma: list[float] = field(default_factory=lambda: [0.003, 0.03])
    motion_blur: bool = True
    motion_probability: float = 0.25
    motion_length: list[float] = field(default_factory=lambda: [2.0, 7.0])  # pixels at 256 px
    jpeg: bool = True
    jpeg_probability: float = 0.5
    jpeg_quality: list[float] = field(default_factory=lambda: [40.0, 92.0])
    low_res: bool = True
    low_res_probability: float = 0.25
    low_res_scale: list[float] = field(default_factory=lambda: [0.5, 0.9])


@dataclass
class SynthConfig:
    """``reflect synth`` settings: a YAML file (configs/synth.yaml) plus ``key=value`` overrides."""

    size: int = 256
    seed: int = 0
    layout: str = "paired"  # paired | unpaired | multidomain
    test_fraction: float = 0.2  # of the identities
    domains: list[str] = field(default_factory=lambda: list(DOMAINS))  # multidomain layout
    image_format: str = "png"  # png | jpg
    scene: SceneConfig = field(default_factory=SceneConfig)
    blend: BlendConfig = field(default_factory=BlendConfig)
    cabin: CabinConfig = field(default_factory=CabinConfig)
    reflection: ReflectionConfig = field(default_factory=ReflectionConfig)
    ghost: GhostConfig = field(default_factory=GhostConfig)
    glass: GlassConfig = field(default_factory=GlassConfig)
    glare: GlareConfig = field(default_factory=GlareConfig)
    false_colour: FalseColourConfig = field(default_factory=FalseColourConfig)
    camera: CameraConfig = field(default_factory=CameraConfig)

    def input_only_terms_off(self) -> SynthConfig:
        """A copy with every input-only term switched off: input == target for every sample."""
        c = dataclasses.replace(self)
        c.reflection = dataclasses.replace(self.reflection, enabled=False)
        c.ghost = dataclasses.replace(self.ghost, enabled=False)
        c.glare = dataclasses.replace(self.glare, enabled=False)
        c.false_colour = dataclasses.replace(self.false_colour, enabled=False)
        c.camera = dataclasses.replace(self.camera, noise=False, jpeg=False, nir_veil=[0.0, 0.0])
        return c


# Physical limits of each range (inclusive). Keys are "section.field".
_LIMITS: dict[str, tuple[float, float]] = {
    "cabin.face_width": (0.05, 0.8),
    "cabin.face_x": (0.0, 1.0),
    "cabin.face_y": (0.0, 1.0),
    "scene.portrait_face_width": (0.05, 0.8),
    "scene.backdrop_blur": (0.0, 50.0),
    "scene.backdrop_level": (0.0, 3.0),
    "scene.window_level": (0.0, 1.5),
    "scene.exposure": (0.05, 4.0),
    "blend.strength": (0.0, 1.0),
    "blend.blur_sigma": (0.0, 50.0),
    "blend.transmission_loss": (0.0, 0.9),
    "blend.veil": (0.0, 0.9),
    "blend.airlight": (0.0, 1.0),
    "cabin.brightness": (0.0, 1.0),
    "cabin.face_light": (0.05, 2.0),
    "reflection.strength": (0.0, 1.0),
    "reflection.blur_sigma": (0.0, 50.0),
    "reflection.fresnel_bottom": (0.0, 1.0),
    "reflection.fresnel_side": (0.0, 1.0),
    "ghost.offset": (0.0, 32.0),
    "ghost.attenuation": (0.0, 1.0),
    "glass.transmission": (0.05, 1.0),
    "glass.tint": (0.0, 1.0),
    "glass.contrast": (0.1, 1.0),
    "glare.count": (1.0, 10.0),
    "glare.radius": (0.001, 0.5),
    "glare.intensity": (0.0, 10.0),
    "false_colour.hue_shift": (0.0, 360.0),
    "false_colour.saturation": (1.0, 10.0),
    "camera.nir_flash": (0.0, 3.0),
    "camera.nir_veil": (0.0, 1.0),
    "camera.noise_sigma": (0.0, 0.5),
    "camera.motion_length": (1.0, 64.0),
    "camera.jpeg_quality": (5.0, 100.0),
    "camera.low_res_scale": (0.05, 1.0),
}


def _check(cfg: SynthConfig) -> None:
    if cfg.size < 32 or cfg.size > 4096:
        raise ConfigError(f"size: {cfg.size} is out of range (32..4096)")
    if cfg.layout not in ("paired", "unpaired", "multidomain"):
        raise ConfigError(f"layout: '{cfg.layout}' is not one of paired, unpaired, multidomain")
    if cfg.image_format not in ("png", "jpg"):
        raise ConfigError(f"image_format: '{cfg.image_format}' is not png or jpg")
    if cfg.camera.mode not in ("color", "nir"):
        raise ConfigError(f"camera.mode: '{cfg.camera.mode}' is not color or nir")
    if not 0.0 <= cfg.test_fraction < 1.0:
        raise ConfigError(f"test_fraction: {cfg.test_fraction} must be in [0, 1)")
    for d in cfg.domains:
        if d not in DOMAINS:
            raise ConfigError(f"domains: '{d}' is not one of {', '.join(DOMAINS)}")
    for key, weights, valid in (
        ("reflection.sources", cfg.reflection.sources, REFLECTION_SOURCES),
        ("scene.sources", cfg.scene.sources, SCENE_SOURCES),
        ("blend.models", cfg.blend.models, BLEND_MODELS),
    ):
        for name, w in weights.items():
            if name not in valid:
                raise ConfigError(f"{key}.{name}: unknown name; valid: {', '.join(valid)}")
            if not isinstance(w, int | float) or not 0 <= w < float("inf"):
                raise ConfigError(f"{key}.{name}: weight {w} must be a finite number >= 0")
        if not weights or sum(weights.values()) <= 0:
            raise ConfigError(f"{key}: give at least one positive weight")
    for section in dataclasses.fields(cfg):
        sub = getattr(cfg, section.name)
        if not dataclasses.is_dataclass(sub):
            continue
        for f in dataclasses.fields(sub):
            key, value = f"{section.name}.{f.name}", getattr(sub, f.name)
            if ("probability" in f.name or key == "cabin.second_occupant") and not 0.0 <= value <= 1.0:
                raise ConfigError(f"{key}: probability {value} must be in [0, 1]")
            if key in _LIMITS:
                lo, hi = _LIMITS[key]
                if len(value) != 2 or value[0] > value[1]:
                    raise ConfigError(f"{key}: a range must be [low, high] with low <= high, got {value}")
                if value[0] < lo or value[1] > hi:
                    raise ConfigError(f"{key}: range {value} leaves the allowed interval [{lo}, {hi}]")


def synth_config_from_dict(data: dict[str, Any]) -> SynthConfig:
    """Validate a raw mapping into a SynthConfig (unknown keys, bad types and bad ranges raise)."""
    cfg = from_dict(SynthConfig, data)
    _check(cfg)
    return cfg


def load_synth_config(path: str | Path | None = None, overrides: list[str] | None = None) -> SynthConfig:
    data = load_yaml(path) if path else {}
    return synth_config_from_dict(apply_overrides(data, list(overrides or [])))


def synth_config_to_dict(cfg: SynthConfig) -> dict[str, Any]:
    out: dict[str, Any] = to_dict(cfg)
    return out
