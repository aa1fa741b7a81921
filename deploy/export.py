"""Export a trained generator to ONNX, with a parity check against torch built in.

The graph comes from the dynamo exporter (``torch.onnx.export(..., dynamo=True)``) with named
dynamic axes ``batch``, ``height`` and ``width``: :func:`reflect.nn.utils.pad_to_multiple` pads
with symbolic shapes, so one graph serves any frame size. It is then simplified with onnx's own
tooling (the onnxscript optimizer: constant folding, dead-node removal; onnx shape inference),
checked with ``onnx.checker`` and written under a temporary name. Finally torch and ONNX Runtime run
the same inputs at two sizes (one not a multiple of the generator stride, one not a multiple of the
training size) and the largest absolute difference must stay below a tolerance; only then is the
file renamed onto its name (a failed export leaves nothing behind).

Graph contract (also written into the model's ``metadata_props``):

* two-domain variants: ``input`` (N, 3, H, W) float32 RGB in [-1, 1] -> ``output`` (same);
* multi-domain variants that define ``export_module_multidomain()``: a second input
  ``target_index`` (N,) int64 picks each frame's target domain (an index into ``domains``);
* instance-aware variants (``dunit``), whose export module has ``box_slots`` K > 0: inputs
  ``boxes`` (N, K, 4) float32 x1 y1 x2 y2 in the frame's pixels and ``count`` (N,) int64 (how many
  rows of each frame's K are faces; 0 runs the global path). Detection stays outside the graph.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import nn

from deploy.errors import ModelFileError, ParityError
from reflect.errors import ConfigError
from reflect.utils.atomic import atomic_path
from reflect.work_size import METADATA_KEY as WORK_SIZE_KEY
from reflect.work_size import training_scale

if TYPE_CHECKING:
    import onnx

    from reflect.config import ExperimentConfig
    from reflect.variants.base import Variant

log = logging.getLogger(__name__)

DEFAULT_OPSET = 18
MIN_OPSET = 17
INPUT = "input"
TARGET_INDEX = "target_index"
BOXES = "boxes"
COUNT = "count"
OUTPUT = "output"
INPUT_RANGE = "[-1,1]"
NORMALIZATION = "x = rgb_uint8 / 127.5 - 1 (output likewise)"


@dataclass
class ExportResult:
    """What :func:`export_onnx` wrote and how well it agrees with torch."""

    path: Path
    metadata: dict[str, str]
    #: "NxCxHxW" -> largest absolute difference torch vs onnxruntime
    parity: dict[str, float] = field(default_factory=dict)
    tolerance: float = 1e-4
    nodes_before: int = 0
    nodes_after: int = 0

    @property
    def max_abs_diff(self) -> float:
        return max(self.parity.values(), default=0.0)


def is_multidomain(variant: Variant) -> bool:
    """A variant exports a ``target_index`` input (its ``export_module_multidomain()``) when it has
    more than two domains."""
    return len(variant.domains) > 2


def export_graph_module(variant: Variant, target: str | None) -> tuple[nn.Module, bool]:
    """The module to trace and whether it takes ``target_index`` as a second input."""
    if is_multidomain(variant) and target is None:
        return variant.export_module_multidomain().eval(), True
    if target is not None and target not in variant.domains:
        raise ConfigError(f"unknown target domain '{target}'; valid: {', '.join(variant.domains)}")
    return variant.export_module(target).eval(), False


def box_slots(module: nn.Module) -> int:
    """K when the export module takes face boxes (``boxes`` (N, K, 4) and ``count`` (N,)), else 0."""
    return int(getattr(module, "box_slots", 0) or 0)


def example_boxes(
    n: int, h: int, w: int, slots: int, gen: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """Random boxes inside an (h, w) frame and counts cycling 1, 2, ..., K, 0: parity inputs."""
    lo = torch.rand(n, slots, 2, generator=gen) * torch.tensor([w, h]) * 0.6
    size = (torch.rand(n, slots, 2, generator=gen) * 0.5 + 0.2) * torch.tensor([w, h])
    boxes = torch.cat([lo, (lo + size).minimum(torch.tensor([w, h]).float())], dim=2)
    return boxes, (torch.arange(n) + 1) % (slots + 1)


def load_onnx(path: str | Path) -> onnx.ModelProto:
    """Load and structurally check an ONNX file; a missing, truncated or invalid file is a
    :class:`~deploy.errors.ModelFileError` that names it."""
    import onnx
    from google.protobuf.message import DecodeError

    p = Path(path)
    if not p.is_file():
        raise ModelFileError(f"ONNX model {p} does not exist")
    if p.stat().st_size == 0:
        raise ModelFileError(f"ONNX model {p} is empty")
    try:
        model = onnx.load(str(p))
        onnx.checker.check_model(model)
    except (DecodeError, onnx.checker.ValidationError, ValueError, OSError, RuntimeError) as e:
        first = (str(e).strip().splitlines() or [type(e).__name__])[0][:200]
        raise ModelFileError(f"ONNX model {p} is truncated or not a valid ONNX file ({first})") from None
    if not model.graph.node or not model.graph.output:
        raise ModelFileError(f"ONNX model {p} is truncated or not a valid ONNX file (its graph is empty)")
    return model


def read_metadata(model: str | Path | onnx.ModelProto) -> dict[str, str]:
    """The ``metadata_props`` of an ONNX model (a path is loaded and checked first)."""
    proto = load_onnx(model) if isinstance(model, (str, Path)) else model
    return {p.key: p.value for p in proto.metadata_props}


def default_parity_sizes(train_size: int = 256) -> list[tuple[int, int, int]]:
    """(batch, height, width) samples: 67x45 (not a multiple of any generator stride) and a
    batch of two at a size that is not a multiple of the training size."""
    h, w = train_size + 12, train_size + 20
    if h % train_size == 0 or w % train_size == 0:  # tiny train sizes
        h, w = h + 1, w + 3
    return [(1, 67, 45), (2, h, w)]


def optimize_onnx(model: onnx.ModelProto) -> onnx.ModelProto:
    """Constant folding and dead-code removal (onnxscript optimizer), then shape inference."""
    import onnx
    import onnxscript.optimizer

    model = onnxscript.optimizer.optimize(model, num_iterations=2)
    return onnx.shape_inference.infer_shapes(model, check_type=True, data_prop=True)


def _name_output_axes(model: onnx.ModelProto) -> None:
    """The output has the input's shape: give it the same axis names instead of the exporter's
    symbolic expressions (``Min(height, 4*((height + ...)))``)."""
    for out in model.graph.output:
        dims = out.type.tensor_type.shape.dim
        if len(dims) == 4:
            for i, name in ((0, "batch"), (2, "height"), (3, "width")):
                dims[i].Clear()
                dims[i].dim_param = name


def export_onnx(
    variant: Variant,
    out: str | Path,
    *,
    target: str | None = None,
    cfg: ExperimentConfig | None = None,
    ema_used: bool = False,
    opset: int = DEFAULT_OPSET,
    parity_sizes: list[tuple[int, int, int]] | None = None,
    tolerance: float = 1e-4,
    extra_metadata: dict[str, str] | None = None,
) -> ExportResult:
    """Export ``variant``'s generator to ``out`` and check it against torch.

    Raises :class:`~deploy.errors.ParityError` (after writing the file, so it can be inspected)
    when ONNX Runtime and torch differ by more than ``tolerance`` anywhere.
    """
    import onnx

    if opset < MIN_OPSET:
        raise ConfigError(f"opset {opset} is too old; use {MIN_OPSET} or newer")
    variant = variant.eval()
    module, multi = export_graph_module(variant, target)
    domains = [str(d) for d in variant.domains]
    batch, height, width = (torch.export.Dim(n, min=1) for n in ("batch", "height", "width"))
    example: tuple[torch.Tensor, ...] = (torch.zeros(2, 3, 64, 64),)
    dynamic: tuple[dict[int, Any], ...] = ({0: batch, 2: height, 3: width},)
    input_names = [INPUT]
    if multi:
        example += (torch.zeros(2, dtype=torch.long),)
        dynamic += ({0: batch},)
        input_names.append(TARGET_INDEX)
    slots = box_slots(module)
    if slots:
        example += (torch.zeros(2, slots, 4), torch.zeros(2, dtype=torch.long))
        dynamic += ({0: batch}, {0: batch})
        input_names += [BOXES, COUNT]
    with torch.no_grad():
        program = torch.onnx.export(
            module,
            example,
            dynamo=True,
            dynamic_shapes=dynamic,
            input_names=input_names,
            output_names=[OUTPUT],
            opset_version=opset,
            optimize=False,
            verbose=False,
        )
    assert program is not None  # dynamo=True always returns a program
    model = program.model_proto
    nodes_before = len(model.graph.node)
    model = optimize_onnx(model)
    _name_output_axes(model)
    metadata = {
        "variant": variant.name,
        "config_hash": _config_hash(cfg),
        "input_range": INPUT_RANGE,
        "normalization": NORMALIZATION,
        "layout": "NCHW",
        "color": "RGB",
        "domains": json.dumps(domains),
        "target": "" if multi else (target or domains[-1]),
        "inputs": json.dumps(input_names),
        "ema": "true" if ema_used else "false",
        "opset": str(opset),
        "train_size": str(cfg.data.crop_size) if cfg is not None else "",
        # the size jobs run the model at by default (reflect.work_size; 0: unknown, images at their own size)
        WORK_SIZE_KEY: str(training_scale(cfg)),
        "box_slots": str(slots),
        **(extra_metadata or {}),
    }
    del model.metadata_props[:]
    onnx.helper.set_model_props(model, metadata)
    model.producer_name = "reflect"
    model.doc_string = f"reflect {metadata['variant']} generator; input {INPUT_RANGE} NCHW RGB"
    onnx.checker.check_model(model, full_check=True)
    path = Path(out)
    result = ExportResult(
        path, metadata, tolerance=tolerance, nodes_before=nodes_before, nodes_after=len(model.graph.node)
    )
    train_size = cfg.data.crop_size if cfg is not None else 256
    sizes = parity_sizes if parity_sizes is not None else default_parity_sizes(train_size)
    with atomic_path(path) as tmp:  # renamed onto ``path`` only once the parity check passed
        tmp.write_bytes(model.SerializeToString())
        result.parity = parity_check(
            module, tmp, sizes, multidomain=multi, n_domains=len(domains), box_slots=slots
        )
        worst = result.max_abs_diff
        if not worst <= tolerance:  # also catches NaN
            raise ParityError(
                f"the ONNX export of {path} differs from torch by {worst:.3g} (tolerance {tolerance:g}) "
                f"at {', '.join(f'{k}: {v:.3g}' for k, v in result.parity.items())}; nothing was written"
            )
    return result


def parity_check(
    module: nn.Module,
    onnx_path: str | Path,
    sizes: list[tuple[int, int, int]],
    *,
    multidomain: bool = False,
    n_domains: int = 2,
    seed: int = 0,
    box_slots: int = 0,
) -> dict[str, float]:
    """Run torch and ONNX Runtime (CPU) on the same random frames; "NxCxHxW" -> max |diff|."""
    import onnxruntime as ort

    session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    gen = torch.Generator().manual_seed(seed)
    diffs: dict[str, float] = {}
    for n, h, w in sizes:
        x = torch.rand(n, 3, h, w, generator=gen) * 2 - 1  # (N,3,H,W) in [-1, 1]
        feeds: dict[str, np.ndarray] = {INPUT: x.numpy()}
        args: tuple[torch.Tensor, ...] = (x,)
        if multidomain:
            idx = torch.arange(n) % n_domains
            feeds[TARGET_INDEX] = idx.numpy()
            args += (idx,)
        if box_slots:
            boxes, count = example_boxes(n, h, w, box_slots, gen)
            feeds |= {BOXES: boxes.numpy(), COUNT: count.numpy()}
            args += (boxes, count)
        with torch.no_grad():
            ref = module(*args).numpy()
        got = session.run([OUTPUT], feeds)[0]
        if got.shape != ref.shape:
            raise ParityError(
                f"ONNX model {onnx_path} returned shape {got.shape} for {x.shape}, torch {ref.shape}"
            )
        diffs[f"{n}x3x{h}x{w}"] = float(np.abs(got - ref).max())
    return diffs


def export_checkpoint(
    checkpoint: str | Path,
    out: str | Path,
    *,
    target: str | None = None,
    use_ema: bool = True,
    **kwargs: Any,
) -> ExportResult:
    """Load a reflect checkpoint (EMA generator when it has one) or a generator file (``.safetensors``)
    and :func:`export_onnx` it."""
    from deploy.model_file import describe_source
    from reflect.loader import load_variant

    src = describe_source(checkpoint, use_ema=use_ema)
    variant, cfg = load_variant(checkpoint, use_ema=use_ema)
    extra = {"checkpoint": src.checkpoint, "step": src.step}
    if src.kind == "generator":
        extra["generator_file"] = src.path.name
    return export_onnx(variant, out, target=target, cfg=cfg, ema_used=src.ema, extra_metadata=extra, **kwargs)


def _config_hash(cfg: ExperimentConfig | None) -> str:
    if cfg is None:
        return ""
    from reflect.config import config_hash

    return config_hash(cfg)
