"""User-facing errors. The CLI prints ``str(err)`` as one line and exits non-zero."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


def did_you_mean(word: str, choices: Iterable[str], cutoff: float = 0.5) -> str:
    """`` (did you mean 'x'?)`` naming the choice closest to a mistyped ``word`` (difflib ratio at least
    ``cutoff``), or ``""`` when none is close: the suffix every "not one of" message ends with."""
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=cutoff)
    return f" (did you mean '{close[0]}'?)" if close else ""


class ReflectError(Exception):
    """Base class: an error whose message tells the user what went wrong and what to do."""


class ConfigError(ReflectError, ValueError):
    """A config key, value or file is wrong."""


class ImageReadError(ReflectError, OSError):
    """An image file could not be read or decoded."""

    def __init__(self, path: object, reason: str) -> None:
        super().__init__(f"cannot read image {path}: {reason}")
        self.path = str(path)
        self.reason = reason


class CheckpointError(ReflectError, ValueError):
    """A checkpoint is missing, corrupt, unsafe or belongs to another model."""


class TrainingDiverged(ReflectError, RuntimeError):
    """Too many consecutive steps produced non-finite losses."""


class OutputError(ReflectError, OSError):
    """An output could not be written (a full disk, a read-only folder); what was done is kept."""
