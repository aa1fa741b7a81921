"""Reference-style training iterations, plain PyTorch, for ``benchmarks/train_step.py`` to time
side by side with the trainer.

Each loop is written from the paper's algorithm and the order in which the authors' published
code trains (not copied from it), on the same networks as our variants (so both sides do the
same model arithmetic per forward) with plain ``torch.optim.Adam`` (PyTorch's default
implementation, as the reference scripts):

* CycleGAN (junyanz/pytorch-CycleGAN-and-pix2pix, ``optimize_parameters``): one forward of both
  generators (G(A), F(G(A)), F(B), G(F(B))); the generator step with the discriminators frozen
  (identity mappings computed there); then the discriminator step on the detached fakes drawn
  through the image pools, each discriminator's loss halved and back-propagated on its own.
* NICE-GAN (alpc91/NICE-GAN-pytorch, ``train``): the discriminator update first (encoders on the
  real images with grad, both generators on their codes, detached; heads on real and fake), then
  the generator update, which encodes the real images again, runs the generators, encodes the
  fakes, and runs the cycle and reconstruction decodes. The reference does not freeze the
  discriminators in the generator update; neither does this loop.
* UNIT (mingyuliu/UNIT, ``dis_update`` then ``gen_update``): the discriminator update encodes and
  translates both domains (autograd on, outputs detached) and steps the discriminators; the
  generator update encodes again, reconstructs, translates, re-encodes the translations and
  decodes the cycles. No freezing either, as the reference.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from reflect.nn import ImagePool, reparameterize

Step = Callable[[dict[str, torch.Tensor]], None]


def _adam(params: list[nn.Parameter], settings: dict[str, Any]) -> torch.optim.Adam:
    return torch.optim.Adam(
        params, lr=settings["lr"], betas=settings["betas"], weight_decay=settings["weight_decay"]
    )


def _ls(pred: torch.Tensor | list[torch.Tensor], target: float) -> torch.Tensor:
    """LSGAN: mean squared distance of the logits (every scale/head summed) to ``target``."""
    preds = pred if isinstance(pred, list) else [pred]
    return sum((F.mse_loss(p, torch.full_like(p, target)) for p in preds), torch.zeros(()))


def _set_requires_grad(modules: list[nn.Module], flag: bool) -> None:
    for m in modules:
        for p in m.parameters():
            p.requires_grad_(flag)


def cyclegan(m: Any) -> Step:
    """``m``: a CycleGAN variant (g_ab = G, g_ba = F, d_a = D_X, d_b = D_Y)."""
    opt_g = _adam([*m.g_ab.parameters(), *m.g_ba.parameters()], m.optimizer_settings("generator"))
    opt_d = _adam([*m.d_a.parameters(), *m.d_b.parameters()], m.optimizer_settings("discriminator"))
    pool_a, pool_b = ImagePool(m.cfg.pool_size), ImagePool(m.cfg.pool_size)
    lam, lam_idt = m.cfg.lambda_cyc, m.cfg.lambda_idt * m.cfg.lambda_cyc

    def step(batch: dict[str, torch.Tensor]) -> None:
        real_a, real_b = batch["A"], batch["B"]
        fake_b = m.g_ab(real_a)  # forward(): G(A), F(G(A)), F(B), G(F(B))
        rec_a = m.g_ba(fake_b)
        fake_a = m.g_ba(real_b)
        rec_b = m.g_ab(fake_a)
        _set_requires_grad([m.d_a, m.d_b], False)  # generator step
        opt_g.zero_grad()
        loss_idt = F.l1_loss(m.g_ab(real_b), real_b) + F.l1_loss(m.g_ba(real_a), real_a)
        loss_g = (
            _ls(m.d_b(fake_b), 1.0)
            + _ls(m.d_a(fake_a), 1.0)
            + lam * (F.l1_loss(rec_a, real_a) + F.l1_loss(rec_b, real_b))
            + lam_idt * loss_idt
        )
        loss_g.backward()
        opt_g.step()
        _set_requires_grad([m.d_a, m.d_b], True)  # discriminator step
        opt_d.zero_grad()
        for d, real, fake, pool in ((m.d_b, real_b, fake_b, pool_b), (m.d_a, real_a, fake_a, pool_a)):
            past = pool.query(fake)
            (0.5 * (_ls(d(real), 1.0) + _ls(d(past.detach()), 0.0))).backward()
        opt_d.step()

    return step


def nicegan(m: Any) -> Step:
    """``m``: a NICE-GAN variant (discriminator X = enc_a + d_a, generator X->Y = g_ab)."""
    opt_g = _adam([*m.g_ab.parameters(), *m.g_ba.parameters()], m.optimizer_settings("generator"))
    opt_d = _adam(
        [p for mod in (m.enc_a, m.enc_b, m.d_a, m.d_b) for p in mod.parameters()],
        m.optimizer_settings("discriminator"),
    )
    lam_cyc, lam_rec = m.cfg.lambda_cyc, m.cfg.lambda_rec

    def judge(heads: nn.Module, z: torch.Tensor, cam: torch.Tensor) -> list[torch.Tensor]:
        return [*heads(z), cam]

    def step(batch: dict[str, torch.Tensor]) -> None:
        real_a, real_b = batch["A"], batch["B"]
        opt_d.zero_grad()  # discriminator update
        z_a, cam_a = m.enc_a(real_a)
        z_b, cam_b = m.enc_b(real_b)
        fake_b, fake_a = m.g_ab(z_a).detach(), m.g_ba(z_b).detach()
        loss_d = (
            _ls(judge(m.d_a, z_a, cam_a), 1.0)
            + _ls(judge(m.d_a, *m.enc_a(fake_a)), 0.0)
            + _ls(judge(m.d_b, z_b, cam_b), 1.0)
            + _ls(judge(m.d_b, *m.enc_b(fake_b)), 0.0)
        )
        loss_d.backward()
        opt_d.step()
        opt_g.zero_grad()  # generator update
        z_a, _ = m.enc_a(real_a)
        z_b, _ = m.enc_b(real_b)
        fake_b, fake_a = m.g_ab(z_a), m.g_ba(z_b)
        z_fa, cam_fa = m.enc_a(fake_a)
        z_fb, cam_fb = m.enc_b(fake_b)
        loss_g = (
            _ls(judge(m.d_a, z_fa, cam_fa), 1.0)
            + _ls(judge(m.d_b, z_fb, cam_fb), 1.0)
            + lam_cyc * (F.l1_loss(m.g_ba(z_fb), real_a) + F.l1_loss(m.g_ab(z_fa), real_b))
            + lam_rec * (F.l1_loss(m.g_ba(z_a), real_a) + F.l1_loss(m.g_ab(z_b), real_b))
        )
        loss_g.backward()
        opt_g.step()

    return step


def unit(m: Any) -> Step:
    """``m``: a UNIT variant (encode/decode per domain, shared layers inside)."""
    gens = [m.enc_a, m.enc_b, m.enc_shared, m.dec_shared, m.dec_a, m.dec_b]
    opt_g = _adam([p for g in gens for p in g.parameters()], m.optimizer_settings("generator"))
    opt_d = _adam([*m.d_a.parameters(), *m.d_b.parameters()], m.optimizer_settings("discriminator"))
    c = m.cfg

    def kl(mu: torch.Tensor) -> torch.Tensor:
        return mu.pow(2).mean()

    def step(batch: dict[str, torch.Tensor]) -> None:
        x_a, x_b = batch["A"], batch["B"]
        opt_d.zero_grad()  # dis_update
        h_a, h_b = m.encode(x_a, "A"), m.encode(x_b, "B")
        x_ba = m.decode(reparameterize(h_b), "A")
        x_ab = m.decode(reparameterize(h_a), "B")
        loss_d = (
            _ls(m.d_a(x_a), 1.0)
            + _ls(m.d_a(x_ba.detach()), 0.0)
            + _ls(m.d_b(x_b), 1.0)
            + _ls(m.d_b(x_ab.detach()), 0.0)
        )
        (c.lambda_gan * loss_d).backward()
        opt_d.step()
        opt_g.zero_grad()  # gen_update
        h_a, h_b = m.encode(x_a, "A"), m.encode(x_b, "B")
        z_a, z_b = reparameterize(h_a), reparameterize(h_b)
        x_a_recon, x_b_recon = m.decode(z_a, "A"), m.decode(z_b, "B")
        x_ba, x_ab = m.decode(z_b, "A"), m.decode(z_a, "B")
        h_b_recon, h_a_recon = m.encode(x_ba, "A"), m.encode(x_ab, "B")
        x_aba = m.decode(reparameterize(h_a_recon), "A")
        x_bab = m.decode(reparameterize(h_b_recon), "B")
        loss_g = (
            c.lambda_gan * (_ls(m.d_a(x_ba), 1.0) + _ls(m.d_b(x_ab), 1.0))
            + c.lambda_recon * (F.l1_loss(x_a_recon, x_a) + F.l1_loss(x_b_recon, x_b))
            + c.lambda_kl * (kl(h_a) + kl(h_b))
            + c.lambda_cyc * (F.l1_loss(x_aba, x_a) + F.l1_loss(x_bab, x_b))
            + c.lambda_kl_cyc * (kl(h_a_recon) + kl(h_b_recon))
        )
        loss_g.backward()
        opt_g.step()

    return step


LOOPS: dict[str, Callable[[Any], Step]] = {"cyclegan": cyclegan, "nicegan": nicegan, "unit": unit}
