"""Errors of the deployment layer (subclasses of :class:`~reflect.errors.ReflectError`)."""

from __future__ import annotations

from reflect.errors import CheckpointError, ReflectError


class ModelFileError(CheckpointError):
    """An exported model file (.onnx, .engine) is missing, truncated or not what it claims."""


class ParityError(ReflectError, AssertionError):
    """An exported model disagrees with the torch model it came from beyond the tolerance."""


class BackendUnavailable(ReflectError, RuntimeError):
    """A runtime (TensorRT, a GPU, an ONNX Runtime provider) is not available on this machine."""
