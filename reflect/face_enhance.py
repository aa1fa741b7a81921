"""Face enhancement: each face is cleaned again by a face-specialised generator, at the scale and pose
that generator was trained on, and pasted back over the globally cleaned image.

For every face a detector finds (on the globally cleaned image, where faces are easier to find than
through the glass), the 5 landmarks give a similarity transform to dlib's mean-face template
(:mod:`reflect.faces.align`); the face is cut from the **original** image into a ``chip`` x ``chip``
crop (the face model was trained on such crops of windshield renders, ``data.face_chip``), cleaned,
and warped back with the inverse transform. A feathered mask (a rounded square that falls smoothly
to zero over ``feather`` of the chip towards its border) blends it into the global result, so no
seam shows; everything outside the chip stays as the global model made it. Faces whose eyes are
closer than ``min_eye_distance`` pixels are left alone (too small to gain anything), as are images
where no face is found.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from reflect.faces.align import ChipSpec, align_faces, similarity_chip_to_image, template_points
from reflect.faces.types import DLIB_5, Faces

log = logging.getLogger(__name__)

PADDING = 0.25  # dlib's chip padding: the face model's training chips (reflect.data.synthetic) use it too


#: Said when --enhance-faces uses the shipped face model (measured in reflect/bundled/MODEL_CARD.md).
BUNDLED_FACE_MODEL_WARNING = (
    "the bundled face model (--enhance-faces) was trained on the project's own windshield recipe; on glass and "
    "scenes it never saw it moved faces away from their identity (model card, 'The face model'): use it only "
    "where your own evaluation shows a gain, or give your own with --face-model"
)


def eye_distance(faces: Faces) -> torch.Tensor:
    """(N,) distance between the eye centres, in pixels, for either landmark layout."""
    lm = faces.landmarks.float()
    if faces.layout == DLIB_5:
        left, right = lm[:, 0:2].mean(1), lm[:, 2:4].mean(1)
    else:
        left, right = lm[:, 0], lm[:, 1]
    return (left - right).norm(dim=1)


def feather_mask(size: int, feather: float) -> torch.Tensor:
    """(1, 1, size, size) in [0, 1]: 1 inside, a smoothstep to 0 over ``feather * size`` pixels at the border."""
    u = torch.arange(size, dtype=torch.float32) + 0.5
    d = torch.minimum(u, size - u) / max(feather * size, 1e-6)
    ramp = d.clamp(0, 1)
    ramp = ramp * ramp * (3 - 2 * ramp)
    return (ramp[:, None] * ramp[None, :])[None, None]


@dataclass
class EnhanceStats:
    """What :meth:`FaceEnhancer.enhance` did: faces found, enhanced, skipped as too small."""

    found: int = 0
    enhanced: int = 0
    too_small: int = 0
    per_image: list[int] = field(default_factory=list)

    def add(self, other: EnhanceStats) -> None:
        self.found += other.found
        self.enhanced += other.enhanced
        self.too_small += other.too_small
        self.per_image += other.per_image


class FaceEnhancer:
    """``enhance(original, cleaned) -> (image, stats)`` with a face model (any reflect variant that
    translates aligned chips) and a face detector (``reflect.faces.detectors``)."""

    def __init__(
        self,
        model: Any,
        detector: Any,
        *,
        chip: int = 128,
        min_eye_distance: float = 12.0,
        feather: float = 0.18,
        target: str | None = None,
    ) -> None:
        self.model, self.detector = model, detector
        self.spec = ChipSpec(chip, PADDING)
        self.min_eye_distance, self.target = min_eye_distance, target
        self.mask = feather_mask(chip, feather)
        self.source = ""  # the face model's file, when loaded from one

    @classmethod
    def load(
        cls, model: str | Path | None = None, detector: str = "mtcnn", device: str = "cpu", **kwargs: Any
    ) -> FaceEnhancer:
        """The face model from a generator file or checkpoint (default: the bundled face model); its
        chip size is read from the file's training config (``data.face_chip``)."""
        from reflect.bundled import face_model_path
        from reflect.errors import CheckpointError
        from reflect.faces.detectors import make_detector
        from reflect.loader import load_variant

        path = Path(model) if model else face_model_path()
        if not path.exists():
            raise CheckpointError(f"face model {path} does not exist (give one with --face-model)")
        variant, cfg = load_variant(path, device=device, option="--face-model")
        chip = int(getattr(cfg.data, "face_chip", 0) or kwargs.pop("chip", 128))
        log.info("face enhancement: %s (%d px chips), detector %s", path, chip, detector)
        if not model:
            log.warning(BUNDLED_FACE_MODEL_WARNING)
        enhancer = cls(variant, make_detector(detector, device=device), chip=chip, **kwargs)
        enhancer.source = str(path)
        return enhancer

    @torch.inference_mode()
    def enhance(
        self, original: torch.Tensor, cleaned: torch.Tensor, faces: list[Faces] | None = None
    ) -> tuple[torch.Tensor, EnhanceStats]:
        """``original`` and ``cleaned`` (B, 3, H, W) in [-1, 1]; ``faces`` per image (default: detected
        on ``cleaned``). Returns the cleaned images with every large-enough face replaced."""
        if faces is None:
            faces = self.detector.detect(cleaned)
        out = cleaned.clone()
        stats = EnhanceStats()
        for i, found in enumerate(faces):
            stats.found += len(found)
            keep = (
                eye_distance(found) >= self.min_eye_distance
                if len(found)
                else torch.zeros(0, dtype=torch.bool)
            )
            stats.too_small += int((~keep).sum())
            found = found.select(keep)
            stats.per_image.append(len(found))
            if not len(found):
                continue
            lms = found.landmarks.float().to(original.device)
            chips = align_faces(
                original[i : i + 1],
                lms,
                torch.zeros(len(found), dtype=torch.long),
                layout=found.layout,
                spec=self.spec,
            )
            device = next(self.model.parameters()).device
            new = self.model.translate(chips.to(device), target=self.target).to(out.device)
            chip_to_img = similarity_chip_to_image(lms, template_points(found.layout, self.spec))
            for k in range(len(found)):
                out[i] = self._paste(out[i], new[k], chip_to_img[k])
            stats.enhanced += len(found)
        return out, stats

    def _paste(self, image: torch.Tensor, chip: torch.Tensor, chip_to_img: torch.Tensor) -> torch.Tensor:
        """Warp ``chip`` (3, S, S) into ``image`` (3, H, W) with the feathered mask; only the chip's
        footprint is touched. Chips much larger than their footprint are averaged down first."""
        h, w = image.shape[-2:]
        s = self.spec.size
        corners = torch.tensor([[0, 0, 1], [s, 0, 1], [0, s, 1], [s, s, 1]], dtype=chip_to_img.dtype)
        xy = (chip_to_img @ corners.T)[:2]
        x0, y0 = max(int(xy[0].min().floor()) - 1, 0), max(int(xy[1].min().floor()) - 1, 0)
        x1, y1 = min(int(xy[0].max().ceil()) + 1, w), min(int(xy[1].max().ceil()) + 1, h)
        if x1 <= x0 or y1 <= y0:
            return image
        src = torch.cat([chip[None].float(), self.mask.to(chip.device)], 1)  # (1, 4, S, S)
        m = chip_to_img.clone()
        scale = float(torch.linalg.det(m[:2, :2]).abs().sqrt())  # image pixels per chip pixel
        while scale < 0.5 and min(src.shape[-2:]) >= 4:
            src = F.avg_pool2d(src, 2, 2)  # chip pixel u' covers u = 2u', 2u'+1
            m[:2, :2] = m[:2, :2] * 2
            m[:2, 2] = m[:2, 2] + 0.5 * (m[:2, 0] + m[:2, 1]) / 2
            scale *= 2
        size = src.shape[-1]
        img_to_chip = torch.linalg.inv(m)
        ys, xs = torch.meshgrid(
            torch.arange(y0, y1, dtype=m.dtype), torch.arange(x0, x1, dtype=m.dtype), indexing="ij"
        )
        pts = torch.stack([xs, ys, torch.ones_like(xs)], -1) @ img_to_chip.T  # chip pixel coordinates
        grid = ((2 * pts[..., :2] + 1) / size - 1).to(src.dtype)[None]
        warped = F.grid_sample(
            src, grid.to(src.device), mode="bilinear", padding_mode="zeros", align_corners=False
        )[0]
        alpha = warped[3:4]
        region = image[:, y0:y1, x0:x1]
        out = image.clone()
        out[:, y0:y1, x0:x1] = alpha * warped[:3].to(image.dtype) + (1 - alpha) * region
        return out
