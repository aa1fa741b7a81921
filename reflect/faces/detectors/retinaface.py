"""RetinaFace detector: Pytorch_Retinaface checkpoints read from a path the user gives.

No weights ship with any package we can install, and nothing is downloaded: without ``weights``
the constructor raises :class:`~reflect.faces.resources.FaceModelMissing` saying what to pass.
"""

from __future__ import annotations

import pickle
from pathlib import Path

import torch

from reflect.errors import CheckpointError
from reflect.faces.detectors.base import ImagesLike, as_uint8_list, filter_faces
from reflect.faces.detectors.retinaface_net import MEAN_BGR, RetinaFaceNet, decode, priors
from reflect.faces.resources import FaceModelMissing
from reflect.faces.types import EYES_NOSE_MOUTH, Faces
from reflect.utils.images import to_pixels


def load_retinaface_state(path: str | Path) -> dict[str, torch.Tensor]:
    """A Pytorch_Retinaface state dict (``module.`` prefixes of DataParallel removed)."""
    p = Path(path)
    if not p.is_file():
        raise FaceModelMissing(f"RetinaFace weights {p} do not exist")
    try:
        state = torch.load(p, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, OSError, ValueError) as e:
        raise CheckpointError(
            f"RetinaFace weights {p} could not be loaded safely ({str(e).splitlines()[0][:160]})"
        ) from None
    if isinstance(state, dict) and "state_dict" in state:
        state = state["state_dict"]
    if not isinstance(state, dict):
        raise CheckpointError(f"RetinaFace weights {p} do not hold a state dict")
    return {k.removeprefix("module."): v for k, v in state.items()}


def guess_backbone(state: dict[str, torch.Tensor]) -> str:
    return "resnet50" if any(k.startswith("body.layer1.") for k in state) else "mobilenet0.25"


class RetinaFaceDetector:
    """``weights``: ``mobilenet0.25_Final.pth`` or ``Resnet50_Final.pth`` (backbone read from the keys)."""

    name = "retinaface"

    def __init__(
        self,
        weights: str | Path | None = None,
        device: str | torch.device = "cpu",
        min_score: float = 0.8,
        min_size: float = 10.0,
        nms_iou: float = 0.4,
        backbone: str | None = None,
    ) -> None:
        if weights is None:
            raise FaceModelMissing(
                "the retinaface detector needs a weights file: pass the path of Pytorch_Retinaface's "
                "mobilenet0.25_Final.pth or Resnet50_Final.pth (weights=..., or --detector-weights on the command line); weights are never downloaded"
            )
        state = load_retinaface_state(weights)
        self.net = RetinaFaceNet(backbone or guess_backbone(state))
        # a body saved before IntermediateLayerGetter may still carry the classifier: not needed
        state = {k: v for k, v in state.items() if not k.startswith(("body.fc.", "body.avg."))}
        missing, unexpected = self.net.load_state_dict(state, strict=False)
        if missing or unexpected:
            raise CheckpointError(
                f"RetinaFace weights {weights} do not fit the {backbone or guess_backbone(state)} layout: "
                f"{len(missing)} missing keys (e.g. {missing[:2]}), {len(unexpected)} unexpected (e.g. {unexpected[:2]})"
            )
        self.device = torch.device(device)
        self.net.to(self.device).eval()
        self.min_score, self.min_size, self.nms_iou = min_score, min_size, nms_iou

    @torch.no_grad()
    def detect(self, images: ImagesLike) -> list[Faces]:
        from torchvision.ops import nms

        if isinstance(images, torch.Tensor):
            batch = [im.to(self.device) for im in to_pixels(images)]
        else:
            batch = [torch.tensor(a).permute(2, 0, 1).float().to(self.device) for a in as_uint8_list(images)]
        mean = torch.tensor(MEAN_BGR, device=self.device).view(3, 1, 1)
        out = []
        for rgb in batch:  # images may differ in size: one at a time
            h, w = rgb.shape[-2:]
            x = (rgb.flip(0) - mean).unsqueeze(0)  # RGB -> BGR, minus the training mean
            loc, scores, lms = self.net(x)
            boxes, points = decode(loc[0], lms[0], priors(h, w, self.device))
            scale = torch.tensor([w, h], dtype=boxes.dtype, device=self.device)
            boxes, points = boxes * scale.repeat(2), points * scale
            # boxes under min_score are dropped at the end and cannot suppress stronger ones in NMS
            keep = scores[0] >= self.min_score
            boxes, points, sc = boxes[keep], points[keep], scores[0][keep]
            keep = nms(boxes, sc, self.nms_iou)[:750]
            faces = Faces(boxes[keep].cpu(), sc[keep].cpu(), points[keep].cpu(), EYES_NOSE_MOUTH)
            out.append(filter_faces(faces, self.min_score, self.min_size))
        return out
