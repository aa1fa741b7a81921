"""One synthetic windshield sample: (input with reflections, clean target, parameters, face boxes).

Order of the model (linear light unless noted):

1. scene T with the occupants (display values; the source drawn by ``scene.sources``: the procedural
   cabin, the portrait as taken, a photo backdrop, a bright rear window, see
   :mod:`reflect.data.synth.scenes`), to NIR if the camera is in NIR mode, IR flash on the faces;
   to linear light; exposure                                                          [shared]
2. glass: haze, transmission ``t`` and green-blue tint  -> the target            [shared]
3. the glass model drawn by ``blend.models``: ``windshield`` (reflection R: source layer, false
   colour, ghosting ``R + c*shift(R)``, Gaussian blur, Fresnel map ``r(x, y)``, overflow
   compensation; input = target + r*blur(R)), or a blend of the literature (``linear``, ``screen``,
   ``gains``: :mod:`reflect.data.synth.blends`), or ``none`` (input == target: every input-only
   term below is skipped)                                                      [input only]
4. glare spots (:mod:`reflect.data.synth.glare`); in NIR mode the bright-glass veil  [input only]
5. motion blur (linear light), low resolution (display)                          [shared]
6. sensor noise, 8-bit quantisation, JPEG re-compression                      [input only]

Every term draws from its own generator (:mod:`reflect.data.synth.draws`): switching one term on or
off leaves every other term's draw unchanged, and the same seed gives the same bytes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

import numpy as np

from reflect.data.synth import blends, camera, glass
from reflect.data.synth.cabin import plan_occupants, render_cabin
from reflect.data.synth.config import SynthConfig
from reflect.data.synth.draws import decide, pick, rounded, term_rng, uniform_in
from reflect.data.synth.faces import Face
from reflect.data.synth.glare import add_glare
from reflect.data.synth.reflections import PhotoBank, reflection_layer
from reflect.data.synth.scenes import render_scene

# What a forced domain (multi-domain layout) switches: None leaves the term to its probability.
_FORCE: dict[str, dict[str, Any]] = {
    "clean": {"reflection": False, "glare": False, "false_colour": False, "nir": False},
    "sky": {"reflection": True, "source": "sky", "glare": False, "false_colour": False, "nir": False},
    "foliage": {"reflection": True, "source": "foliage", "glare": False, "false_colour": False, "nir": False},
    "glare": {"glare": True, "false_colour": False, "nir": False},
    "false_colour": {"reflection": True, "false_colour": True, "glare": False, "nir": False},
    "nir": {"nir": True, "false_colour": False},
}


@dataclass
class Sample:
    input: np.ndarray  # (H, W, 3) uint8, with reflections
    target: np.ndarray  # (H, W, 3) uint8, the same scene without them
    params: dict[str, Any]  # every term: its drawn values, or None when not applied
    faces: list[dict[str, Any]]  # role, identity, source, box [x1, y1, x2, y2] in output pixels
    domain: str  # dominant reflection type (clean, sky, foliage, glare, false_colour, nir, photo, ...)

    @property
    def reflection_free(self) -> bool:
        """Nothing to remove: the input is the target, byte for byte."""
        return self.input is self.target or bool(np.array_equal(self.input, self.target))


class Synthesizer:
    """Renders samples for a :class:`SynthConfig`; photos to reflect are loaded on first use."""

    def __init__(
        self,
        cfg: SynthConfig,
        photos: PhotoBank | None = None,
        backdrops: PhotoBank | None = None,
        people: list[Face] | None = None,
    ) -> None:
        self.cfg = cfg
        self._photos = photos
        self._backdrops = backdrops
        self.people = people  # faces a ``person`` reflection may show (never an occupant)

    @property
    def photos(self) -> PhotoBank:
        if self._photos is None:
            self._photos = PhotoBank(self.cfg.reflection.folder, self.cfg.reflection.photos)
        return self._photos

    @property
    def backdrops(self) -> PhotoBank:
        if self._backdrops is None:
            self._backdrops = PhotoBank(self.cfg.scene.folder, self.cfg.scene.photos, key="scene.folder")
        return self._backdrops

    def render(
        self,
        index: int,
        driver: Face,
        passenger: Face | None = None,
        domain: str | None = None,
        scene: str | None = None,
        blend: str | None = None,
    ) -> Sample:
        """One sample; ``scene`` and ``blend`` force the scene source and the glass model (the
        benchmark's types), else they are drawn by the config's weights."""
        cfg, size, seed = self.cfg, self.cfg.size, self.cfg.seed
        px = size / 256.0  # pixel ranges in the config are given at 256 px
        force = _FORCE.get(domain or "", {})
        params: dict[str, Any] = {}

        # 1. cabin and occupants
        rc = term_rng(seed, index, "cabin")
        placements = plan_occupants(rc, cfg.cabin, size, driver, passenger)
        rsc = term_rng(seed, index, "scene")
        drawn = pick(rsc, cfg.scene.sources)
        scene = scene or drawn
        if scene == "cabin":
            t_disp, faces = render_cabin(rc, cfg.cabin, size, placements)
        else:
            t_disp, faces = render_scene(
                rsc,
                scene,
                cfg.scene,
                cfg.cabin,
                size,
                placements,
                None if scene == "portrait" else self.backdrops,
            )
        params["scene"] = scene
        rn = term_rng(seed, index, "nir")
        flash, veil = uniform_in(rn, cfg.camera.nir_flash), uniform_in(rn, cfg.camera.nir_veil)
        nir = force.get("nir", cfg.camera.mode == "nir")
        if nir:
            t_disp = camera.to_nir(t_disp)
        t_lin = glass.to_linear(t_disp)
        if nir:
            t_lin = t_lin * camera.flash_map(size, [cast(list[float], f["box"]) for f in faces], flash)
        params["nir"] = {"flash": rounded(flash), "veil": rounded(veil)} if nir else None
        rx = term_rng(seed, index, "exposure")
        on = decide(rx, True, cfg.scene.exposure_probability, None)
        gain = float(np.exp(rx.uniform(np.log(cfg.scene.exposure[0]), np.log(cfg.scene.exposure[1]))))
        if on:
            t_lin = t_lin * np.float32(gain)
        params["exposure"] = rounded(gain) if on else None

        # 2. glass tint and transmission (shared)
        rg = term_rng(seed, index, "glass")
        g = cfg.glass
        on = decide(rg, g.enabled, g.probability, None)
        trans, tint, contrast = (
            uniform_in(rg, g.transmission),
            uniform_in(rg, g.tint),
            uniform_in(rg, g.contrast),
        )
        if on:
            t_lin = glass.tint(t_lin, trans, tint, contrast, colour=not nir)
        params["glass"] = (
            {"transmission": rounded(trans), "tint": rounded(tint), "contrast": rounded(contrast)}
            if on
            else None
        )
        target_lin = np.clip(t_lin, 0.0, 1.0)
        input_lin = target_lin

        # 3. the glass model: the windshield's reflection layer, a blend of the literature, or none
        rb = term_rng(seed, index, "blend")
        model = pick(rb, cfg.blend.models)
        model = blend or ("windshield" if domain is not None else model)
        params["blend"] = model
        clean = model == "none"
        if model == "windshield":
            reflection, fc_on, source, _ = self._reflection(
                index, size, px, nir, force, target_lin, faces, params
            )
            if reflection is not None:
                input_lin = target_lin + reflection
        else:
            fc_on = False
            params["ghost"] = params["false_colour"] = params["reflection"] = None
            source = "none"
            if not clean:
                source, input_lin, target_lin = self._blend(
                    rb, model, size, px, nir, target_lin, faces, params
                )
            reflection = None if clean else input_lin

        # 4. glare and the NIR bright-glass veil
        if clean:
            params["glare"] = None
        else:
            input_lin = add_glare(
                self.cfg.glare, self.cfg.seed, index, nir, force.get("glare"), input_lin, params
            )
        if nir and veil > 0 and cfg.camera.nir_veil[1] > 0 and not clean:
            yy = np.linspace(1.0, 0.5, size, dtype=np.float32)[:, None, None]
            input_lin = input_lin + np.float32(veil) * yy
        same = input_lin is target_lin  # no input-only term so far: share the arrays, bytes stay equal
        if not same:
            input_lin = np.clip(input_lin, 0.0, 1.0)

        # 5. shared camera terms
        cam = cfg.camera
        rm = term_rng(seed, index, "motion_blur")
        on = decide(rm, cam.motion_blur, cam.motion_probability, None)
        length, angle = uniform_in(rm, cam.motion_length) * px, float(rm.uniform(0, 180))
        if on:
            input_lin = camera.motion_blur(input_lin, length, angle)
            target_lin = input_lin if same else camera.motion_blur(target_lin, length, angle)
        params["motion_blur"] = {"length": rounded(length), "angle": rounded(angle)} if on else None
        input_d = glass.to_display(input_lin)
        target_d = input_d if same else glass.to_display(target_lin)
        rl = term_rng(seed, index, "low_res")
        on = decide(rl, cam.low_res, cam.low_res_probability, None)
        scale = uniform_in(rl, cam.low_res_scale)
        if on:
            input_d = camera.low_res(input_d, scale)
            target_d = input_d if same else camera.low_res(target_d, scale)
        params["low_res"] = {"scale": rounded(scale)} if on else None

        # 6. input-only sensor terms
        rs = term_rng(seed, index, "noise")
        on = decide(rs, cam.noise, cam.noise_probability, None) and not clean
        sigma = uniform_in(rs, cam.noise_sigma)
        if on:
            input_d = camera.noise(input_d, sigma, rs, mono=nir)
        params["noise"] = {"sigma": rounded(sigma)} if on else None
        input_u8 = camera.quantise(input_d)
        target_u8 = input_u8 if input_d is target_d else camera.quantise(target_d)
        rj = term_rng(seed, index, "jpeg")
        on = decide(rj, cam.jpeg, cam.jpeg_probability, None) and not clean
        quality = int(round(uniform_in(rj, cam.jpeg_quality)))
        if on:
            input_u8 = camera.jpeg(input_u8, quality, mono=nir)
        params["jpeg"] = {"quality": quality} if on else None

        if domain is None:
            domain = self._dominant(nir, reflection is not None, params["glare"] is not None, fc_on, source)
        return Sample(input_u8, target_u8, params, faces, domain)

    def _reflection(
        self,
        index: int,
        size: int,
        px: float,
        nir: bool,
        force: dict[str, Any],
        target_lin: np.ndarray,
        faces: list[dict[str, Any]],
        params: dict[str, Any],
    ) -> tuple[np.ndarray | None, bool, str, np.ndarray | None]:
        cfg, seed = self.cfg, self.cfg.seed
        rc = cfg.reflection
        rr = term_rng(seed, index, "reflection")
        on = decide(rr, rc.enabled, rc.probability, force.get("reflection"))
        names = sorted(rc.sources)
        weights = np.array([rc.sources[n] for n in names], np.float64)
        source = names[int(rr.choice(len(names), p=weights / weights.sum()))]
        source = force.get("source", source)
        strength, sigma = uniform_in(rr, rc.strength), uniform_in(rr, rc.blur_sigma) * px
        bottom, side, side_left = (
            uniform_in(rr, rc.fresnel_bottom),
            uniform_in(rr, rc.fresnel_side),
            bool(rr.random() < 0.5),
        )
        att = float(rr.uniform(1.08, 1.18))
        rgh = term_rng(seed, index, "ghost")
        gc = cfg.ghost
        ghost_on = decide(rgh, gc.enabled, gc.probability, None) and on
        dist, theta, c = (
            uniform_in(rgh, gc.offset) * px,
            float(rgh.uniform(0, 2 * np.pi)),
            uniform_in(rgh, gc.attenuation),
        )
        rf = term_rng(seed, index, "false_colour")
        fcc = cfg.false_colour
        fc_on = decide(rf, fcc.enabled, fcc.probability, force.get("false_colour")) and on and not nir
        hue, sat = uniform_in(rf, fcc.hue_shift), uniform_in(rf, fcc.saturation)
        params["ghost"] = (
            {"dx": rounded(dist * np.cos(theta)), "dy": rounded(dist * np.sin(theta)), "c": rounded(c)}
            if ghost_on
            else None
        )
        params["false_colour"] = {"hue_shift": rounded(hue), "saturation": rounded(sat)} if fc_on else None
        if not on:
            params["reflection"] = None
            return None, False, "none", None
        r_disp, info = reflection_layer(
            rr,
            source,
            size,
            self.photos if source in ("photo", "person") else None,
            self.people,
            {str(f["identity"]) for f in faces},
        )
        if fc_on:
            r_disp = glass.false_colour(r_disp, hue, sat)
        if nir:
            r_disp = camera.to_nir(r_disp)
        r_lin = glass.to_linear(r_disp)
        if ghost_on:
            r_lin = glass.ghost(r_lin, dist * np.cos(theta), dist * np.sin(theta), c)
        if rc.blur:
            r_lin = glass.blur(r_lin, sigma)
        rmap = (
            glass.fresnel_map(size, strength, bottom, side, side_left) if rc.fresnel else np.float32(strength)
        )
        term = rmap * r_lin
        if rc.overflow:
            term = glass.compensate_overflow(target_lin, term, att)
        params["reflection"] = {
            "source": source,
            **info,
            "strength": rounded(strength),
            "blur_sigma": rounded(sigma) if rc.blur else None,
            "fresnel_bottom": rounded(bottom) if rc.fresnel else None,
            "fresnel_side": rounded(side) if rc.fresnel else None,
            "fresnel_side_left": side_left if rc.fresnel else None,
            "overflow_att": rounded(att) if rc.overflow else None,
        }
        return term, fc_on, source, rmap if isinstance(rmap, np.ndarray) else None

    def _blend(
        self,
        rb: np.random.Generator,
        model: str,
        size: int,
        px: float,
        nir: bool,
        target_lin: np.ndarray,
        faces: list[dict[str, Any]],
        params: dict[str, Any],
    ) -> tuple[str, np.ndarray, np.ndarray]:
        """A glass model of the literature (:mod:`reflect.data.synth.blends`): (the reflection source,
        input, target) in linear light; the draws are recorded in ``params``."""
        bc, rc = self.cfg.blend, self.cfg.reflection
        source = pick(rb, rc.sources)
        a, sigma = uniform_in(rb, bc.strength), uniform_in(rb, bc.blur_sigma) * px
        loss = np.array(
            [uniform_in(rb, bc.transmission_loss) * rb.uniform(0.8, 1.2) for _ in range(3)], np.float32
        )
        g_r = np.float32(a) * rb.uniform(0.8, 1.2, 3).astype(np.float32)
        att = float(rb.uniform(1.08, 1.3))
        avoid = {str(f["identity"]) for f in faces}
        r_disp, info = reflection_layer(
            rb, source, size, self.photos if source in ("photo", "person") else None, self.people, avoid
        )
        if nir:
            r_disp = camera.to_nir(r_disp)
            loss[:] = loss.mean()
            g_r[:] = g_r.mean()
        r_lin = glass.to_linear(r_disp)
        if model == "linear":
            out = blends.linear(target_lin, r_lin, a, sigma, att)
        elif model == "screen":
            out = blends.screen(target_lin, r_lin, a, sigma)
        elif model == "veil":  # its draws come last: the other models' samples stay as they were
            density = uniform_in(rb, bc.veil)
            airlight = uniform_in(rb, bc.airlight) * rb.uniform([0.9, 0.85, 0.75], 1.0).astype(np.float32)
            if nir:
                airlight[:] = airlight.mean()
            out = blends.veil(target_lin, r_lin, density, airlight, blends.sun_ramp(rb, size), a, sigma)
        else:
            out = blends.gains(target_lin, r_lin, 1.0 - np.clip(loss, 0.0, 0.95), g_r, sigma)
        params["reflection"] = {
            "source": source,
            **info,
            "strength": rounded(a),
            "blur_sigma": rounded(sigma),
        }
        if model == "gains":
            params["reflection"]["transmission_loss"] = [rounded(v) for v in loss]
        elif model == "veil":
            params["reflection"] |= {"veil": rounded(density), "airlight": [rounded(v) for v in airlight]}
        return source, np.clip(out[0], 0.0, 1.0), out[1]

    @staticmethod
    def _dominant(nir: bool, reflection: bool, glare: bool, fc: bool, source: str) -> str:
        if nir:
            return "nir"
        if fc:
            return "false_colour"
        if glare:
            return "glare"
        return source if reflection else "clean"
