"""Face alignment: a similarity transform from 5 landmarks to an embedder's template, applied with
``affine_grid``/``grid_sample`` so the aligned chip is differentiable with respect to the image.

Templates come from dlib's mean face (``get_face_chip_details`` in dlib/image_transforms/
interpolation.h): points in a unit square spanning the eyebrows to the lower lip, placed in a chip
of ``size`` pixels with ``padding`` (a fraction of the unit square) on every side. dlib's own chips
are 150 px with padding 0.25; with dlib's 5-point landmarks this reproduces ``dlib.get_face_chip``.
Like dlib's ``extract_image_chip``, a chip much smaller than the face is taken from a 2x-downsampled
image pyramid so that bilinear sampling does not alias.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from reflect.faces.types import DLIB_5, EYES_NOSE_MOUTH

# dlib's 5-point template (interpolation.h): eye corners (image-right eye outer/inner, image-left
# eye outer/inner) and nose bottom, in mean-face units.
_DLIB5_UNIT = (
    (0.8595674595992, 0.2134981538014),
    (0.6460604764104, 0.2289674387677),
    (0.1205750620789, 0.2137274526848),
    (0.3340850613712, 0.2290642403242),
    (0.4901123135679, 0.6277975316475),
)
# The same mean face's 68-point positions (iBUG numbering) for the eyes, nose tip and mouth corners.
_EYE_LEFT_X = (0.121737, 0.187122, 0.265825, 0.334606, 0.260918, 0.182743)  # points 36-41
_EYE_LEFT_Y = (0.216423, 0.178758, 0.179852, 0.231733, 0.245099, 0.244077)
_EYE_RIGHT_X = (0.645647, 0.714428, 0.793132, 0.858516, 0.79751, 0.719335)  # points 42-47
_EYE_RIGHT_Y = (0.231733, 0.179852, 0.178758, 0.216423, 0.244077, 0.245099)
_ENM_UNIT = (
    (sum(_EYE_LEFT_X) / 6, sum(_EYE_LEFT_Y) / 6),
    (sum(_EYE_RIGHT_X) / 6, sum(_EYE_RIGHT_Y) / 6),
    (0.490127, 0.515625),  # point 30, nose tip
    (0.254149, 0.780233),  # point 48, mouth left
    (0.726104, 0.780233),  # point 54, mouth right
)
_UNIT = {DLIB_5: _DLIB5_UNIT, EYES_NOSE_MOUTH: _ENM_UNIT}


@dataclass(frozen=True)
class ChipSpec:
    """An embedder's input chip: ``size`` x ``size`` pixels, ``padding`` around dlib's mean face."""

    size: int = 150
    padding: float = 0.25


DLIB_CHIP = ChipSpec(150, 0.25)
FACENET_CHIP = ChipSpec(160, 0.25)


def template_points(layout: str, spec: ChipSpec) -> torch.Tensor:
    """(5, 2) template positions, in chip pixels, of the landmarks of ``layout``."""
    if layout not in _UNIT:
        raise ValueError(f"no alignment template for landmark layout {layout!r}")
    unit = torch.tensor(_UNIT[layout], dtype=torch.float64)
    return (unit + spec.padding) / (1 + 2 * spec.padding) * spec.size


def similarity_chip_to_image(landmarks: torch.Tensor, template: torch.Tensor) -> torch.Tensor:
    """Least-squares similarity (rotation, uniform scale, shift) taking template -> landmarks.

    ``landmarks`` (N, K, 2) image pixels; ``template`` (K, 2) chip pixels. Returns (N, 3, 3) matrices
    mapping homogeneous chip pixel coordinates to image pixel coordinates.
    """
    lm = landmarks.detach().to(torch.float64)
    n, k = lm.shape[0], lm.shape[1]
    tx, ty = template[:, 0].to(lm), template[:, 1].to(lm)
    one, zero = torch.ones_like(tx), torch.zeros_like(tx)
    # u = a x - b y + c ; v = b x + a y + d
    rows = torch.cat([torch.stack([tx, -ty, one, zero], 1), torch.stack([ty, tx, zero, one], 1)], 0)
    a_mat = rows.expand(n, 2 * k, 4)
    rhs = torch.cat([lm[:, :, 0], lm[:, :, 1]], 1).unsqueeze(-1)
    sol = torch.linalg.lstsq(a_mat.cpu(), rhs.cpu()).solution.squeeze(-1).to(lm.device)
    a, b, c, d = sol.unbind(1)
    m = torch.zeros(n, 3, 3, dtype=lm.dtype, device=lm.device)
    m[:, 0, 0], m[:, 0, 1], m[:, 0, 2] = a, -b, c
    m[:, 1, 0], m[:, 1, 1], m[:, 1, 2] = b, a, d
    m[:, 2, 2] = 1.0
    return m


def align_faces(
    images: torch.Tensor,
    landmarks: torch.Tensor,
    image_index: torch.Tensor | None = None,
    *,
    layout: str = EYES_NOSE_MOUTH,
    spec: ChipSpec = DLIB_CHIP,
    antialias: bool = True,
) -> torch.Tensor:
    """Cut aligned face chips out of ``images`` (B, C, H, W), differentiably.

    ``landmarks`` (N, 5, 2) in image pixels, ``image_index`` (N,) the image each face belongs to
    (default: face i in image i). Returns (N, C, size, size), same value range as ``images``.
    """
    n = landmarks.shape[0]
    if n == 0:
        return images.new_zeros(0, images.shape[1], spec.size, spec.size)
    if image_index is None:
        image_index = torch.arange(n, device=images.device)
    chip_to_img = similarity_chip_to_image(landmarks, template_points(layout, spec))
    out = []
    for i in range(n):
        img = images[int(image_index[i])].unsqueeze(0)
        m = chip_to_img[i].clone()
        scale = float(torch.linalg.det(m[:2, :2]).abs().sqrt())  # image pixels per chip pixel
        while antialias and scale > 2.0 and min(img.shape[-2:]) >= 4:
            img = F.avg_pool2d(img, 2, 2)  # pixel u' covers u = 2u', 2u'+1: u' = (u - 0.5) / 2
            m[:2] = m[:2] / 2
            m[:2, 2] -= 0.25
            scale /= 2
        out.append(_sample(img, m, spec.size))
    return torch.cat(out, 0)


def _sample(img: torch.Tensor, chip_to_img: torch.Tensor, size: int) -> torch.Tensor:
    h, w = img.shape[-2:]
    dt = chip_to_img.dtype
    # normalised output coords (align_corners=False) -> chip pixels
    from_norm = torch.tensor(
        [[size / 2, 0, (size - 1) / 2], [0, size / 2, (size - 1) / 2], [0, 0, 1]], dtype=dt
    )
    # image pixels -> normalised input coords
    to_norm = torch.tensor([[2 / w, 0, 1 / w - 1], [0, 2 / h, 1 / h - 1], [0, 0, 1]], dtype=dt)
    theta = (to_norm.to(chip_to_img.device) @ chip_to_img @ from_norm.to(chip_to_img.device))[:2]
    theta = theta.unsqueeze(0).to(img.dtype)
    grid = F.affine_grid(theta, [1, img.shape[1], size, size], align_corners=False)
    return F.grid_sample(img, grid, mode="bilinear", padding_mode="border", align_corners=False)
