"""Face terms at known face boxes (the synthesiser knows where the faces are), for reflection removal:

- :func:`face_region_l1`: L1 of the pixels and of the gradients inside known face boxes (a face is a
  few per cent of a window crop: without it the face's detail weighs as little as the dashboard's).
- :func:`no_worse` / :func:`face_no_worse`: the image (or the face) must not come out worse than through
  the glass: its L1 error above the input's, relative to the input's (zero wherever cleaning helped).
- :class:`BoxIdentityLoss`: face identity at known face boxes, with the torch port of dlib's face
  recogniser; no detector in the training loop.

The layer losses are in :mod:`reflect.losses.layers`, the VGG loss in :mod:`reflect.losses.perceptual`.
Every function takes (B, C, H, W) tensors in [-1, 1] and returns an unweighted scalar.
"""

from __future__ import annotations

from typing import Any

import torch
from torch.nn import functional as F

from reflect.losses.layers import image_gradients
from reflect.losses.reconstruction import graph_zero


def box_mask(boxes: torch.Tensor, counts: torch.Tensor, h: int, w: int) -> torch.Tensor:
    """(B, 1, h, w) float mask, 1 inside the first ``counts[b]`` of the (B, K, 4) pixel boxes
    (x1 y1 x2 y2; pixel centres inside count), 0 elsewhere. Static shapes, no host sync."""
    k = boxes.shape[1]
    valid = torch.arange(k, device=boxes.device).unsqueeze(0) < counts.to(boxes.device).reshape(
        -1, 1
    )  # (B, K)
    xs = torch.arange(w, device=boxes.device, dtype=torch.float32) + 0.5
    ys = torch.arange(h, device=boxes.device, dtype=torch.float32) + 0.5
    b = boxes.float()
    inx = (xs.view(1, 1, w) >= b[..., 0:1]) & (xs.view(1, 1, w) < b[..., 2:3])  # (B, K, w)
    iny = (ys.view(1, 1, h) >= b[..., 1:2]) & (ys.view(1, 1, h) < b[..., 3:4])  # (B, K, h)
    inside = iny.unsqueeze(3) & inx.unsqueeze(2) & valid.view(*valid.shape, 1, 1)  # (B, K, h, w)
    return inside.any(1, keepdim=True).float()


def face_region_l1(
    pred: torch.Tensor, target: torch.Tensor, boxes: torch.Tensor, counts: torch.Tensor, scales: int = 2
) -> torch.Tensor:
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
        (px, py), (tx, ty) = image_gradients(p), image_gradients(t)
        mx, my = m[..., :, 1:] * m[..., :, :-1], m[..., 1:, :] * m[..., :-1, :]
        terms = [((p - t).abs(), m), ((px - tx).abs(), mx), ((py - ty).abs(), my)]
        for v, w in terms:
            total = total + (v * w).sum() / (w.sum() * v.shape[1]).clamp_min(1.0)
    return total / scales


def no_worse(
    pred: torch.Tensor,
    x: torch.Tensor,
    target: torch.Tensor,
    mask: torch.Tensor,
    eps: float = 0.02,
    per_channel: bool = False,
) -> torch.Tensor:
    """Never worse than the glass: per sample with some of ``mask`` (B, 1, H, W), ``relu(e(pred) - e(x)) /
    (e(x) + eps)`` where ``e`` is the mean L1 to ``target`` under the mask; the mean over those samples
    (0 on the graph without any). Zero wherever cleaning helped; a sample made worse costs in proportion to
    how little the glass had hurt it, which a plain L1 does not see (a faint reflection leaves little error,
    and darkening that image by a few grey levels costs almost nothing).

    ``per_channel``: the hinge per colour channel, then averaged. Pooled over the channels, a model that
    removes a grey reflection where the glass added a blue one (taking 7 levels of red from a face whose
    red the glass had barely touched) scores as no worse, since the blue it rightly removed outweighs the
    red it wrongly took; per channel, the red is charged."""
    m = mask.to(pred.device, pred.dtype)
    dims = (2, 3) if per_channel else (1, 2, 3)
    area = (m.sum(dims) * (1 if per_channel else pred.shape[1])).clamp_min(1.0)
    e_out = ((pred.float() - target.float()).abs() * m).sum(dims) / area
    e_in = (((x.float() - target.float()).abs() * m).sum(dims) / area).detach()
    has = (m.flatten(1).amax(1) > 0).float()
    worse = torch.relu(e_out - e_in) / (e_in + eps)
    if per_channel:
        worse = worse.mean(1)
    return (worse * has).sum() / has.sum().clamp_min(1.0)


def face_no_worse(
    pred: torch.Tensor,
    x: torch.Tensor,
    target: torch.Tensor,
    boxes: torch.Tensor,
    counts: torch.Tensor,
    eps: float = 0.02,
    per_channel: bool = False,
) -> torch.Tensor:
    """:func:`no_worse` inside the face boxes (``boxes`` (B, K, 4), the first ``counts[b]`` real): the
    face never comes out worse than through the glass, however faint the reflection."""
    mask = box_mask(boxes, counts, pred.shape[-2], pred.shape[-1])
    return no_worse(pred, x, target, mask, eps, per_channel)


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

    def __init__(
        self,
        embedder: str = "dlib-torch",
        weights: str | None = None,
        margin: float = 0.15,
        max_faces: int = 2,
    ) -> None:
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

    def __call__(
        self, fake: torch.Tensor, target: torch.Tensor, boxes: torch.Tensor, counts: torch.Tensor
    ) -> torch.Tensor:
        """``boxes`` (B, K, 4) x1 y1 x2 y2 in pixels, ``counts`` (B,) how many of the K are real."""
        return self.terms(fake, target, boxes, counts)["face_id"]

    def terms(
        self,
        fake: torch.Tensor,
        target: torch.Tensor,
        boxes: torch.Tensor,
        counts: torch.Tensor,
        features: bool = False,
        inputs: torch.Tensor | None = None,
        relative_eps: float = 0.01,
        landmarks: torch.Tensor | None = None,
    ) -> dict[str, torch.Tensor]:
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

        keys = [
            (b, k)
            for b in range(boxes.shape[0])
            for k in range(int(counts[b]))
            if (boxes[b, k, 2] - boxes[b, k, 0]) >= 8 and (boxes[b, k, 3] - boxes[b, k, 1]) >= 8
        ][: self.max_faces]
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
            roi = torch.stack(
                [torch.cat([torch.full((1,), float(b)), boxes[b, k].float().cpu()]) for b, k in keys]
            ).to(fake.device)
            cx, cy = (roi[:, 1] + roi[:, 3]) / 2, (roi[:, 2] + roi[:, 4]) / 2
            half = torch.maximum(roi[:, 3] - roi[:, 1], roi[:, 4] - roi[:, 2]) * (0.5 + self.margin)
            roi = torch.stack([roi[:, 0], cx - half, cy - half, cx + half, cy + half], 1)

            def chips(images: torch.Tensor) -> torch.Tensor:
                return roi_align(
                    images.float(), roi, (side, side), spatial_scale=1.0, sampling_ratio=2, aligned=True
                )

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
            feat = sum(
                (
                    (f - r).abs().mean() / r.abs().mean().clamp_min(1e-6)
                    for f, r in zip(stages[:-1], ref_stages[:-1], strict=True)
                ),
                fake.new_zeros(()),
            )
            out["face_features"] = feat / (len(stages) - 1)
        if before is not None:
            out["face_relative"] = (after / (before.clamp_min(0.0) + relative_eps)).mean()
        return out
