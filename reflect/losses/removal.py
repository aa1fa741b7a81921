"""Losses known to work for single-image reflection removal, needing no downloaded weights.

- :func:`gradient_l1`: multi-scale L1 between image gradients (ERRNet, Wei et al. CVPR 2019): the
  residue of a reflection is mostly edges, which a plain L1 under-weights.
- :func:`exclusion`: the gradients of the transmission T and the reflection R should not coincide
  (Zhang, Ng & Chen, "Single Image Reflection Separation with Perceptual Losses", CVPR 2018).
- :func:`layer_reconstruction`: the input is the sum of the two layers, ``x = T + R``.
- :func:`face_region_l1`: L1 of the pixels and of the gradients inside known face boxes (a face is a
  few per cent of a window crop: without it the face's detail weighs as little as the dashboard's).
- :class:`BoxIdentityLoss`: face identity at known face boxes (the synthesiser knows them), with
  the torch port of dlib's face recogniser; no detector in the training loop.
- :class:`PerceptualLoss`: VGG-19 feature L1 from a weights file the user gives; absent, it is off.

Every function takes (B, C, H, W) tensors in [-1, 1] and returns an unweighted scalar.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from reflect.losses.reconstruction import graph_zero

log = logging.getLogger(__name__)


def _grad(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    return x[..., :, 1:] - x[..., :, :-1], x[..., 1:, :] - x[..., :-1, :]


def _pyramid(a: torch.Tensor, b: torch.Tensor, scales: int) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """``scales`` levels of both images, halving each time (2x2 mean), while at least 2 px remain."""
    for s in range(scales):
        if s:
            a, b = F.avg_pool2d(a, 2), F.avg_pool2d(b, 2)
        if min(a.shape[-2:]) < 2:
            return
        yield a, b


def _per_sample_weight(mask: torch.Tensor | None, x: torch.Tensor) -> torch.Tensor | None:
    return None if mask is None else mask.to(x.dtype).view(-1, *([1] * (x.dim() - 1)))


def _masked_mean(v: torch.Tensor, m: torch.Tensor | None) -> torch.Tensor:
    if m is None:
        return v.mean()
    return (v * m).sum() / (m.sum() * v[0].numel()).clamp_min(1.0)


def gradient_l1(pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor | None = None, scales: int = 3) -> torch.Tensor:
    """Mean over ``scales`` (halving each time) of the L1 between horizontal and vertical gradients.

    ``mask`` (B,) bool selects the samples that have a target (0, not NaN, when none do)."""
    m = _per_sample_weight(mask, pred)
    total = pred.new_zeros((), dtype=torch.float32)
    for p, t in _pyramid(pred.float(), target.float(), scales):
        (px, py), (tx, ty) = _grad(p), _grad(t)
        total = total + _masked_mean((px - tx).abs(), m) + _masked_mean((py - ty).abs(), m)
    return total / scales


def exclusion(t: torch.Tensor, r: torch.Tensor, scales: int = 3) -> torch.Tensor:
    """Zhang et al. 2018's exclusion loss: T's and R's gradients should not overlap.

    At each scale, ``|| tanh(|dT|) * tanh(lambda |dR|) ||`` (as a fourth root of the mean of the
    squared product, per direction), with ``lambda`` balancing the two layers' gradient magnitudes
    (computed without gradient, so the balance itself is not optimised away)."""
    total = t.new_zeros((), dtype=torch.float32)
    for tl, rl in _pyramid(t.float(), r.float(), scales):
        for gt, gr in zip(_grad(tl), _grad(rl), strict=True):
            with torch.no_grad():
                lam = 2.0 * gt.abs().mean() / gr.abs().mean().clamp_min(1e-6)
            prod = torch.tanh(gt.abs()) * torch.tanh(lam * gr.abs())
            total = total + (prod.pow(2).mean() + 1e-12).pow(0.25)
    return total / scales


def layer_reconstruction(x: torch.Tensor, t: torch.Tensor, r: torch.Tensor) -> torch.Tensor:
    """L1 between the input and the sum of the predicted layers, ``x = T + R``."""
    return (x.float() - (t.float() + r.float())).abs().mean()


def box_mask(boxes: torch.Tensor, counts: torch.Tensor, h: int, w: int) -> torch.Tensor:
    """(B, 1, h, w) float mask, 1 inside the first ``counts[b]`` of the (B, K, 4) pixel boxes
    (x1 y1 x2 y2; pixel centres inside count), 0 elsewhere. Static shapes, no host sync."""
    k = boxes.shape[1]
    valid = torch.arange(k, device=boxes.device).unsqueeze(0) < counts.to(boxes.device).reshape(-1, 1)  # (B, K)
    xs = torch.arange(w, device=boxes.device, dtype=torch.float32) + 0.5
    ys = torch.arange(h, device=boxes.device, dtype=torch.float32) + 0.5
    b = boxes.float()
    inx = (xs.view(1, 1, w) >= b[..., 0:1]) & (xs.view(1, 1, w) < b[..., 2:3])  # (B, K, w)
    iny = (ys.view(1, 1, h) >= b[..., 1:2]) & (ys.view(1, 1, h) < b[..., 3:4])  # (B, K, h)
    inside = iny.unsqueeze(3) & inx.unsqueeze(2) & valid.view(*valid.shape, 1, 1)  # (B, K, h, w)
    return inside.any(1, keepdim=True).float()


def face_region_l1(pred: torch.Tensor, target: torch.Tensor, boxes: torch.Tensor, counts: torch.Tensor,
                   scales: int = 2) -> torch.Tensor:
    """Mean L1 of the pixels and of the horizontal/vertical gradients (``scales`` levels, halving)
    inside the face boxes; 0 on the graph when no sample has a face."""
    m = box_mask(boxes, counts, pred.shape[-2], pred.shape[-1]).to(pred.device)
    p, t = pred.float(), target.float()
    total = p.new_zeros(())
    for s in range(scales):
        if s:
            p, t, m = F.avg_pool2d(p, 2), F.avg_pool2d(t, 2), F.avg_pool2d(m, 2)
        if min(p.shape[-2:]) < 2:
            break
        (px, py), (tx, ty) = _grad(p), _grad(t)
        mx, my = m[..., :, 1:] * m[..., :, :-1], m[..., 1:, :] * m[..., :-1, :]
        terms = [((p - t).abs(), m), ((px - tx).abs(), mx), ((py - ty).abs(), my)]
        for v, w in terms:
            total = total + (v * w).sum() / (w.sum() * v.shape[1]).clamp_min(1.0)
    return total / scales


class BoxIdentityLoss:
    """``1 - cos(E(crop(fake, box)), E(crop(target, box)))`` over known face boxes.

    Crops a square around each box (``margin`` of the box size added around it) to the
    embedder's chip size with ``torchvision.ops.roi_align`` (differentiable in the image), and
    embeds with the frozen torch port of dlib's face recogniser (``reflect.faces``); both crops share
    the box, so the comparison is like for like. Given 5 landmarks per face (``data.face_landmarks``),
    the chips are aligned to the recogniser's template instead, as recognition itself cuts them. ``max_faces`` bounds the cost
    (about 0.2 s per face on a CPU, forward): the first faces of the batch are used.

    A plain attribute of the variant (not a child module): never in state_dict or param groups.
    """

    def __init__(self, embedder: str = "dlib-torch", weights: str | None = None, margin: float = 0.15,
                 max_faces: int = 2) -> None:
        self.embedder_name, self.weights, self.margin, self.max_faces = embedder, weights, margin, max_faces
        self._embedder: Any = None

    def _get(self, device: torch.device) -> Any:
        from reflect.faces.embedders import make_embedder

        if self._embedder is None:
            self._embedder = make_embedder(self.embedder_name, device=device, weights=self.weights)
        elif hasattr(self._embedder, "to"):
            self._embedder.to(device)
        return self._embedder

    @staticmethod
    def zeros(like: torch.Tensor, features: bool = False, relative: bool = False) -> dict[str, torch.Tensor]:
        """The terms :meth:`terms` returns, each an exact zero on ``like``'s graph (no face to judge)."""
        zero = graph_zero(like)
        return dict.fromkeys(["face_id"] + ["face_features"] * features + ["face_relative"] * relative, zero)

    def __call__(self, fake: torch.Tensor, target: torch.Tensor, boxes: torch.Tensor, counts: torch.Tensor) -> torch.Tensor:
        """``boxes`` (B, K, 4) x1 y1 x2 y2 in pixels, ``counts`` (B,) how many of the K are real."""
        return self.terms(fake, target, boxes, counts)["face_id"]

    def terms(self, fake: torch.Tensor, target: torch.Tensor, boxes: torch.Tensor, counts: torch.Tensor,
              features: bool = False, inputs: torch.Tensor | None = None,
              relative_eps: float = 0.01, landmarks: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        """``face_id`` and, with ``features``, ``face_features`` from the same pass of the recogniser:
        the L1 distance of its residual stages' activations (35x35 to 3x3), each divided by the
        clean face's mean activation so that every stage counts alike. The recogniser's features
        are a perceptual loss that needs no downloaded weights and weighs what recognition sees:
        the descriptor alone is one 128-d vector per face, the stages judge every part of it.

        With ``inputs`` (the through-glass images), also ``face_relative``: each face's
        ``1 - cos`` after cleaning divided by the same before cleaning (plus ``relative_eps``).
        A face that was nearly clean weighs as much as one behind heavy glare, so the model
        learns that its own change must not cost more identity than the glass did; averaged,
        ``face_id`` is dominated by the strongest reflections. Below 1 means the face came closer.

        With ``landmarks`` (B, K, 5, 2; dlib's 5-point layout, the boxes' rows), each chip is cut
        as a recogniser cuts it: aligned to the embedder's template (``reflect.faces.align``),
        rotation and scale undone, instead of the square around the box."""
        from torchvision.ops import roi_align

        from reflect.faces.align import align_faces
        from reflect.faces.types import DLIB_5

        keys = [(b, k) for b in range(boxes.shape[0]) for k in range(int(counts[b]))
                if (boxes[b, k, 2] - boxes[b, k, 0]) >= 8 and (boxes[b, k, 3] - boxes[b, k, 1]) >= 8][: self.max_faces]
        if not keys:
            return self.zeros(fake, features, inputs is not None)
        embedder = self._get(fake.device)
        side = int(embedder.chip.size)
        if landmarks is not None:
            marks = torch.stack([landmarks[b, k] for b, k in keys]).float().to(fake.device)
            index = torch.tensor([b for b, _ in keys], device=fake.device)

            def chips(images: torch.Tensor) -> torch.Tensor:
                return align_faces(images.float(), marks, index, layout=DLIB_5, spec=embedder.chip)
        else:
            roi = torch.stack([torch.cat([torch.full((1,), float(b)), boxes[b, k].float().cpu()])
                               for b, k in keys]).to(fake.device)
            cx, cy = (roi[:, 1] + roi[:, 3]) / 2, (roi[:, 2] + roi[:, 4]) / 2
            half = torch.maximum(roi[:, 3] - roi[:, 1], roi[:, 4] - roi[:, 2]) * (0.5 + self.margin)
            roi = torch.stack([roi[:, 0], cx - half, cy - half, cx + half, cy + half], 1)

            def chips(images: torch.Tensor) -> torch.Tensor:
                return roi_align(images.float(), roi, (side, side), spatial_scale=1.0, sampling_ratio=2, aligned=True)

        chip_fake = chips(fake)
        with torch.no_grad():
            chip_real = chips(target)
            ref_stages, ref = embedder.features(chip_real) if features else ([], embedder.embed(chip_real))
            before = None if inputs is None else 1.0 - (embedder.embed(chips(inputs)) * ref).sum(dim=1)
        if features:
            stages, emb = embedder.features(chip_fake)
        else:
            stages, emb = [], embedder.embed(chip_fake)
        after = 1.0 - (emb * ref).sum(dim=1)
        out = {"face_id": after.mean()}
        if features:
            feat = sum(((f - r).abs().mean() / r.abs().mean().clamp_min(1e-6)
                        for f, r in zip(stages[:-1], ref_stages[:-1], strict=True)), fake.new_zeros(()))
            out["face_features"] = feat / (len(stages) - 1)
        if before is not None:
            out["face_relative"] = (after / (before.clamp_min(0.0) + relative_eps)).mean()
        return out


class PerceptualLoss(nn.Module):
    """L1 between VGG-19 features (relu1_2, relu2_2, relu3_2, relu4_2, relu5_2; ERRNet's choice),
    weighted 1/2.6, 1/4.8, 1/3.7, 1/5.6, 10/1.5, from a torchvision VGG-19 state-dict file.

    Weights are never downloaded: with no file, :meth:`available` is False and the loss is off
    (the caller logs one line). Frozen; kept out of the variant's state_dict by the caller."""

    LAYERS = (3, 8, 13, 22, 31)  # indices of relu1_2, relu2_2, relu3_2, relu4_2, relu5_2 in vgg19.features
    WEIGHTS = (1 / 2.6, 1 / 4.8, 1 / 3.7, 1 / 5.6, 10 / 1.5)

    def __init__(self, weights_path: str | Path) -> None:
        super().__init__()
        from torchvision.models import vgg19

        from reflect.errors import CheckpointError

        path = Path(weights_path)
        if not path.is_file():
            raise CheckpointError(f"VGG-19 weights file {path} does not exist")
        state = torch.load(path, map_location="cpu", weights_only=True)
        if isinstance(state, dict) and "state_dict" in state:
            state = state["state_dict"]
        net = vgg19(weights=None)
        try:
            net.load_state_dict(state)
        except (RuntimeError, TypeError) as e:
            raise CheckpointError(f"{path} is not a torchvision VGG-19 state dict: {str(e).splitlines()[0][:200]}") from None
        self.features = net.features[: self.LAYERS[-1] + 1].eval().requires_grad_(False)
        self.register_buffer("mean", torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1), persistent=False)

    def forward(self, pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        mean, std = self.get_buffer("mean"), self.get_buffer("std")
        x = torch.cat([pred.float(), target.float()]).add(1).div(2).sub(mean).div(std)
        m = _per_sample_weight(mask, pred)
        total, n = x.new_zeros(()), pred.shape[0]
        for i, layer in enumerate(self.features):
            x = layer(x)
            if i in self.LAYERS:
                w = self.WEIGHTS[self.LAYERS.index(i)]
                total = total + w * _masked_mean((x[:n] - x[n:].detach()).abs(), m)
        return total


def no_reflection(x: torch.Tensor, t: torch.Tensor, r: torch.Tensor | None, free: torch.Tensor) -> torch.Tensor:
    """Do no harm: on reflection-free samples (``free``, (B,) bool) the output equals the input and no
    reflection is predicted: ``L1(T, x) + mean(|R|)`` over those samples (zero, with a gradient, when
    the batch has none). ``x``, ``t``: (B, C, H, W) in [-1, 1]; ``r`` in the same units or None."""
    if not bool(free.any()):
        return graph_zero(t)
    loss = (t[free] - x[free]).abs().mean()
    if r is not None:
        loss = loss + r[free].abs().mean()
    return loss
