"""The synthesis model: determinism, input == target with the reflection terms off, and each term
changing the input only in the way it describes."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from reflect.data.synth import camera, glass
from reflect.data.synth.faces import Face
from reflect.data.synth.generator import Synthesizer
from tests.data_tools.conftest import small_cfg

FAST = settings(max_examples=12, deadline=None)


def _render(cfg, faces: list[Face], index: int = 3):  # type: ignore[no-untyped-def]
    return Synthesizer(cfg).render(index, faces[0], faces[1])


def test_same_seed_same_bytes_and_different_seeds_differ(fake_faces: list[Face]) -> None:
    cfg = small_cfg(reflection={"sources": {"sky": 1.0, "foliage": 1.0}})
    a, b = _render(cfg, fake_faces), _render(cfg, fake_faces)
    assert a.input.tobytes() == b.input.tobytes() and a.target.tobytes() == b.target.tobytes()
    assert a.params == b.params and a.faces == b.faces
    other = _render(small_cfg(seed=1, reflection={"sources": {"sky": 1.0, "foliage": 1.0}}), fake_faces)
    assert other.input.tobytes() != a.input.tobytes()
    assert _render(cfg, fake_faces, index=4).input.tobytes() != a.input.tobytes()


@FAST
@given(index=st.integers(0, 10_000), mode=st.sampled_from(["color", "nir"]))
def test_input_equals_target_with_every_input_only_term_off(index: int, mode: str) -> None:
    from tests.data_tools.conftest import fake_face

    cfg = small_cfg(
        camera={"mode": mode, "motion_probability": 0.5, "low_res_probability": 0.5}
    ).input_only_terms_off()
    s = Synthesizer(cfg).render(index, fake_face("ann", 0), fake_face("bob", 1))
    assert s.input.dtype == np.uint8 and s.input.shape == (64, 64, 3)
    assert np.array_equal(s.input, s.target)
    assert s.params["reflection"] is None and s.params["glare"] is None and s.domain in ("clean", "nir")


def _off_with(**on: dict) -> object:
    base = small_cfg(camera={"motion_blur": False, "low_res": False}).input_only_terms_off()
    for section, values in on.items():
        sub = getattr(base, section)
        for k, v in values.items():
            setattr(sub, k, v)
    return base


def test_reflection_alone_only_adds_light(fake_faces: list[Face]) -> None:
    cfg = _off_with(reflection={"enabled": True, "sources": {"sky": 1.0}})
    s = _render(cfg, fake_faces)
    diff = s.input.astype(int) - s.target.astype(int)
    assert diff.min() >= 0 and diff.mean() > 2  # additive: never darker, visibly brighter
    assert s.params["reflection"]["source"] == "sky" and s.domain == "sky"
    off = _render(_off_with(), fake_faces)
    assert np.array_equal(off.target, s.target)  # the target does not depend on the reflection term


def test_fresnel_makes_the_top_reflect_more(fake_faces: list[Face]) -> None:
    cfg = _off_with(
        reflection={"enabled": True, "sources": {"sky": 1.0}, "fresnel_bottom": [0.2, 0.2], "overflow": False}
    )
    s = _render(cfg, fake_faces)
    diff = s.input.astype(float) - s.target.astype(float)
    assert diff[:8].mean() > diff[-8:].mean()


def test_ghosting_adds_a_shifted_copy_and_nothing_else(fake_faces: list[Face]) -> None:
    refl = {"enabled": True, "sources": {"streetlights": 1.0}, "blur": False, "overflow": False}
    without = _render(_off_with(reflection=refl), fake_faces)
    with_ghost = _render(_off_with(reflection=refl, ghost={"enabled": True, "probability": 1.0}), fake_faces)
    assert np.array_equal(without.target, with_ghost.target)
    assert with_ghost.params["ghost"] is not None and without.params["ghost"] is None
    d = with_ghost.input.astype(int) - without.input.astype(int)
    assert d.min() >= -1 and d.max() > 0  # the second surface only adds light (rounding aside)


def test_glare_is_local_and_additive(fake_faces: list[Face]) -> None:
    s = _render(
        _off_with(glare={"enabled": True, "probability": 1.0, "count": [1, 1], "radius": [0.05, 0.05]}),
        fake_faces,
    )
    diff = s.input.astype(int) - s.target.astype(int)
    spot = s.params["glare"]["spots"][0]
    y, x = min(63, int(spot["y"])), min(63, int(spot["x"]))
    assert diff.min() >= 0 and diff[y, x].max() > 20
    assert s.domain == "glare"


def test_sensor_noise_and_jpeg_touch_only_the_input(fake_faces: list[Face]) -> None:
    s = _render(
        _off_with(camera={"noise": True, "noise_probability": 1.0, "noise_sigma": [0.02, 0.02]}), fake_faces
    )
    diff = s.input.astype(float) - s.target.astype(float)
    assert abs(diff.mean()) < 1.5 and diff.std() > 1.0  # zero-mean fluctuation
    j = _render(
        _off_with(camera={"jpeg": True, "jpeg_probability": 1.0, "jpeg_quality": [20, 20]}), fake_faces
    )
    assert j.params["jpeg"] == {"quality": 20} and not np.array_equal(j.input, j.target)
    assert np.abs(j.input.astype(float) - j.target.astype(float)).mean() < 12


def test_nir_mode_is_one_channel(fake_faces: list[Face]) -> None:
    s = _render(small_cfg(camera={"mode": "nir"}), fake_faces)
    for img in (s.input, s.target):
        assert np.array_equal(img[..., 0], img[..., 1]) and np.array_equal(img[..., 1], img[..., 2])
    assert s.domain == "nir" and s.params["nir"] is not None


# --- the glass and camera functions on their own -------------------------------------------------


@FAST
@given(dx=st.integers(-5, 5), dy=st.integers(1, 5), c=st.floats(0.1, 0.9))
def test_ghost_puts_an_attenuated_copy_at_the_offset(dx: int, dy: int, c: float) -> None:
    r = np.zeros((32, 32, 3), np.float32)
    r[16, 16] = 1.0
    g = glass.ghost(r, dx, dy, c)
    assert np.isclose(g[16, 16, 0], 1.0) and np.isclose(g[16 + dy, 16 + dx, 0], c, atol=1e-5)
    assert np.isclose(g.sum(), 3 * (1 + c), atol=1e-4)  # nothing else changes


@FAST
@given(sigma=st.floats(0.5, 4.0), seed=st.integers(0, 99))
def test_blur_keeps_the_mean_and_lowers_the_contrast(sigma: float, seed: int) -> None:
    r = np.random.default_rng(seed).random((48, 48, 3), dtype=np.float32)
    b = glass.blur(r, sigma)
    assert abs(float(b.mean()) - float(r.mean())) < 0.01 and b.std() < r.std()


@FAST
@given(top=st.floats(0.05, 1.0), bottom=st.floats(0.0, 1.0), side=st.floats(0.0, 0.5), left=st.booleans())
def test_fresnel_map_falls_from_top_to_bottom(top: float, bottom: float, side: float, left: bool) -> None:
    m = glass.fresnel_map(32, top, bottom, side, left)[..., 0]
    assert m.min() >= 0 and m.max() <= 1
    assert np.all(np.diff(m, axis=0) <= 1e-6)  # never stronger further down
    edge = m[:, 0] if left else m[:, -1]
    assert np.all(edge >= m[:, 16] - 1e-6)  # stronger toward the grazing side


@FAST
@given(seed=st.integers(0, 99), att=st.floats(1.0, 1.2))
def test_overflow_compensation_stays_in_range_and_only_removes(seed: int, att: float) -> None:
    rng = np.random.default_rng(seed)
    t, r = rng.random((16, 16, 3), dtype=np.float32), rng.random((16, 16, 3), dtype=np.float32)
    out = glass.compensate_overflow(t, r, att)
    assert out.min() >= 0 and out.max() <= 1 and np.all(out <= r + 1e-6)
    assert (t + out > 1).mean() <= (t + r > 1).mean()


def test_tint_is_green_blue_and_lowers_contrast() -> None:
    rng = np.random.default_rng(0)
    t = rng.random((16, 16, 3), dtype=np.float32)
    out = glass.tint(t, 0.8, 0.3, 0.7)
    means = out.mean(axis=(0, 1))
    assert means[1] > means[2] > means[0] * 0.99 and out.std() < t.std()


@FAST
@given(hue=st.floats(30, 330), sat=st.floats(1.2, 3.0))
def test_false_colour_shifts_the_hue_and_saturates(hue: float, sat: float) -> None:
    import cv2

    r = np.zeros((4, 4, 3), np.float32)
    r[:] = (0.6, 0.4, 0.3)
    out = glass.false_colour(r, hue, sat)
    h0, s0, _ = cv2.cvtColor(r, cv2.COLOR_RGB2HSV)[0, 0]
    h1, s1, _ = cv2.cvtColor(out, cv2.COLOR_RGB2HSV)[0, 0]
    shift = (h1 - h0) % 360
    assert min(abs(shift - hue), 360 - abs(shift - hue)) < 2 and s1 > s0


def test_low_res_and_motion_blur_keep_size_and_remove_detail() -> None:
    x = np.random.default_rng(0).random((40, 40, 3), dtype=np.float32)
    for y in (camera.low_res(x, 0.5), camera.motion_blur(x, 5.0, 30.0)):
        assert y.shape == x.shape and y.std() < x.std()
    k = camera.motion_kernel(7.0, 0.0)
    assert np.isclose(k.sum(), 1.0) and k.shape == (7, 7)
