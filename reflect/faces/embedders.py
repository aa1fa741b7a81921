"""Face embedders behind one interface: ``embed(chips) -> (N, D)`` unit vectors.

``chips`` are aligned faces (N, 3, S, S) in [-1, 1], cut by :func:`reflect.faces.align.align_faces`
with the embedder's :attr:`chip` spec. Backends:

* ``dlib-torch``: :class:`~reflect.faces.dlib_resnet.DlibFaceResNet`, the torch port of dlib's ResNet
  (differentiable, any device, ONNX-exportable): the one the identity loss uses;
* ``dlib``: dlib itself (``dlib-bin``), the reference, for evaluation (not differentiable);
* ``facenet``: facenet-pytorch's InceptionResnetV1 (Schroff et al., "FaceNet", CVPR 2015) from a
  weights file the user gives (e.g. ``20180402-114759-vggface2.pt``); never downloaded.

``raw(chips)`` returns each backend's native descriptor (dlib's is not unit length: compare dlib
descriptors with Euclidean distance and dlib's 0.6 threshold).
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

import numpy as np
import torch
import torch.nn.functional as F

from reflect.errors import CheckpointError
from reflect.faces.align import DLIB_CHIP, FACENET_CHIP, ChipSpec
from reflect.faces.resources import DLIB_RESNET, FaceModelMissing, dlib_model_path, import_dlib
from reflect.utils.images import to_image

EMBEDDERS = ("dlib-torch", "dlib", "facenet")
DLIB_THRESHOLD = 0.6  # dlib's same-person threshold on the Euclidean distance of raw descriptors


class FaceEmbedder(Protocol):
    name: str
    chip: ChipSpec
    dim: int

    def raw(self, chips: torch.Tensor) -> torch.Tensor: ...

    def embed(self, chips: torch.Tensor) -> torch.Tensor: ...


class DlibTorchEmbedder:
    """The torch port of dlib's ResNet; frozen, in eval mode, on ``device``."""

    name = "dlib-torch"
    chip = DLIB_CHIP
    dim = 128

    def __init__(self, device: str | torch.device = "cpu", weights: str | Path | None = None) -> None:
        from reflect.faces.dlib_resnet import DlibFaceResNet

        self.net = DlibFaceResNet.from_dlib(weights).to(device).eval().requires_grad_(False)

    def to(self, device: str | torch.device) -> DlibTorchEmbedder:
        self.net.to(device)
        return self

    def raw(self, chips: torch.Tensor) -> torch.Tensor:
        _check(chips, self.chip)
        return self.net(chips)

    def embed(self, chips: torch.Tensor) -> torch.Tensor:
        return F.normalize(self.raw(chips), dim=1)

    def features(self, chips: torch.Tensor) -> tuple[list[torch.Tensor], torch.Tensor]:
        """(the network's stage activations, the unit embedding), in one differentiable pass."""
        _check(chips, self.chip)
        stages, raw = self.net.features(chips)
        return stages, F.normalize(raw, dim=1)


class DlibEmbedder:
    """dlib's own ``face_recognition_model_v1`` on 150x150 chips (CPU, no gradients)."""

    name = "dlib"
    chip = DLIB_CHIP
    dim = 128

    def __init__(self, device: str | torch.device = "cpu") -> None:
        dlib = import_dlib()
        self.model = dlib.face_recognition_model_v1(str(dlib_model_path(DLIB_RESNET)))

    @torch.no_grad()
    def raw(self, chips: torch.Tensor) -> torch.Tensor:
        _check(chips, self.chip)
        imgs = list(to_image(chips))
        if not imgs:
            return torch.zeros(0, self.dim)
        desc = self.model.compute_face_descriptor(imgs)
        return torch.tensor(np.array([np.asarray(d) for d in desc]), dtype=torch.float32).to(chips.device)

    def embed(self, chips: torch.Tensor) -> torch.Tensor:
        return F.normalize(self.raw(chips), dim=1)


class FacenetEmbedder:
    """facenet-pytorch's InceptionResnetV1 loaded from ``weights`` (a state dict, torch.load weights_only)."""

    name = "facenet"
    chip = FACENET_CHIP
    dim = 512

    def __init__(self, weights: str | Path | None = None, device: str | torch.device = "cpu") -> None:
        if weights is None:
            raise FaceModelMissing(
                "the facenet embedder needs a weights file for InceptionResnetV1 (e.g. "
                "20180402-114759-vggface2.pt): pass its path; weights are never downloaded"
            )
        p = Path(weights)
        if not p.is_file():
            raise FaceModelMissing(f"facenet weights {p} do not exist")
        try:
            from facenet_pytorch import InceptionResnetV1
        except ImportError:
            raise FaceModelMissing(
                "the facenet embedder needs facenet-pytorch: pip install --no-deps facenet-pytorch"
            ) from None
        state = torch.load(p, map_location="cpu", weights_only=True)
        state = {k: v for k, v in state.items() if not k.startswith("logits.")}
        self.net = InceptionResnetV1(pretrained=None, classify=False)
        try:
            self.net.load_state_dict(state)
        except RuntimeError as e:
            raise CheckpointError(
                f"facenet weights {p} do not fit InceptionResnetV1 ({str(e).splitlines()[0][:160]})"
            ) from None
        self.net.to(device).eval().requires_grad_(False)

    def to(self, device: str | torch.device) -> FacenetEmbedder:
        self.net.to(device)
        return self

    def raw(self, chips: torch.Tensor) -> torch.Tensor:
        _check(chips, self.chip)
        # facenet-pytorch's fixed_image_standardization: (x - 127.5) / 128, i.e. about [-1, 1]
        return self.net(chips * (127.5 / 128.0))

    def embed(self, chips: torch.Tensor) -> torch.Tensor:
        return F.normalize(self.raw(chips), dim=1)


def _check(chips: torch.Tensor, spec: ChipSpec) -> None:
    if chips.ndim != 4 or tuple(chips.shape[1:]) != (3, spec.size, spec.size):
        raise ValueError(f"expected aligned chips (N, 3, {spec.size}, {spec.size}), got {tuple(chips.shape)}")


def make_embedder(
    name: str, device: str | torch.device = "cpu", weights: str | Path | None = None
) -> FaceEmbedder:
    """Build an embedder by name (see the module docstring); ``weights`` only for ``facenet``."""
    if name == "dlib-torch":
        return DlibTorchEmbedder(device)
    if name == "dlib":
        return DlibEmbedder(device)
    if name == "facenet":
        return FacenetEmbedder(weights, device)
    raise ValueError(f"unknown face embedder {name!r}; choose one of {', '.join(EMBEDDERS)}")
