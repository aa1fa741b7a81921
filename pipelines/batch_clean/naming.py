"""Output names of a batch job that cannot collide, and never name an input.

An input's output keeps its relative path; only the extension may change (a video is re-encoded
into ``--codec``'s container, face crops are PNG files named after the input's stem). Where two
inputs would meet (``x.avi`` and ``x.mp4`` both becoming ``x.mp4``; ``a.jpg`` and ``a.png`` both
writing ``a_face0.png``), each of them keeps its source extension in the name (``x_avi.mp4``,
``x_mp4.mp4``; ``a_jpg_face0.png``, ``a_png_face0.png``). The job database records every input's
output *stem* (its output path without extension) when the input is first registered, so names
never change between runs of a job, even when later runs find new inputs.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import PurePosixPath

CODECS = {"mp4v": ".mp4", "MJPG": ".avi"}  # --codec -> the re-encoded video's extension


def natural_stem(rel: str) -> str:
    """``cam1/x.avi`` -> ``cam1/x``."""
    p = PurePosixPath(rel)
    return p.with_suffix("").as_posix() if p.suffix else rel


def tagged_stem(rel: str) -> str:
    """``cam1/x.avi`` -> ``cam1/x_avi``: the stem with the source extension kept."""
    p = PurePosixPath(rel)
    return f"{natural_stem(rel)}_{p.suffix[1:]}" if p.suffix else rel


def output_rel(rel: str, kind: str, stem: str, codec: str) -> str:
    """Where a frame-mode (or window-crop) output of input ``rel`` goes."""
    suffix = CODECS[codec] if kind == "video" else PurePosixPath(rel).suffix
    return stem + suffix


def claim(rel: str, kind: str, stem: str, codec: str, face_crops: bool) -> str:
    """The name (or, for face crops, the name prefix) an input's outputs take; equal claims collide."""
    name = (
        (f"{stem}_frame" if kind == "video" else f"{stem}_face")
        if face_crops
        else output_rel(rel, kind, stem, codec)
    )
    return name.lower()  # case-insensitive file systems too


def assign_stems(
    new: list[tuple[str, str]], known: list[tuple[str, str, str]], codec: str, face_crops: bool
) -> list[tuple[str, str, str]]:
    """``(rel, kind, stem)`` for ``new`` ``(rel, kind)`` inputs, given the ``known`` ``(rel, kind, stem)``.

    An input keeps its natural stem unless another input (known or new) would claim the same
    name; then it takes the tagged stem, and a number if even that is taken.
    """
    taken = {claim(r, k, s, codec, face_crops) for r, k, s in known}
    groups: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for rel, kind in new:
        groups[claim(rel, kind, natural_stem(rel), codec, face_crops)].append((rel, kind))
    out: list[tuple[str, str, str]] = []
    deferred: list[tuple[str, str]] = []
    for key, members in groups.items():
        if len(members) == 1 and key not in taken:
            rel, kind = members[0]
            out.append((rel, kind, natural_stem(rel)))
            taken.add(key)
        else:
            deferred.extend(members)
    for rel, kind in sorted(deferred):
        stem, n = tagged_stem(rel), 1
        while claim(rel, kind, stem, codec, face_crops) in taken:
            n += 1
            stem = f"{tagged_stem(rel)}_{n}"
        taken.add(claim(rel, kind, stem, codec, face_crops))
        out.append((rel, kind, stem))
    return out
