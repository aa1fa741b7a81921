"""Video helpers shared by ``reflect clean`` and ``reflect stream``: truncation check, quiet FFmpeg."""

from __future__ import annotations

import logging
import os


def ends_early(read: int, declared: int) -> bool:
    """Whether a video that gave ``read`` frames stopped short of the ``declared`` count of its header.

    A truncated or damaged file ends before the count its container declares. Some containers only
    estimate the count (from duration x frame rate), so 1 % (at least one frame) of slack is allowed;
    MP4 and AVI headers are exact. An unknown count (0) never counts as early.
    """
    return read > 0 and declared > 0 and read < declared - max(1, declared // 100)


def truncation_note(read: int, declared: int) -> str:
    return (f"the video ends early: {read} of its {declared} frames could be read (truncated or damaged file); "
            f"the output holds those {read}")


def quiet_ffmpeg() -> None:
    """Silence FFmpeg's own console messages ("moov atom not found"): a bad video is one line of ours.

    Call before the first video is opened in this process (child processes inherit it); ``reflect -v``
    keeps them.
    """
    if logging.getLogger().getEffectiveLevel() > logging.DEBUG:
        os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")  # AV_LOG_QUIET
