"""The working size: the scale a model runs at, whatever the size of the image it is given.

A remover learns reflections at the scale of its training images (the bundled one: 256 px renders,
faces 40-100 px wide). Given the same window at twice that size it takes skin and bright backdrops for
reflections and paints them dark (the README's tables: a 512 px portrait 20.8 dB through the glass,
14.5 dB after the model at full size, 22.6 dB at 256). So every job runs a model, by default, on the
image scaled down to the model's own training size and adds what the model changed there, scaled back
up, to the full-size image (:func:`reflect.inference.at_work_size` for one image,
:class:`deploy.translator.WorkSizeTranslator` for batches): the image keeps its own fine detail and
the model sees the scale it knows. Images no larger than the working size are translated as they are.

``--work-size`` (translate, clean, stream) takes ``auto`` (the default: the model's training size
where its file records one, :func:`model_scale`), ``0`` (images at their own size, as before) or a
size in pixels (the longer side, at least :data:`MIN_WORK_SIZE`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from reflect.errors import ConfigError

if TYPE_CHECKING:
    from reflect.config import ExperimentConfig
    from reflect.loader import ModelRef

AUTO = "auto"
MIN_WORK_SIZE = 32  # as the smallest tile: an image must pass the generator's downsampling
#: the ONNX ``metadata_props`` key (and TensorRT sidecar key) that records a model's training size
METADATA_KEY = "work_size"


def check_work_size(value: Any, option: str = "--work-size") -> int | str:
    """``auto``, 0 or an integer >= :data:`MIN_WORK_SIZE` (given as text or as a number) -> itself;
    anything else is one line naming the option and the value."""
    text = str(value).strip().lower()
    if text == AUTO:
        return AUTO
    try:
        size = int(text)
    except ValueError:
        size = -1
    if size == 0 or size >= MIN_WORK_SIZE:
        return size
    raise ConfigError(
        f"{option} {value}: give {AUTO} (the model's training size), 0 (images at their own size) or a "
        f"size of at least {MIN_WORK_SIZE} px"
    )


def training_scale(cfg: ExperimentConfig | dict[str, Any] | None) -> int:
    """The longer side, in pixels, of the images a model trained on, from its experiment config; 0 where
    the config does not say (folders of real images, resized by their shorter side; the face model, which
    sees aligned chips; no config at all)."""
    from reflect.schema import to_dict

    if cfg is None:
        return 0
    data = cfg.get("data", {}) if isinstance(cfg, dict) else to_dict(cfg.data)
    if not isinstance(data, dict) or data.get("kind") != "synthetic" or int(data.get("face_chip") or 0) > 0:
        return 0
    synth = data.get("synth") or {}
    from reflect.data.synth.config import SynthConfig

    size = synth.get("size", SynthConfig.size) if isinstance(synth, dict) else SynthConfig.size
    try:
        return max(0, int(size))
    except (TypeError, ValueError):
        return 0


def model_scale(ref: ModelRef) -> int:
    """:func:`training_scale` of the model ``ref`` names, read from its file's metadata without loading
    its weights: a generator file's or checkpoint's config, an ONNX file's ``work_size`` property, a
    TensorRT engine's sidecar. 0 where the file does not record it (ONNX files exported before it was
    recorded, engines without their sidecar)."""
    if ref.kind == "generator":
        from reflect.generator_file import read_generator_metadata

        raw = read_generator_metadata(ref.path).get("config") or "{}"
        return training_scale(json.loads(raw) if isinstance(raw, str) else raw)
    if ref.kind == "checkpoint":
        import torch

        from reflect.checkpoint import resolve_checkpoint

        try:  # mapped, not read: only the config is needed
            ckpt = torch.load(resolve_checkpoint(ref.path), map_location="cpu", weights_only=True, mmap=True)
        except Exception:  # noqa: BLE001 - a damaged file: the checkpoint loader's one line says why
            from reflect.checkpoint import load_checkpoint

            ckpt = load_checkpoint(ref.path)
        return training_scale(ckpt.get("config") if isinstance(ckpt, dict) else None)
    meta: dict[str, Any] = {}
    if ref.kind == "onnx":
        import onnx

        try:  # a broken file is named by the backend that opens it next
            proto = onnx.load(str(ref.path), load_external_data=False)
            meta = {p.key: p.value for p in proto.metadata_props}
        except Exception:  # noqa: BLE001 - protobuf raises several kinds for a bad file
            meta = {}
    else:
        side = Path(ref.path).with_suffix(Path(ref.path).suffix + ".json")
        try:
            meta = json.loads(side.read_text(encoding="utf-8")).get("metadata", {})
        except (OSError, ValueError, AttributeError):
            meta = {}
    try:
        return max(0, int(meta.get(METADATA_KEY) or 0))
    except ValueError:
        return 0


def resolve_work_size(value: Any, ref: ModelRef, option: str = "--work-size") -> int:
    """The working size in pixels for ``value`` (``auto``: :func:`model_scale` of ``ref``; 0: none)."""
    checked = check_work_size(value, option)
    return model_scale(ref) if checked == AUTO else int(checked)


def describe(work_size: int, value: Any, what: str = "images") -> str:
    """The one log line a job says about its working size (``value``: the option as given)."""
    if work_size <= 0:
        return f"{what} are translated at their own size"
    why = "the model's training size" if str(value).strip().lower() == AUTO else "--work-size"
    return (
        f"{what} larger than {work_size} px are translated at that size ({why}; --work-size 0 translates "
        "them at their own size)"
    )


def work_shape(height: int, width: int, work_size: int) -> tuple[int, int]:
    """``(height, width)`` of an image scaled so that its longer side is ``work_size`` (the image's own
    shape where it is no larger, or ``work_size`` <= 0): what the model sees."""
    if work_size <= 0 or max(height, width) <= work_size:
        return height, width
    scale = work_size / max(height, width)
    return max(1, round(height * scale)), max(1, round(width * scale))
