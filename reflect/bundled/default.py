"""The model a job runs when none is given: the bundled generator file.

Every command that opens a model (``translate``, ``evaluate``, ``export``, ``bench``, ``clean``,
``stream``) and the library entry points behind them (``deploy.translator.load_translator``,
``deploy.runner.open_model``) call :func:`model_or_bundled` first, so they all agree on the file and
say once, in the log, which model they use.
"""

from __future__ import annotations

import logging
from pathlib import Path

log = logging.getLogger("reflect")


def model_or_bundled(model: str | Path | None, option: str = "--model") -> str:
    """``model`` unchanged (as a string) when given; otherwise the bundled generator file's path.

    The bundled file's metadata is read (and checked) here, so a missing or damaged bundled model
    is one clear :class:`~reflect.errors.CheckpointError` before any other work starts.
    """
    if model is not None and str(model) != "":
        return str(model)
    import reflect.bundled as bundled  # module attributes, so tests can point them elsewhere

    path = bundled.bundled_model_path()
    meta = bundled.read_generator_metadata(path)
    log.info("no %s given: using the bundled model %s (variant %s)", option, path, meta.get("variant", "?"))
    return str(path)
