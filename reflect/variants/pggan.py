"""Progressive growing (Karras et al., "Progressive Growing of GANs for Improved Quality, Stability,
and Variation", ICLR 2018) applied to unpaired translation.

Two growing encoder-decoders translate both ways, with cycle consistency as in CycleGAN (the paper
generates from noise; translation needs the input path and the cycle): ``g_ab`` (A -> B, removes
reflections) and ``g_ba`` (B -> A), each judged by a growing critic, ``d_b`` and ``d_a``. Training
starts at ``start_resolution`` and doubles up to ``resolution``: the lowest level stabilises for
``stabilise_steps``, then each new level fades in over ``fade_steps`` (alpha 0 -> 1; one alpha for the
input and output sides of the generators and for the critics) and stabilises for
``stabilise_steps``; training goes on at the top level after that. Real images are box-downscaled
to the current resolution and, during a fade, blended with their 2x coarser copy (the paper's
Sec. A.1), so at alpha = 0 the networks and data are exactly those of the level below.

The paper's choices (and its reference code): equalised learning rate, pixel norm in the
generators, minibatch standard deviation (groups of 4) in the critics, leaky ReLU 0.2, nearest
upscale / box downscale, WGAN-GP with lambda 10 and drift epsilon 0.001, Adam(1e-3, betas 0/0.99),
a generator EMA of 0.999 (``train.ema`` in ``configs/pggan.yaml``), 600k images per fade and per
stabilisation (37.5k steps at batch 16). From CycleGAN: cycle weight 10, identity weight 5.
Feature maps follow the paper, nf(res) = min(2 * fmap_base / res, fmap_max): 64 at 256 px.

One iteration runs each generator once per input (:meth:`generate`, as CycleGAN), the generator
update uses those outputs, then the critics judge the detached translations at the same level and
alpha. The schedule position is this variant's training state: ``steps_done`` counts generator
phases (one per trainer step), is saved in the checkpoint with the resolution and alpha training continues
at, and is restored on resume, so a run stopped in the middle of a fade resumes at the same alpha
and resolution. ``translate`` always runs the fully grown network (top level, alpha 1) at any
H and W, so it does not depend on that state.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import torch
from torch.nn import functional as F

from reflect import losses
from reflect.errors import CheckpointError, ConfigError
from reflect.nn import ProgressiveDiscriminator, ProgressiveEncoderDecoder, crop_to, pad_to_multiple
from reflect.nn.equalized import downscale, fade_images
from reflect.nn.progressive import level_channels
from reflect.registry import register
from reflect.variants.base import Variant, VariantConfig, params_of

GAN_MODES = ("wgan-gp", "lsgan")


@dataclass
class PGGANConfig(VariantConfig):
    lr: float = 1e-3
    beta1: float = 0.0
    beta2: float = 0.99
    init: str = "none"  # equalised learning rate: N(0, 1) weights scaled at run time
    resolution: int = 256  # the final (training) resolution: data.crop_size
    start_resolution: int = 16  # resolution / start_resolution must be a power of two
    fmap_base: int = 8192
    fmap_max: int = 512
    stabilise_steps: int = 37_500  # per level (600k images at batch 16)
    fade_steps: int = 37_500  # per new level
    mbstd_group: int = 4  # 0 disables the minibatch stddev feature
    gan_mode: Literal["wgan-gp", "lsgan"] = "wgan-gp"
    lambda_gp: float = 10.0
    drift: float = 0.001  # epsilon_drift * D(real)^2 keeps the critic's scores near 0
    lambda_cyc: float = 10.0
    lambda_idt: float = 0.5  # identity weight = lambda_idt * lambda_cyc (0 = off)


def schedule(step: int, n_levels: int, stabilise: int, fade: int) -> tuple[int, float]:
    """(level, alpha) of 0-based training step ``step``: level 0 stabilises, then each level fades
    in (alpha = t / fade for t = 0 .. fade - 1) and stabilises (alpha 1); the top level stays."""
    period = stabilise + fade
    if step < stabilise:
        return 0, 1.0
    if period == 0:
        return n_levels - 1, 1.0
    level, within = 1 + (step - stabilise) // period, (step - stabilise) % period
    if level >= n_levels:
        return n_levels - 1, 1.0
    return level, (within / fade if within < fade else 1.0)


@register("pggan")
class PGGAN(Variant):
    Config = PGGANConfig
    generator_modules = ("g_ab", "g_ba")
    reconstruction_losses: ClassVar[tuple[str, ...]] = ("cycle_a", "cycle_b")
    clean_key = "clean"  # fake_b is at the level being trained; the application losses judge full size

    def __init__(self, cfg: PGGANConfig) -> None:
        super().__init__(cfg)
        self.cfg: PGGANConfig = cfg
        _check(cfg)
        n = (cfg.resolution // cfg.start_resolution).bit_length()
        self.resolutions = [cfg.start_resolution * 2**k for k in range(n)]
        ch = level_channels(self.resolutions, cfg.fmap_base, cfg.fmap_max)
        self.g_ab = ProgressiveEncoderDecoder(cfg.in_channels, cfg.out_channels, ch)  # G: A -> B
        self.g_ba = ProgressiveEncoderDecoder(cfg.out_channels, cfg.in_channels, ch)  # F: B -> A
        self.d_a = ProgressiveDiscriminator(cfg.in_channels, ch, mbstd_group=cfg.mbstd_group)
        self.d_b = ProgressiveDiscriminator(cfg.out_channels, ch, mbstd_group=cfg.mbstd_group)
        self.steps_done = 0  # generator phases run so far: the position in the growth schedule

    @classmethod
    def default_loss_weights(cls, cfg: PGGANConfig) -> dict[str, float]:
        w = {
            "d_a": 1.0,
            "d_b": 1.0,
            "adv_ab": 1.0,
            "adv_ba": 1.0,
            "cycle_a": cfg.lambda_cyc,
            "cycle_b": cfg.lambda_cyc,
        }
        if cfg.gan_mode == "wgan-gp":
            w |= {"gp_a": cfg.lambda_gp, "gp_b": cfg.lambda_gp, "drift_a": cfg.drift, "drift_b": cfg.drift}
        if cfg.lambda_idt > 0:
            w |= {"idt_a": cfg.lambda_idt * cfg.lambda_cyc, "idt_b": cfg.lambda_idt * cfg.lambda_cyc}
        return w

    def param_groups(self) -> dict[str, list[torch.nn.Parameter]]:
        return {"generator": params_of(self.g_ab, self.g_ba), "discriminator": params_of(self.d_a, self.d_b)}

    # ---- the growth schedule ------------------------------------------------------------
    @property
    def stage(self) -> tuple[int, float]:
        """(level, alpha) the next training step runs at."""
        c = self.cfg
        return schedule(self.steps_done, len(self.resolutions), c.stabilise_steps, c.fade_steps)

    def reals(self, x: torch.Tensor, level: int, alpha: float) -> torch.Tensor:
        """Training images (B, C, R, R) -> the current resolution, faded while a level fades in."""
        if tuple(x.shape[-2:]) != (self.cfg.resolution,) * 2:
            raise ConfigError(
                f"pggan trains on {self.cfg.resolution}x{self.cfg.resolution} images (model.resolution) but got "
                f"{x.shape[-2]}x{x.shape[-1]}: set data.crop_size={self.cfg.resolution} or model.resolution"
            )
        x = downscale(x, self.cfg.resolution // self.resolutions[level])
        return fade_images(x, alpha) if level > 0 else x

    # ---- contract -------------------------------------------------------------------------
    def generate(self, batch: dict[str, Any]) -> dict[str, torch.Tensor]:
        """Both generators once per input at the current level and alpha: the translations, the
        cycles, the identity mappings, the reals they start from and ``stage`` (level, alpha: the
        discriminator phase runs at the same point of the schedule). With the application losses
        on, ``clean`` is G(A) through the fully grown network (as :meth:`translate` makes it; the
        same tensor as ``fake_b`` once training is at the top level)."""
        level, alpha = self.stage
        real_a, real_b = self.reals(batch["A"], level, alpha), self.reals(batch["B"], level, alpha)
        out = {"real_a": real_a, "real_b": real_b, "stage": torch.tensor([level, alpha], dtype=torch.float64)}
        out["fake_b"] = self.g_ab(real_a, level, alpha)  # G(A)
        out["fake_a"] = self.g_ba(real_b, level, alpha)  # F(B)
        out["rec_a"] = self.g_ba(out["fake_b"], level, alpha)  # F(G(A))
        out["rec_b"] = self.g_ab(out["fake_a"], level, alpha)  # G(F(B))
        if self.cfg.lambda_idt > 0:
            out["idt_a"] = self.g_ba(real_a, level, alpha)
            out["idt_b"] = self.g_ab(real_b, level, alpha)
        if self.uses_clean_output:
            top = (len(self.resolutions) - 1, 1.0)
            out["clean"] = out["fake_b"] if (level, alpha) == top else self.g_ab(batch["A"], *top)
        return out

    def discriminator_losses(
        self, batch: dict[str, Any], outputs: dict[str, torch.Tensor]
    ) -> dict[str, torch.Tensor]:
        # the generator phase's forward, at its point of the schedule (a CPU tensor: no sync)
        level, alpha = int(outputs["stage"][0]), float(outputs["stage"][1])
        real_a, real_b, fake_a, fake_b = (
            outputs[k].detach() for k in ("real_a", "real_b", "fake_a", "fake_b")
        )
        out: dict[str, torch.Tensor] = {}
        for name, d, real, fake in (("a", self.d_a, real_a, fake_a), ("b", self.d_b, real_b, fake_b)):

            def critic(x: torch.Tensor, d: torch.nn.Module = d) -> torch.Tensor:
                return d(x, level, alpha)  # (B,) scores

            real_score, fake_score = critic(real), critic(fake)
            if self.cfg.gan_mode == "lsgan":
                out[f"d_{name}"] = losses.d_loss("lsgan", real_score, fake_score)
                continue
            out[f"d_{name}"] = losses.d_loss("wgan", real_score, fake_score)  # E[D(fake)] - E[D(real)]
            out[f"gp_{name}"] = losses.gradient_penalty(critic, real, fake)
            out[f"drift_{name}"] = real_score.float().pow(2).mean()
        return out

    def generator_losses(
        self, batch: dict[str, Any], outputs: dict[str, torch.Tensor]
    ) -> dict[str, torch.Tensor]:
        level, alpha = int(outputs["stage"][0]), float(outputs["stage"][1])
        real_a, real_b = outputs["real_a"], outputs["real_b"]
        mode = "lsgan" if self.cfg.gan_mode == "lsgan" else "wgan"
        out = {
            "adv_ab": losses.g_loss(mode, self.d_b(outputs["fake_b"], level, alpha)),
            "adv_ba": losses.g_loss(mode, self.d_a(outputs["fake_a"], level, alpha)),
            "cycle_a": losses.l1(outputs["rec_a"], real_a),  # |F(G(A)) - A|
            "cycle_b": losses.l1(outputs["rec_b"], real_b),  # |G(F(B)) - B|
        }
        if self.cfg.lambda_idt > 0:
            out["idt_a"] = losses.l1(outputs["idt_a"], real_a)
            out["idt_b"] = losses.l1(outputs["idt_b"], real_b)
        self.steps_done += 1  # one generator phase per trainer step: the schedule moves on
        return out

    def translate(self, x: torch.Tensor, target: str | None = None) -> torch.Tensor:
        """(B, C, H, W) in [-1, 1] -> same shape, through the fully grown network (any H and W).
        ``target='A'`` runs F (B -> A); default G (A -> B)."""
        if target not in (None, "B", "A"):
            raise ValueError(f"pggan translates to 'A' or 'B', not {target!r}")
        g = self.g_ba if target == "A" else self.g_ab
        h, w = x.shape[-2], x.shape[-1]
        return crop_to(g(pad_to_multiple(x, g.stride), len(self.resolutions) - 1, 1.0), h, w)

    def samples(self, batch: dict[str, Any]) -> dict[str, torch.Tensor]:
        """What is being trained: both directions at the current level and alpha, shown at full size."""
        level, alpha = self.stage
        size = batch["A"].shape[-2:]
        with torch.no_grad():
            a, b = self.reals(batch["A"], level, alpha), self.reals(batch["B"], level, alpha)
            images = {
                "real_A": a,
                "fake_B": self.g_ab(a, level, alpha),
                "real_B": b,
                "fake_A": self.g_ba(b, level, alpha),
            }
        return {k: F.interpolate(v, size=size, mode="nearest") for k, v in images.items()}

    # ---- training state: where in the schedule ------------------------------------------
    def training_state(self) -> dict[str, Any]:
        level, alpha = self.stage
        sched = {
            "step": self.steps_done,
            "level": level,
            "resolution": self.resolutions[level],
            "alpha": alpha,
        }
        return super().training_state() | {"schedule": sched}

    def load_training_state(self, state: dict[str, Any]) -> None:
        super().load_training_state(state)
        saved = state.get("schedule")
        if not isinstance(saved, dict):
            raise CheckpointError(
                "pggan: the checkpoint has no growth-schedule state (training_state.schedule)"
            )
        self.steps_done = int(saved["step"])
        level, alpha = self.stage
        if self.resolutions[level] != saved["resolution"] or abs(alpha - float(saved["alpha"])) > 1e-12:
            raise CheckpointError(
                f"pggan: the checkpoint continues at {saved['resolution']} px, alpha {float(saved['alpha']):.4f} "
                f"(step {self.steps_done}), but this config's schedule puts that step at {self.resolutions[level]} px, "
                f"alpha {alpha:.4f}: resume with the run's model.resolution, start_resolution, stabilise_steps "
                "and fade_steps"
            )


def _check(cfg: PGGANConfig) -> None:
    ratio = cfg.resolution // max(cfg.start_resolution, 1)
    if cfg.start_resolution < 1 or cfg.resolution % cfg.start_resolution or ratio & (ratio - 1):
        raise ConfigError(
            f"pggan: model.resolution / model.start_resolution must be a power of two, got "
            f"{cfg.resolution} / {cfg.start_resolution}"
        )
    if cfg.gan_mode not in GAN_MODES:
        raise ConfigError(f"pggan: model.gan_mode {cfg.gan_mode!r} is not one of {', '.join(GAN_MODES)}")
    if cfg.init != "none":
        raise ConfigError("pggan: model.init must be 'none' (the equalised learning rate sets the weights)")
    if cfg.stabilise_steps < 0 or cfg.fade_steps < 0:
        raise ConfigError("pggan: model.stabilise_steps and model.fade_steps must be >= 0")
