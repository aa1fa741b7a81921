"""Scene sources behind the glass, the glass models of the literature, and the photo cache setting."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from reflect.data.synth.config import BLEND_MODELS, SCENE_SOURCES, synth_config_from_dict
from reflect.data.synth.faces import Face
from reflect.data.synth.generator import Synthesizer
from reflect.data.synth.reflections import PhotoBank
from reflect.errors import ConfigError
from tests.data_tools.conftest import fake_face, small_cfg


def _bank(tmp_path, level: int, n: int = 3) -> PhotoBank:  # type: ignore[no-untyped-def]
    folder = tmp_path / f"photos{level}"
    folder.mkdir()
    rng = np.random.default_rng(level)
    for k in range(n):
        img = np.clip(rng.normal(level, 12, (80, 96, 3)), 0, 255).astype(np.uint8)
        cv2.imwrite(str(folder / f"p{k}.png"), img)
    return PhotoBank(folder)


def _bright_portrait(identity: str) -> Face:
    """A face photo on a bright plain backdrop, as the official portraits are."""
    face = fake_face(identity)
    face.crop[:] = 235
    cv2.ellipse(face.crop, (60, 60), (22, 30), 0, 0, 360, (180, 140, 120), -1)
    return face


@pytest.mark.parametrize("scene", SCENE_SOURCES)
@pytest.mark.parametrize("blend", BLEND_MODELS)
def test_every_scene_and_glass_model_renders_a_face_inside_the_frame(
    tmp_path, scene: str, blend: str
) -> None:  # type: ignore[no-untyped-def]
    bank = _bank(tmp_path, 120)
    people = [fake_face(n, k) for k, n in enumerate(["ann", "bob", "cid"])]
    cfg = small_cfg(reflection={"sources": {"photo": 1.0, "person": 1.0, "sky": 1.0}})
    s = Synthesizer(cfg, photos=bank, backdrops=bank, people=people).render(
        5, people[0], people[1], scene=scene, blend=blend
    )
    assert s.input.shape == s.target.shape == (64, 64, 3) and s.input.dtype == np.uint8
    assert s.params["scene"] == scene and s.params["blend"] == blend
    x1, y1, x2, y2 = s.faces[0]["box"]
    assert s.faces[0]["role"] == "driver" and 0 <= x1 < x2 <= 64 and 0 <= y1 < y2 <= 64
    assert s.reflection_free == (blend == "none")


def test_reflection_free_samples_are_the_target_byte_for_byte_even_behind_tinted_glass() -> None:
    cfg = small_cfg(
        blend={"models": {"none": 1.0}},
        glass={"probability": 1.0, "tint": [0.3, 0.35]},
        camera={"noise_probability": 1.0, "jpeg_probability": 1.0},
    )
    for index in range(6):
        s = Synthesizer(cfg).render(index, fake_face("ann"), fake_face("bob", 1))
        assert np.array_equal(s.input, s.target) and s.reflection_free
        assert s.params["noise"] is None and s.params["jpeg"] is None and s.domain == "clean"


def test_a_portrait_keeps_its_own_bright_backdrop_and_a_dark_photo_backdrop_stays_dark(tmp_path) -> None:  # type: ignore[no-untyped-def]
    cfg = small_cfg(blend={"models": {"none": 1.0}}, glass={"enabled": False})
    face = _bright_portrait("ann")
    portrait = Synthesizer(cfg).render(1, face, scene="portrait").target
    dark = (
        Synthesizer(
            small_cfg(
                blend={"models": {"none": 1.0}},
                glass={"enabled": False},
                scene={"backdrop_level": [1.0, 1.0], "backdrop_blur": [0.0, 0.0]},
            ),
            backdrops=_bank(tmp_path, 20),
        )
        .render(1, face, scene="backdrop")
        .target
    )
    corners = (slice(0, 8), slice(0, 8))
    assert portrait[corners].mean() > 200  # the photo's own bright backdrop fills the frame
    assert dark[corners].mean() < 60  # the sitter before a dark photograph


def test_the_screen_blend_only_brightens_and_the_gains_blend_darkens_the_transmitted_scene(tmp_path) -> None:  # type: ignore[no-untyped-def]
    bank = _bank(tmp_path, 0)  # a black reflection: only the transmission term remains
    cfg = small_cfg(
        glass={"enabled": False},
        glare={"enabled": False},
        reflection={"sources": {"photo": 1.0}},
        camera={"noise": False, "jpeg": False, "motion_blur": False, "low_res": False},
        blend={"transmission_loss": [0.3, 0.3]},
    )
    face = fake_face("ann")
    screen = Synthesizer(cfg, photos=_bank(tmp_path, 200)).render(2, face, blend="screen")
    assert (
        screen.input.astype(int) >= screen.target.astype(int) - 1
    ).all() and screen.input.mean() > screen.target.mean() + 5
    gains = Synthesizer(cfg, photos=bank).render(2, face, blend="gains")
    ratio = gains.input.astype(float).mean() / gains.target.astype(float).mean()
    assert 0.6 < ratio < 0.95  # the light the glass reflects away is lost to the transmission


def test_the_veil_lifts_dark_regions_dims_bright_ones_and_grows_toward_the_sun(tmp_path) -> None:  # type: ignore[no-untyped-def]
    cfg = small_cfg(
        glass={"enabled": False},
        glare={"enabled": False},
        reflection={"sources": {"photo": 1.0}},
        camera={"noise": False, "jpeg": False, "motion_blur": False, "low_res": False},
        blend={"veil": [0.3, 0.3], "airlight": [0.25, 0.25]},
        scene={"backdrop_level": [1.0, 1.0], "backdrop_blur": [0.0, 0.0]},
    )
    dark = Synthesizer(cfg, photos=_bank(tmp_path, 0), backdrops=_bank(tmp_path, 15)).render(
        3, _bright_portrait("ann"), scene="backdrop", blend="veil"
    )
    x, t = dark.input.astype(float), dark.target.astype(float)
    lifted = x - t  # a black reflection: what remains is the veil
    assert t[:8].mean() < 40 and lifted[:8].mean() > 40  # a dark backdrop turns hazy
    bright = t.mean(-1) > 170  # brighter than the airlight: the veil is an affine pull toward it
    assert bright.sum() > 50 and x[bright].mean() < t[bright].mean() - 5  # they lose light
    halves = [lifted[:, :32].mean(), lifted[:, 32:].mean(), lifted[:32].mean(), lifted[32:].mean()]
    assert max(abs(halves[0] - halves[1]), abs(halves[2] - halves[3])) > 4  # brighter toward the sun
    assert dark.params["reflection"]["veil"] == 0.3 and len(dark.params["reflection"]["airlight"]) == 3


def test_a_reflected_passer_by_is_never_one_of_the_occupants(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from reflect.data.synth.reflections import person

    people = [fake_face("ann"), fake_face("bob", 1)]
    for seed in range(8):
        _, info = person(np.random.default_rng(seed), 64, people, None, avoid={"ann"})
        assert info["person"] == "bob.png"
    _, info = person(np.random.default_rng(0), 64, people[:1], None, avoid={"ann"})
    assert info["person"] is None


@pytest.mark.parametrize(
    ("key", "value", "words"),
    [
        ("scene", {"sources": {"garage": 1.0}}, "scene.sources.garage"),
        ("blend", {"models": {"windshield": -1.0}}, "blend.models.windshield"),
        ("blend", {"models": {"linear": 0.0}}, "blend.models"),
        ("scene", {"exposure": [2.0, 1.0]}, "scene.exposure"),
    ],
)
def test_bad_scene_and_blend_settings_name_the_key(key: str, value: dict, words: str) -> None:  # type: ignore[type-arg]
    with pytest.raises(ConfigError, match=words.replace(".", r"\.")):
        synth_config_from_dict({key: value})


def test_the_photo_cache_setting_says_how_to_fill_it(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    with pytest.raises(ConfigError, match="reflect photos fetch"):
        PhotoBank("cache:train")
    with pytest.raises(ConfigError, match="cache:train or cache:test"):
        PhotoBank("cache:val")
    folder = tmp_path / "reflect" / "photos" / "train"
    folder.mkdir(parents=True)
    cv2.imwrite(str(folder / "a.jpg"), np.full((40, 40, 3), 90, np.uint8))
    assert PhotoBank("cache:train").names == ["a.jpg"]
    cfg = synth_config_from_dict(
        {"size": 64, "scene": {"sources": {"backdrop": 1.0}, "folder": "cache:train"}}
    )
    assert Synthesizer(cfg).render(0, fake_face("ann")).params["scene"] == "backdrop"
