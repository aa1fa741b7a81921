"""A reflection-removal generator built for a CPU: a small residual U-Net that predicts a correction.

Reflection removal changes few pixels a lot and most pixels a little, and the face under the glass
must come through untouched. So the network does not draw the clean image; it predicts a
correction ``delta`` to its input, ``T = x + delta`` (the residual formulation of ERRNet, Wei et
al. CVPR 2019, and most single-image reflection-removal networks), and optionally the reflection
layer ``R`` that was added, so that ``x ~ T + R`` can be checked (Zhang et al. CVPR 2018).

Layout (``c`` = ``ngf``; ``d``: stride-2 3x3 conv; ``R``: residual block; ``u``: 1x1 conv then
bilinear x2, added to the skip):

    x (3, H, W) -> space-to-depth /2 (12, H/2) -> c3 (c) -> R(c)            [1/2]
      -> d(2c) -> R(2c) -> d(4c) -> R(4c) -> d(6c) -> R(6c, dilated) x n   [1/4, 1/8, 1/16]
      (then ``n_context`` more R(6c, dilated 4 and 1) at 1/16, which start as the identity)
      -> u(4c) + skip -> R(4c) -> u(2c) + skip -> R(2c) -> u(c) + skip -> R(c)
      (each decoder R followed by ``n_refine`` more, which start as the identity)
      -> c3 (4 * 3 [+ 4 * 3]) -> depth-to-space x2 -> delta (3, H, W) [, R (3, H, W)]

No full-resolution convolution: space-to-depth keeps every input pixel and the output is added to
the input at full resolution, so detail survives while the compute stays at half resolution and
below (about 2.5 GMACs at 256x256 with ``ngf=32``). A squeeze-excitation gate on the bottleneck
sees the whole image (how strong is the glare, how dark the cabin). No normalisation layers: the
correction must depend on absolute brightness, which instance norm would remove. The output
convolutions start at zero, so an untrained generator is the identity.

Two output forms (``output``):

* ``correction`` (the first bundled models): ``T = x + delta``, ``delta`` free. A free correction can
  paint anything: trained only on dark procedural cabins, it paints a bright backdrop dark grey.
* ``layers``: the clean image is *composed from the input* as ``T = g * (x - R) + d`` (in [0, 1]
  units), the inverse of the blend ``x = T / g + R`` that every reflection recipe approximates
  (Zhang et al. 2018; ERRNet 2019; the per-channel transmission of RDNet 2025): ``R >= 0``
  (clamped at 0) is the reflection, which can only *remove* light that the input holds; ``g`` is one bounded
  gain per image and channel, in ``[GAIN_LOW, GAIN_HIGH]`` from the globally pooled bottleneck,
  which undoes the transmission that the glass loses to its reflectance (it cannot invent a cabin:
  at most a 10 % darkening); ``d`` is a signed detail term bounded to ``+-DETAIL`` by a tanh, for
  what is not additive (sensor noise, JPEG blocks) and nothing larger. So a pixel can come out
  darker only by the reflection the network claims to see there, and a reflection-free input
  comes back unchanged when ``R = 0``, ``g = 1``, ``d = 0``, which the training's
  ``no_reflection`` penalty asks for on reflection-free samples. :meth:`RemovalUNet.layers`
  returns ``R`` in [-1, 1] units (``x = T + R`` when ``g = 1`` and ``d = 0``).

Any H and W that are multiples of :attr:`stride` (16); variants pad and crop. ONNX-exportable.
Input and output (B, 3, H, W) in [-1, 1]; ``R`` is in the same units (``x = T + R``).
"""

from __future__ import annotations

import math
from typing import Literal

import torch
from torch import nn
from torch.nn import functional as F

OutputForm = Literal["correction", "layers"]
OUTPUT_FORMS: tuple[str, ...] = ("correction", "layers")
GAIN_LOW, GAIN_HIGH = 0.9, 1.5  # the per-channel gain of the ``layers`` form
DETAIL = 0.04  # bound of its signed detail term, [0, 1] units


