"""The models shipped inside the package, as generator files (:mod:`reflect.generator_file`): the
reflection remover (:func:`bundled_model_path`, with ``MODEL_CARD.md`` beside it), which every job uses
when no model is given, and the face model of ``--enhance-faces`` (:func:`face_model_path`).
"""

from __future__ import annotations

import logging
from pathlib import Path

from reflect.errors import CheckpointError
from reflect.generator_file import read_generator_metadata

log = logging.getLogger("reflect")

BUNDLED_DIR = Path(__file__).resolve().parent
BUNDLED_NAME = "reflect-remover.safetensors"
FACE_NAME = "reflect-face.safetensors"


def bundled_model_path() -> Path:
    """The generator file shipped inside the package (raises a clear error if it is missing)."""
    path = BUNDLED_DIR / BUNDLED_NAME
    if not path.is_file():
        raise CheckpointError(
            f"the bundled model {path} is missing from this installation; reinstall reflect, or give a "
            "model explicitly (--model / --checkpoint)"
        )
    return path


def face_model_path() -> Path:
    """The face model that ships with reflect (beside the bundled window model)."""
    return Path(__file__).resolve().parent / FACE_NAME


def model_or_bundled(model: str | Path | None, option: str = "--model") -> str:
    """``model`` unchanged (as a string) when given; otherwise the bundled generator file's path.

    Every command that opens a model, and the library entry points behind them
    (:func:`reflect.loader.identify`, which ``deploy.loader.load_translator`` uses), call this first, so they
    agree on the file and say once, in the log, which model they use. The bundled file's metadata is
    read (and checked) here: a missing or damaged bundled model is one clear
    :class:`~reflect.errors.CheckpointError` before any other work starts.
    """
    if model is not None and str(model) != "":
        return str(model)
    path = bundled_model_path()
    meta = read_generator_metadata(path)
    log.info("no %s given: using the bundled model %s (variant %s)", option, path, meta.get("variant", "?"))
    return str(path)
