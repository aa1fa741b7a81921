"""Albumentations pipelines for training and evaluation."""

from __future__ import annotations

import os

os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")

import albumentations as A  # noqa: E402


def train_transform(load_size: int, crop_size: int, flip: bool = True, paired: bool = False) -> A.Compose:
    """Resize the shorter side to ``load_size``, random-crop ``crop_size``, random horizontal flip.

    With ``paired=True`` the same geometry is applied to ``target`` (a paired clean image).
    """
    ops: list[A.BasicTransform] = [
        A.SmallestMaxSize(max_size=load_size),
        A.PadIfNeeded(min_height=crop_size, min_width=crop_size, border_mode=0),
        A.RandomCrop(height=crop_size, width=crop_size),
    ]
    if flip:
        ops.append(A.HorizontalFlip(p=0.5))
    return A.Compose(ops, additional_targets={"target": "image"} if paired else None)


def eval_transform(crop_size: int) -> A.Compose:
    return A.Compose([A.SmallestMaxSize(max_size=crop_size), A.CenterCrop(height=crop_size, width=crop_size)])
