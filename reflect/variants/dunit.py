"""DUNIT (Bhattacharjee, Kim, Vizier & Salzmann, "DUNIT: Detection-based Unsupervised Image-to-Image
Translation", CVPR 2020) on top of UNIT: the faces are instances, translated with their own
features and fused back into the global image features.

Paper -> code: the global content encoder is UNIT's E_1 (``enc_a`` + ``enc_shared``); the instance
features are ``roi_align`` crops (S x S, ``roi_size``) of that content map at the face boxes,
refined by the instance encoder ``inst_enc``; the fusion pastes each instance feature back at its
box (a bilinear warp built from the box, ``grid_sample``, times a soft box mask) and adds it to the
global map; UNIT's decoder G_2 decodes the fused map. The last layer of ``inst_enc`` starts at
zero, so the model starts as UNIT and a frame with no face is translated by the global path alone
(bit for bit what UNIT's weights give).

Boxes: (B, K, 4) x1 y1 x2 y2 in the input's pixels and a count (B,) of real rows. Training takes
them from the batch (``faces_box``/``faces_n``: the synthesiser's boxes; no detector in the
training loop); a batch without boxes trains the global path only. :meth:`translate` runs a face
detector when no boxes are given (``face_detector``: ``mtcnn`` by default, ``retinaface`` with
``face_detector_weights``, ``dlib-hog``, ``none``), built on first use and never in the state dict.
Every shape in the instance branch is static in K (``max_instances`` at export), so the exported
ONNX graph takes ``boxes`` and ``count`` as inputs and detection stays outside it.

Instance consistency ``instance``: the original code compares detections on post-NMS boxes wrapped
in a new tensor, which carries no gradient. Here the content features of the translated image
(``enc_b`` of ``fake_b``, already computed for UNIT's cycle) are ROI-aligned at the same boxes as
the input's and kept close (L1), so the loss reaches every generator layer through ``fake_b``.
Instance-level losses (the global objectives applied again at the instances, as INIT, Shen et al.
2019, trains its instance branch): ``instance_rec``, L1 of pixels and gradients inside the face boxes
between A and its self and cycle reconstructions; ``instance_sup`` (with ``lambda_sup`` > 0), the same
between the translation and the paired clean target. They give the face's few per cent of the
pixels the weight the final use (face recognition) gives it.
With ``lambda_face`` > 0 the identity loss also uses the known boxes (dlib ResNet embeddings of
the input's and the translation's face crops) instead of a detector.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, ClassVar

import torch
from torch import nn
from torch.nn import functional as F
from torchvision.ops import roi_align

from reflect import losses
from reflect.errors import ConfigError
from reflect.losses import application
from reflect.losses.removal import face_region_l1
from reflect.nn import SharedResBlocks, crop_to, init_weights, pad_to_multiple, reparameterize
from reflect.registry import register
from reflect.variants.base import params_of
from reflect.variants.unit import UNIT, UNITConfig

DETECTOR_CHOICES = ("mtcnn", "retinaface", "dlib-hog", "dlib-cnn", "none")


@dataclass
class DUNITConfig(UNITConfig):
    roi_size: int = 8  # S: instance features are S x S ROIAlign crops of the content map
    n_inst_res: int = 2  # residual blocks of the instance encoder
    max_instances: int = 2  # K: box slots of the exported graph (and of detections at translate time)
    feather: float = 1.0  # soft-mask ramp at the box edges, in content-map pixels
    lambda_inst: float = 1.0  # instance consistency (not given in the paper's text; ours)
    lambda_inst_rec: float = (
        10.0  # instance-level self + cycle reconstruction of A's faces (UNIT's recon weight)
    )
    lambda_inst_sup: float = (
        1.0  # instance-level L1 to the paired target at the faces (only when lambda_sup > 0)
    )
    fuse_instances: bool = (
        True  # False: the instance losses only, no fusion (an ablation: UNIT + instance losses)
    )
    face_max_faces: int = 2  # faces per batch for the box identity loss (when lambda_face > 0)
    #: translate-time detectors; 'none' runs the global path alone (checked at config load)
    face_detector_choices: ClassVar[tuple[str, ...]] = DETECTOR_CHOICES


@register("dunit")
class DUNIT(UNIT):
    Config = DUNITConfig
    generator_modules: ClassVar[tuple[str, ...]] = (*UNIT.generator_modules, "inst_enc")
    reconstruction_losses: ClassVar[tuple[str, ...]] = UNIT.reconstruction_losses
    known_face_boxes: ClassVar[bool] = True  # face identity at the batch's boxes (no detector in training)

    def __init__(self, cfg: DUNITConfig) -> None:
        if cfg.face_detector not in DETECTOR_CHOICES:
            raise ConfigError(
                f"dunit: face_detector {cfg.face_detector!r} is not one of {', '.join(DETECTOR_CHOICES)}"
            )
        if cfg.roi_size < 1 or cfg.max_instances < 1:
            raise ConfigError(
                f"dunit: roi_size ({cfg.roi_size}) and max_instances ({cfg.max_instances}) must be >= 1"
            )
        super().__init__(cfg)
        self.cfg: DUNITConfig = cfg
        latent = self.enc_a.out_channels
        self.inst_enc = nn.Sequential(SharedResBlocks(latent, cfg.n_inst_res), nn.Conv2d(latent, latent, 1))
        init_weights(self.inst_enc, cfg.init, cfg.init_gain)
        for p in self.inst_enc[-1].parameters():  # starts as UNIT: no instance contribution
            nn.init.zeros_(p)
        self.__dict__["_detector"] = None  # plain attribute: never a submodule, never in state_dict

    @classmethod
    def default_loss_weights(cls, cfg: UNITConfig) -> dict[str, float]:
        w = super().default_loss_weights(cfg) | {"instance": getattr(cfg, "lambda_inst", 1.0)}
        inst_rec, inst_sup = getattr(cfg, "lambda_inst_rec", 0.0), getattr(cfg, "lambda_inst_sup", 0.0)
        if inst_rec > 0:
            w["instance_rec"] = inst_rec
        if cfg.lambda_sup > 0 and inst_sup > 0:
            w["instance_sup"] = inst_sup
        return w

    def param_groups(self) -> dict[str, list[torch.nn.Parameter]]:
        groups = super().param_groups()
        return groups | {"generator": groups["generator"] + params_of(self.inst_enc)}

    # ---- the instance branch -----------------------------------------------------------------
    def roi(self, feat: torch.Tensor, boxes: torch.Tensor) -> torch.Tensor:
        """ROIAlign at every box slot: (B, C, h, w) content map, (B, K, 4) pixel boxes -> (B*K, C, S, S)."""
        b, k = boxes.shape[0], boxes.shape[1]
        idx = torch.arange(b, device=feat.device, dtype=feat.dtype).repeat_interleave(k).unsqueeze(1)
        rois = torch.cat([idx, boxes.reshape(-1, 4).to(feat.dtype)], 1)
        s = self.cfg.roi_size
        return roi_align(
            feat, rois, (s, s), spatial_scale=1.0 / self.enc_a.stride, sampling_ratio=2, aligned=True
        )

    def valid(self, boxes: torch.Tensor, count: torch.Tensor) -> torch.Tensor:
        """(B, K) float: 1 for the first ``count`` rows of each image, 0 for the unused slots."""
        k = boxes.shape[1]
        slots = torch.arange(k, device=boxes.device).unsqueeze(0)
        return (slots < count.to(boxes.device).reshape(-1, 1)).to(boxes.dtype)

    def paste(
        self, inst: torch.Tensor, boxes: torch.Tensor, valid: torch.Tensor, h: int, w: int
    ) -> torch.Tensor:
        """Warp each (C, S, S) instance feature onto its box of an (h, w) map, under a soft box mask,
        and sum over the K slots: (B*K, C, S, S) -> (B, C, h, w). Static in K, so it exports."""
        fb = boxes.reshape(-1, 4).to(inst.dtype) / self.enc_a.stride  # content-map pixels
        x1, y1 = fb[:, 0:1], fb[:, 1:2]
        bw, bh = (fb[:, 2:3] - x1).clamp_min(1.0), (fb[:, 3:4] - y1).clamp_min(1.0)
        xs = torch.arange(w, device=inst.device, dtype=inst.dtype).unsqueeze(0) + 0.5  # pixel centres
        ys = torch.arange(h, device=inst.device, dtype=inst.dtype).unsqueeze(0) + 0.5
        gx, gy = (xs - x1) / bw * 2 - 1, (ys - y1) / bh * 2 - 1  # (BK, w), (BK, h): -1..1 across the box
        grid = torch.stack([gx.unsqueeze(1).expand(-1, h, -1), gy.unsqueeze(2).expand(-1, -1, w)], dim=-1)
        warped = F.grid_sample(inst, grid, mode="bilinear", padding_mode="border", align_corners=False)
        f = self.cfg.feather
        mx = ((1 - gx.abs()) * bw / (2 * f)).clamp(0, 1)  # distance to the nearest edge / feather
        my = ((1 - gy.abs()) * bh / (2 * f)).clamp(0, 1)
        mask = my.unsqueeze(2) * mx.unsqueeze(1) * valid.reshape(-1, 1, 1)  # (BK, h, w)
        k = boxes.shape[1]
        return (warped * mask.unsqueeze(1)).reshape(-1, k, inst.shape[1], h, w).sum(1)

    def fuse(self, mu: torch.Tensor, boxes: torch.Tensor, count: torch.Tensor) -> torch.Tensor:
        """The global content map plus the instance features pasted back at their boxes."""
        if not self.cfg.fuse_instances:
            return mu
        inst = self.inst_enc(self.roi(mu, boxes))
        return mu + self.paste(inst, boxes, self.valid(boxes, count), mu.shape[-2], mu.shape[-1])

    def instance_consistency(
        self, mu_a: torch.Tensor, mu_ab: torch.Tensor, boxes: torch.Tensor, count: torch.Tensor
    ) -> torch.Tensor:
        """Mean L1 between the input's and the translation's content at the same boxes (valid ones)."""
        v = self.valid(boxes, count).reshape(-1).to(mu_a.dtype)
        per = (self.roi(mu_ab, boxes) - self.roi(mu_a, boxes)).abs().mean(dim=(1, 2, 3))
        return (per * v).sum() / v.sum().clamp_min(1.0)

    @staticmethod
    def batch_boxes(batch: dict[str, Any]) -> tuple[torch.Tensor, torch.Tensor] | None:
        if "faces_box" not in batch:
            return None
        boxes = batch["faces_box"]
        return boxes, batch["faces_n"].to(boxes.device)

    # ---- contract ----------------------------------------------------------------------------
    def generate(self, batch: dict[str, Any]) -> dict[str, torch.Tensor]:
        """UNIT's forward with the A-side code fused with its face instances (both the A -> B
        translation and A's reconstruction decode the fused code)."""
        real_a, real_b = batch["A"], batch["B"]
        content_a, mu_b = self.encode(real_a, "A"), self.encode(real_b, "B")
        bx = self.batch_boxes(batch)
        mu_a = content_a if bx is None else self.fuse(content_a, *bx)
        h_a, h_b = self.dec_shared(reparameterize(mu_a)), self.dec_shared(reparameterize(mu_b))
        fake_a, fake_b = self.dec_a(h_b), self.dec_b(h_a)
        mu_ab, mu_ba = self.encode(fake_b, "B"), self.encode(fake_a, "A")
        return {
            "content_a": content_a,
            "mu_a": mu_a,
            "mu_b": mu_b,
            "fake_a": fake_a,
            "fake_b": fake_b,
            "mu_ab": mu_ab,
            "mu_ba": mu_ba,
            "recon_a": self.dec_a(h_a),
            "recon_b": self.dec_b(h_b),
            "cycle_a": self.decode(reparameterize(mu_ab), "A"),
            "cycle_b": self.decode(reparameterize(mu_ba), "B"),
        }

    def generator_losses(
        self, batch: dict[str, Any], outputs: dict[str, torch.Tensor]
    ) -> dict[str, torch.Tensor]:
        out = super().generator_losses(batch, outputs)
        bx = self.batch_boxes(batch)
        zero = losses.graph_zero(outputs["fake_b"])  # no boxes: the global path only
        out["instance"] = (
            zero if bx is None else self.instance_consistency(outputs["content_a"], outputs["mu_ab"], *bx)
        )
        if self.cfg.lambda_inst_rec > 0:
            out["instance_rec"] = (
                zero
                if bx is None
                else (
                    face_region_l1(outputs["recon_a"], batch["A"], *bx)
                    + face_region_l1(outputs["cycle_a"], batch["A"], *bx)
                )
            )
        return out

    def application_terms(self) -> application.Terms:
        """The contract's terms plus ``instance_sup`` (the face region of the paired target, with
        ``lambda_sup`` > 0); face identity at the known boxes compares with the input."""
        c = self.cfg
        region = "instance_sup" if c.lambda_sup > 0 and c.lambda_inst_sup > 0 else ""
        return dataclasses.replace(super().application_terms(), face_region=region, face_reference="input")

    def translate(
        self,
        x: torch.Tensor,
        target: str | None = None,
        boxes: torch.Tensor | None = None,
        count: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """(B, 3, H, W) in [-1, 1] -> same shape. A -> B fuses the faces at ``boxes`` (B, K, 4) pixel
        x1 y1 x2 y2, ``count`` (B,) rows used; no boxes: the configured detector finds them."""
        if target == "A" or target not in (None, "B"):
            return super().translate(x, target)  # B -> A (global path), or UNIT's error
        if boxes is None:
            boxes, count = self.detect(x)
        elif count is None:
            count = torch.full((boxes.shape[0],), boxes.shape[1], dtype=torch.long, device=boxes.device)
        h, w = x.shape[-2], x.shape[-1]
        mu = self.encode(pad_to_multiple(x, self.enc_a.stride), "A")
        if boxes.shape[1] > 0:
            mu = self.fuse(mu, boxes.to(x.device, x.dtype), count)
        return crop_to(self.decode(mu, "B"), h, w)

    # ---- translate-time detection (never in the ONNX graph) ----------------------------------
    def detector(self) -> Any:
        if self.__dict__["_detector"] is None:
            from reflect.faces.detectors import make_detector

            c = self.cfg
            kwargs: dict[str, Any] = {"min_size": c.face_min_size}
            if c.face_detector == "retinaface":
                kwargs["weights"] = c.face_detector_weights or None
            self.__dict__["_detector"] = make_detector(c.face_detector, **kwargs)
        return self.__dict__["_detector"]

    @torch.no_grad()
    def detect(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Faces in ``x`` (B, 3, H, W): boxes (B, K', 4) of the ``max_instances`` best-scoring ones
        (K' = the most found in one image, 0 when none) and the count per image."""
        n, k = x.shape[0], self.cfg.max_instances
        if self.cfg.face_detector == "none":
            return x.new_zeros(n, 0, 4), torch.zeros(n, dtype=torch.long)
        found = self.detector().detect(x)
        boxes, counts = x.new_zeros(n, k, 4), torch.zeros(n, dtype=torch.long)
        for i, faces in enumerate(found):
            order = faces.scores.argsort(descending=True)[:k]
            counts[i] = len(order)
            if len(order):
                b = faces.boxes[order].to(x.device, x.dtype)
                b[:, 0::2] = b[:, 0::2].clamp(0, x.shape[-1])
                b[:, 1::2] = b[:, 1::2].clamp(0, x.shape[-2])
                boxes[i, : len(order)] = b
        return boxes[:, : int(counts.max()) if n else 0], counts.to(x.device)

    def export_module(self, target: str | None = None) -> nn.Module:
        """``forward(x, boxes=None, count=None)``: boxes (N, K, 4) and count (N,) int64 fuse the faces;
        without them, the global path (a graph with the image as its only input)."""
        return _DunitExport(self) if target in (None, "B") else super().export_module(target)


class _DunitExport(nn.Module):
    def __init__(self, variant: DUNIT) -> None:
        super().__init__()
        self.variant = variant
        self.box_slots = variant.cfg.max_instances  # deploy/export.py adds the boxes and count inputs

    def forward(
        self, x: torch.Tensor, boxes: torch.Tensor | None = None, count: torch.Tensor | None = None
    ) -> torch.Tensor:
        v = self.variant
        if boxes is None:
            return UNIT.translate(v, x)
        if count is None:
            count = torch.full((boxes.shape[0],), boxes.shape[1], dtype=torch.long, device=boxes.device)
        return v.translate(x, boxes=boxes, count=count)
