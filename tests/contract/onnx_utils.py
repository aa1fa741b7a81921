"""A small ONNX export + ONNX Runtime helper for the contract suite (deploy/ has the real CLI)."""

from __future__ import annotations

import io
import warnings

import numpy as np
import torch
from torch import nn

OPSET = 18


def export_dynamic(module: nn.Module, example: torch.Tensor) -> tuple[bytes, str]:
    """Export ``module`` with dynamic batch, height and width; returns (model bytes, exporter used).

    The dynamo exporter (what deploy/ uses) is tried first; the TorchScript exporter only if it fails.
    """
    module = module.eval()
    dim = torch.export.Dim.DYNAMIC
    try:
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")
            program = torch.onnx.export(
                module,
                (example,),
                dynamo=True,
                dynamic_shapes=({0: dim, 2: dim, 3: dim},),
                input_names=["image"],
                output_names=["out"],
                opset_version=OPSET,
                optimize=False,
                verbose=False,
            )
        return program.model_proto.SerializeToString(), "dynamo"
    except Exception as e:  # noqa: BLE001 - fall back, and say so in the result
        warnings.warn(
            f"dynamo ONNX export failed ({type(e).__name__}); using the TorchScript exporter", stacklevel=2
        )
    buf = io.BytesIO()
    axes = {0: "batch", 2: "height", 3: "width"}
    with torch.no_grad():
        torch.onnx.export(
            module,
            (example,),
            buf,
            dynamo=False,
            opset_version=OPSET,
            input_names=["image"],
            output_names=["out"],
            dynamic_axes={"image": axes, "out": axes},
        )
    return buf.getvalue(), "torchscript"


def run_onnx(model: bytes, x: torch.Tensor) -> np.ndarray:
    import onnxruntime as ort

    sess = ort.InferenceSession(model, providers=["CPUExecutionProvider"])
    return sess.run(None, {sess.get_inputs()[0].name: x.numpy()})[0]
