"""The application's own losses: what reflection removal is for, judged the same way for every variant.

They judge a variant's A -> clean output (``clean``: (B, 3, H, W) in [-1, 1], with grad), never its
GAN objective. The variant contract (:meth:`reflect.variants.base.Variant.application_losses`) calls
:func:`application_losses`; a variant only says which of the terms it takes (:class:`Terms`, from
:meth:`~reflect.variants.base.Variant.application_terms`).

- ``supervised``: L1 to the paired target ``batch["A_target"]``, on the samples with ``has_target``
  only (``lambda_sup``);
- the face region (named by the variant: the remover's ``face_region``, DUNIT's ``instance_sup``): L1
  of the pixels and gradients inside the known face boxes (``faces_box``/``faces_n``) against the
  paired target, paired samples only (:func:`~reflect.losses.removal.face_region_l1`);
- ``face_id``: 1 - cos of face descriptors, either at the faces a detector finds in the source images
  (:class:`~reflect.losses.identity.FaceIdentityLoss`) or at the batch's known face boxes
  (:class:`~reflect.losses.removal.BoxIdentityLoss`), against the paired target (paired samples only)
  or against the input; at the boxes, ``face_features`` and ``face_relative`` come from the same pass.

A term whose batch has nothing to judge (no target, no face box) is an exact zero on the graph.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import torch

from reflect.losses.reconstruction import graph_zero, masked_l1
from reflect.losses.removal import face_region_l1

Identity = Literal["", "detected", "boxes"]
Reference = Literal["target", "input"]


@dataclass(frozen=True)
class Terms:
    """Which application losses a variant's generator phase returns, and how they are computed."""

    supervised: bool = False  # "supervised" (lambda_sup > 0)
    face_region: str = ""  # the name of the L1 inside the known face boxes ("" = none)
    face_id: Identity = ""  # "face_id": at detected faces, at the batch's boxes, or none
    face_reference: Reference = "target"  # what the identity at the boxes compares the clean faces with
    face_features: bool = False  # "face_features" (boxes only, the recogniser's stage activations)
    face_relative: bool = False  # "face_relative" (boxes only, the loss after over before cleaning)
    relative_eps: float = 0.01  # added to the before-cleaning loss of face_relative
    face_probability: float = 1.0  # share of steps that compute the identity at the boxes (the rest: 0)

    @property
    def any(self) -> bool:
        return self.supervised or bool(self.face_region) or bool(self.face_id)


def paired(batch: dict[str, Any], like: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(target, has): the paired targets (``like`` where the batch has none) and the (B,) bool mask
    of the samples that have one (all False without ``has_target``)."""
    has = batch.get("has_target", torch.zeros(like.shape[0], dtype=torch.bool))
    return batch.get("A_target", like), has.to(like.device)


def supervised(clean: torch.Tensor, batch: dict[str, Any]) -> torch.Tensor:
    """Mean L1 of the clean output to the paired target over the paired samples (0 without any)."""
    if "A_target" not in batch:
        return graph_zero(clean)
    target, has = paired(batch, clean)
    return masked_l1(clean, target, has)


def face_region(clean: torch.Tensor, batch: dict[str, Any]) -> torch.Tensor:
    """Pixel and gradient L1 to the paired target inside the known face boxes of the paired samples."""
    if "faces_box" not in batch or "A_target" not in batch:
        return graph_zero(clean)
    target, has = paired(batch, clean)
    counts = batch["faces_n"].to(clean.device) * has.long()
    return face_region_l1(clean, target, batch["faces_box"], counts)


def box_identity(
    loss: Any, clean: torch.Tensor, batch: dict[str, Any], terms: Terms
) -> dict[str, torch.Tensor]:
    """``face_id`` (and ``face_features``/``face_relative`` when on) at the batch's face boxes, from
    one pass of ``loss`` (a :class:`~reflect.losses.removal.BoxIdentityLoss`)."""
    features, relative = terms.face_features, terms.face_relative
    p = terms.face_probability
    if "faces_box" not in batch or (p < 1.0 and float(torch.rand(())) >= p):
        return dict(loss.zeros(clean, features, relative))
    x = batch["A"]
    counts = batch["faces_n"].to(clean.device)
    if terms.face_reference == "target":  # the clean face of a paired sample
        reference, has = paired(batch, x)
        counts = counts * has.long()
    else:  # the face through the glass: the same person, whatever the translation did to the rest
        reference = x
    found = loss.terms(
        clean.clamp(-1, 1),
        reference,
        batch["faces_box"],
        counts,
        features=features,
        inputs=x if relative else None,
        relative_eps=terms.relative_eps,
        landmarks=batch.get("faces_lm"),
    )
    return dict(found)


def application_losses(
    terms: Terms, clean: torch.Tensor, batch: dict[str, Any], source: torch.Tensor, identity: Any = None
) -> dict[str, torch.Tensor]:
    """The named, unweighted application losses ``terms`` asks for, on ``clean`` (the A -> clean
    images made from ``source``). ``identity`` is the variant's frozen face-identity loss
    (:func:`make_identity_loss`), needed when ``terms.face_id`` is set."""
    out: dict[str, torch.Tensor] = {}
    if terms.supervised:
        out["supervised"] = supervised(clean, batch)
    if terms.face_region:
        out[terms.face_region] = face_region(clean, batch)
    if terms.face_id == "detected":
        out["face_id"] = identity(clean, source)  # faces found in the source, same landmarks on clean
    elif terms.face_id == "boxes":
        out |= box_identity(identity, clean, batch, terms)
    return out


def make_identity_loss(cfg: Any, known_boxes: bool) -> Any:
    """The frozen face-identity loss of a variant config (``face_*`` fields): ``loss(clean, source)``
    at detected faces (:class:`~reflect.losses.identity.FaceIdentityLoss`), or with ``known_boxes`` a
    :class:`~reflect.losses.removal.BoxIdentityLoss` (no detector)."""
    from reflect.errors import ConfigError
    from reflect.faces.detectors import DETECTORS
    from reflect.losses.identity import FaceIdentityLoss
    from reflect.losses.removal import BoxIdentityLoss

    if known_boxes:
        return BoxIdentityLoss(
            cfg.face_embedder,
            cfg.face_embedder_weights or None,
            max_faces=int(getattr(cfg, "face_max_faces", 2)),
        )
    if cfg.face_detector not in DETECTORS:
        raise ConfigError(f"face_detector {cfg.face_detector!r} is not one of {', '.join(DETECTORS)}")
    if cfg.face_embedder not in ("dlib-torch", "facenet"):
        raise ConfigError(
            f"face_embedder {cfg.face_embedder!r} must be differentiable: dlib-torch or facenet"
        )
    return FaceIdentityLoss(
        cfg.face_detector,
        cfg.face_embedder,
        cfg.face_min_size,
        detector_weights=cfg.face_detector_weights or None,
        embedder_weights=cfg.face_embedder_weights or None,
    )
