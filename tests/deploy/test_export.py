"""ONNX export: parity with torch at two sizes, metadata, dynamic axes, EMA weights, bad files.

Every registered variant's export (trained, through :func:`deploy.export.export_onnx`) is checked by
the contract suite (tests/contract/test_variant_contract.py), from its tiny spec in tests/specs.py.
"""

from __future__ import annotations

import json

import onnx
import pytest
import torch
from torch import nn

from deploy.errors import ModelFileError
from deploy.export import export_onnx, load_onnx, parity_check, read_metadata


def test_cli_export_reports_parity(exported) -> None:
    assert exported.onnx.is_file()
    assert "parity torch vs onnxruntime" in exported.stdout
    assert "1x3x67x45" in exported.stdout  # the size that is not a multiple of the generator stride


def test_export_metadata_axes_and_checker(exported) -> None:
    from reflect.checkpoint import config_from_checkpoint, load_checkpoint
    from reflect.config import config_hash

    model = onnx.load(str(exported.onnx))
    onnx.checker.check_model(model, full_check=True)
    assert max(o.version for o in model.opset_import if o.domain in ("", "ai.onnx")) >= 17
    for value in (model.graph.input[0], model.graph.output[0]):
        dims = value.type.tensor_type.shape.dim
        assert [d.dim_param or d.dim_value for d in dims] == ["batch", 3, "height", "width"]
    meta = read_metadata(exported.onnx)
    cfg = config_from_checkpoint(load_checkpoint(exported.run_dir))
    assert meta["variant"] == "cyclegan"
    assert meta["config_hash"] == config_hash(cfg)
    assert meta["input_range"] == "[-1,1]" and meta["layout"] == "NCHW" and meta["color"] == "RGB"
    assert json.loads(meta["domains"]) == ["A", "B"] and meta["target"] == "B"
    assert meta["ema"] == "true"


def test_onnx_runs_the_ema_generator(exported) -> None:
    """The exported graph is the EMA generator: the raw generator differs from it, the EMA one does not."""
    from reflect.loader import load_variant

    sizes = [(1, 67, 45), (2, 44, 52)]  # 44x52: not a multiple of the 32 px training size
    ema, _ = load_variant(exported.run_dir, use_ema=True)
    raw, _ = load_variant(exported.run_dir, use_ema=False)
    assert max(parity_check(ema.export_module(None).eval(), exported.onnx, sizes).values()) < 1e-4
    assert max(parity_check(raw.export_module(None).eval(), exported.onnx, sizes).values()) > 1e-4


class ThreeDomainToy(nn.Module):
    """A stand-in multi-domain generator: a conv conditioned on a learned per-domain bias."""

    domains = ("clean", "sky", "glare")
    name = "toy3"

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 3, 3, padding=1)
        self.bias = nn.Embedding(3, 3)

    def forward(self, x: torch.Tensor, target_index: torch.Tensor) -> torch.Tensor:
        return torch.tanh(self.conv(x) + self.bias(target_index)[:, :, None, None])

    def export_module(self, target: str | None) -> nn.Module:
        raise AssertionError("multi-domain export must use export_module_multidomain")

    def export_module_multidomain(self) -> nn.Module:
        return self


def test_multidomain_variant_exports_target_index_input(tmp_path) -> None:
    from deploy.ort import OrtTranslator
    from reflect.errors import ConfigError

    toy = ThreeDomainToy().eval()
    result = export_onnx(toy, tmp_path / "md.onnx", parity_sizes=[(3, 67, 45), (2, 20, 30)])
    assert result.max_abs_diff < 1e-4
    model = onnx.load(str(result.path))
    assert [i.name for i in model.graph.input] == ["input", "target_index"]
    assert json.loads(result.metadata["domains"]) == ["clean", "sky", "glare"]
    x = torch.rand(2, 3, 16, 24) * 2 - 1
    glare = OrtTranslator(result.path, target="glare").translate(x)
    with torch.no_grad():
        want = toy(x, torch.tensor([2, 2]))
    assert torch.allclose(glare, want, atol=1e-5)
    with pytest.raises(ConfigError, match="multi-domain"):
        OrtTranslator(result.path)


@pytest.mark.parametrize("keep", [0.5, 0.97])
def test_truncated_onnx_is_reported_by_name(exported, tmp_path, keep: float) -> None:
    data = exported.onnx.read_bytes()
    bad = tmp_path / "cut.onnx"
    bad.write_bytes(data[: int(len(data) * keep)])
    with pytest.raises(ModelFileError, match="cut.onnx"):
        load_onnx(bad)


def test_missing_and_empty_onnx(tmp_path) -> None:
    with pytest.raises(ModelFileError, match="does not exist"):
        load_onnx(tmp_path / "nope.onnx")
    (tmp_path / "empty.onnx").write_bytes(b"")
    with pytest.raises(ModelFileError, match="empty"):
        load_onnx(tmp_path / "empty.onnx")


class ExportLiar(nn.Module):
    """Traces to a different function than it runs eagerly: what a parity check exists to catch."""

    domains = ("A", "B")
    name = "liar"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + 0.01 if torch.compiler.is_exporting() else x

    def export_module(self, target: str | None) -> nn.Module:
        return self


def test_parity_failure_is_an_error(tmp_path) -> None:
    from deploy.errors import ParityError

    with pytest.raises(ParityError, match=r"liar.onnx differs from torch by 0.01"):
        export_onnx(ExportLiar(), tmp_path / "liar.onnx", parity_sizes=[(1, 20, 20)])
