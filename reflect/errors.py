"""User-facing errors. The CLI prints ``str(err)`` as one line and exits non-zero."""

from __future__ import annotations


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