class _Res(nn.Module):
    """conv3x3 -> LeakyReLU -> conv3x3, added to the input (no norm)."""

    def __init__(self, ch: int, dilation: int = 1) -> None:
        super().__init__()
        self.c1 = nn.Conv2d(ch, ch, 3, padding=dilation, dilation=dilation)
        self.c2 = nn.Conv2d(ch, ch, 3, padding=1)
        self.act = nn.LeakyReLU(0.1, inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.c2(self.act(self.c1(x)))


class _SE(nn.Module):
    """Squeeze-excitation: a per-channel gate from the global mean (Hu et al. 2018)."""

    def __init__(self, ch: int, reduction: int = 4) -> None:
        super().__init__()
        self.fc1 = nn.Conv2d(ch, ch // reduction, 1)
        self.fc2 = nn.Conv2d(ch // reduction, ch, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        g = x.mean(dim=(2, 3), keepdim=True)
        return x * torch.sigmoid(self.fc2(F.leaky_relu(self.fc1(g), 0.1)))


class _Down(nn.Sequential):
    def __init__(self, cin: int, cout: int) -> None:
        super().__init__(nn.Conv2d(cin, cout, 3, stride=2, padding=1), nn.LeakyReLU(0.1, inplace=True))


class _Up(nn.Module):
    """1x1 conv to the skip's width at the coarse scale (cheap), bilinear x2, add the skip."""

    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.proj = nn.Conv2d(cin, cout, 1)

    def forward(self, x: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        y = F.interpolate(self.proj(x), scale_factor=2.0, mode="bilinear", align_corners=False)
        return y + skip


class RemovalUNet(nn.Module):
    """Residual U-Net reflection remover (see the module docstring).

    ``forward(x)`` returns the cleaned image clamped to [-1, 1]; :meth:`layers` returns the
    unclamped transmission ``T`` and the reflection ``R`` (or None) for the training losses.
    """

    stride = 16
    #: modules that start as the identity: a generator file without them still initialises this one
    growable = ("ref3.", "ref2.", "ref1.", "ctx.")

    def __init__(
        self,
        in_ch: int = 3,
        out_ch: int = 3,
        *,
        ngf: int = 32,
        n_bottleneck: int = 3,
        n_refine: int = 0,
        n_context: int = 0,
        predict_reflection: bool = True,
        output: OutputForm = "correction",
    ) -> None:
        super().__init__()
        if in_ch != out_ch:
            raise ValueError(f"a correction generator needs in_ch == out_ch, got {in_ch} and {out_ch}")
        if ngf < 4 or ngf % 4:
            raise ValueError(f"ngf must be a positive multiple of 4, got {ngf}")
        if n_refine < 0:
            raise ValueError(f"n_refine must be >= 0, got {n_refine}")
        if n_context < 0:
            raise ValueError(f"n_context must be >= 0, got {n_context}")
        if output not in OUTPUT_FORMS:
            raise ValueError(f"output must be one of {', '.join(OUTPUT_FORMS)}, got {output!r}")
        if output == "layers" and not predict_reflection:
            raise ValueError(
                "the 'layers' output form predicts the reflection: predict_reflection must be true"
            )
        c1, c2, c3, c4 = ngf, 2 * ngf, 4 * ngf, 6 * ngf
        self.out_ch = out_ch
        self.predict_reflection = predict_reflection
        self.output = output
        act = nn.LeakyReLU(0.1, inplace=True)
        self.stem = nn.Sequential(nn.Conv2d(4 * in_ch, c1, 3, padding=1), act, _Res(c1))
        self.enc2 = nn.Sequential(_Down(c1, c2), _Res(c2))
        self.enc3 = nn.Sequential(_Down(c2, c3), _Res(c3))
        self.bottleneck = nn.Sequential(
            _Down(c3, c4), *[_Res(c4, dilation=2 if i % 2 == 0 else 1) for i in range(n_bottleneck)], _SE(c4)
        )
        # context blocks at 1/16: where the whole crop is in view (is this bright region the scene behind the
        # glass or a reflection on it?), at about half a 1/2-scale block's cost; zero_outputs() makes each the
        # identity, so they grow a trained model as the refinement blocks do
        self.ctx = nn.Sequential(*[_Res(c4, dilation=4 if i % 2 == 0 else 1) for i in range(n_context)])
        self.up3, self.dec3 = _Up(c4, c3), _Res(c3)
        self.up2, self.dec2 = _Up(c3, c2), _Res(c2)
        self.up1, self.dec1 = _Up(c2, c1), _Res(c1)
        # refinement blocks: zero_outputs() makes each the identity, so they add capacity to a trained model
        self.ref3 = nn.Sequential(*[_Res(c3) for _ in range(n_refine)])
        self.ref2 = nn.Sequential(*[_Res(c2) for _ in range(n_refine)])
        self.ref1 = nn.Sequential(*[_Res(c1) for _ in range(n_refine)])
        n_out = 4 * out_ch * (2 if predict_reflection else 1)
        self.head = nn.Conv2d(c1, n_out, 3, padding=1)
        # the layers form's per-channel gain, from the pooled bottleneck (zero conv: g = 1)
        self.gain = nn.Conv2d(c4, out_ch, 1) if output == "layers" else None
        self.zero_outputs()

    def zero_outputs(self) -> None:
        """The head and the refinement and context blocks' output convs to zero: the generator is the identity
        (``T = x``, ``R = 0``) and each refinement block passes its input through (call after any
        re-initialisation)."""
        convs: list[nn.Conv2d] = [self.head] + ([self.gain] if self.gain is not None else [])
        convs += [
            block.c2
            for seq in (self.ref3, self.ref2, self.ref1, self.ctx)
            for block in seq
            if isinstance(block, _Res)
        ]
        for conv in convs:
            nn.init.zeros_(conv.weight)
            assert conv.bias is not None
            nn.init.zeros_(conv.bias)

    def layers(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """(B, 3, H, W) in [-1, 1], H and W multiples of 16 -> (T unclamped, R or None)."""
        f1 = self.stem(F.pixel_unshuffle(x, 2))  # 1/2
        f2 = self.enc2(f1)  # 1/4
        f3 = self.enc3(f2)  # 1/8
        f4 = self.ctx(self.bottleneck(f3))  # 1/16
        y = self.ref3(self.dec3(self.up3(f4, f3)))
        y = self.ref2(self.dec2(self.up2(y, f2)))
        y = self.ref1(self.dec1(self.up1(y, f1)))
        out = F.pixel_shuffle(self.head(y), 2)  # (B, out_ch [* 2], H, W)
        if self.gain is not None:
            return self._compose(x, out, self.gain(f4.mean(dim=(2, 3), keepdim=True)))
        if self.predict_reflection:
            delta, r = out[:, : self.out_ch], out[:, self.out_ch :]
            return x + delta, r
        return x + out, None

    def _compose(
        self, x: torch.Tensor, out: torch.Tensor, z: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The ``layers`` form: ``T = g * (x - R) + d`` in [0, 1] units (see the module docstring)."""
        c = self.out_ch
        d = DETAIL * torch.tanh(out[:, :c])
        r = out[:, c:].clamp(
            min=0.0
        )  # [0, 1] units; clamp passes the gradient at 0 (ReLU would not: the head starts at 0)
        t01 = _gain(z) * ((x + 1.0) * 0.5 - r) + d
        return t01 * 2.0 - 1.0, r * 2.0

    def gains(self, x: torch.Tensor) -> torch.Tensor | None:
        """The ``layers`` form's per-channel gain ``g`` (B, C) for an input (H, W multiples of 16), or None."""
        if self.gain is None:
            return None
        f = self.ctx(self.bottleneck(self.enc3(self.enc2(self.stem(F.pixel_unshuffle(x, 2))))))
        return _gain(self.gain(f.mean(dim=(2, 3), keepdim=True))).flatten(1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x)[0].clamp(-1.0, 1.0)


def _gain(z: torch.Tensor) -> torch.Tensor:
    """The bounded gain from the gain conv's output: ``g`` in [GAIN_LOW, GAIN_HIGH], exactly 1 at ``z = 0``."""
    offset = math.log((1.0 - GAIN_LOW) / (GAIN_HIGH - 1.0))  # sigmoid(offset) = (1 - low) / (high - low)
    return GAIN_LOW + (GAIN_HIGH - GAIN_LOW) * torch.sigmoid(z + offset)


def layers_from_correction(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """A ``correction``-form state dict converted to the ``layers`` form: the reflection head starts
    as the negated correction (``R = relu(-delta)``: what the old model took away, it now calls the
    reflection; what it added is dropped), the detail head and the gain start at zero (``d = 0``,
    ``g = 1``). Every other tensor is kept. A warm start for training, not an equivalent model."""
    out = {k: v.clone() for k, v in state.items()}
    w, b = state["head.weight"], state["head.bias"]
    half = w.shape[0] // 2
    # the correction is in [-1, 1] units, the reflection head in [0, 1] units: halve it
    out["head.weight"] = torch.cat([torch.zeros_like(w[:half]), -0.5 * w[:half]])
    out["head.bias"] = torch.cat([torch.zeros_like(b[:half]), -0.5 * b[:half]])
    c4, c = state["bottleneck.0.0.weight"].shape[0], half // 4
    out["gain.weight"] = torch.zeros(c, c4, 1, 1)
    out["gain.bias"] = torch.zeros(c)
    return out
