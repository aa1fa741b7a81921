"""Shape helpers shared by every variant's ``translate``."""

from __future__ import annotations

import torch
from torch.nn import functional as F


def pad_to_multiple(x: torch.Tensor, multiple: int) -> torch.Tensor:
    """Pad (B, C, H, W) on the bottom and right so H and W are multiples of ``multiple``.

    Reflection padding where the image is large enough (no dark borders for the generator to
    react to), replication otherwise. Works with symbolic shapes, so it exports to ONNX.
    """
    h, w = x.shape[-2], x.shape[-1]
    ph = (multiple - h % multiple) % multiple
    pw = (multiple - w % multiple) % multiple
    if isinstance(ph, int) and isinstance(pw, int) and ph == 0 and pw == 0:
        return x
    # Symbolic sizes (ONNX export) always take the reflect branch, as eager does for any image at
    # least one stride tall and wide, so exported and eager outputs agree.
    tiny = isinstance(h, int) and isinstance(w, int) and (h <= ph or w <= pw)
    mode = "replicate" if tiny else "reflect"
    return F.pad(x, (0, pw, 0, ph), mode=mode)


def crop_to(x: torch.Tensor, h: int, w: int) -> torch.Tensor:
    return x[..., :h, :w]
