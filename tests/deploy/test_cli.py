"""`reflect bench` and `reflect export` as a user runs them."""

from __future__ import annotations

import importlib.util
import json

import pytest

from reflect.cli import main


def test_bench_onnxruntime_and_torch_table_and_json(exported, tmp_path, capsys) -> None:
    out = tmp_path / "bench.json"
    rc = main(
        [
            "bench",
            "--model",
            str(exported.onnx),
            "--backend",
            "onnxruntime",
            "--size",
            "40x36",
            "--batch",
            "2",
            "--warmup",
            "1",
            "--iters",
            "3",
            "--threads",
            "1",
            "--json",
            str(out),
        ]
    )
    assert rc == 0
    text = capsys.readouterr().out
    assert "median ms" in text and "p99 ms" in text and "frames/s" in text and "onnxruntime" in text
    (result,) = json.loads(out.read_text())["results"]
    assert result["backend"] == "onnxruntime" and result["batch"] == 2 and result["iters"] == 3
    assert (result["height"], result["width"]) == (40, 36)
    assert 0 < result["median_ms"] <= result["p99_ms"]
    assert result["fps"] == pytest.approx(2e3 / result["median_ms"])

    rc = main(
        [
            "bench",
            "--model",
            str(exported.run_dir),
            "--backend",
            "torch",
            "--channels-last",
            "--size",
            "32",
            "--warmup",
            "0",
            "--iters",
            "2",
            "--json",
            "-",
        ]
    )
    assert rc == 0
    (result,) = json.loads(capsys.readouterr().out)["results"]
    assert result["backend"] == "torch" and (result["height"], result["width"]) == (32, 32)


def test_bench_bad_inputs_exit_2_with_one_line(exported, tmp_path, capsys) -> None:
    bad = tmp_path / "cut.onnx"
    bad.write_bytes(exported.onnx.read_bytes()[:4000])
    assert main(["bench", "--model", str(bad), "--iters", "1"]) == 2
    err = capsys.readouterr().err
    assert "cut.onnx" in err and "truncated" in err and len(err.strip().splitlines()) == 1
    assert main(["bench", "--model", "no_such_model", "--iters", "1"]) == 2
    assert "cyclegan" in capsys.readouterr().err  # lists the variants it could have meant
    assert main(["bench", "--model", str(exported.onnx), "--size", "big", "--iters", "1"]) == 2
    assert "HxW" in capsys.readouterr().err
    assert main(["bench", "--model", str(exported.onnx), "--backend", "torch", "--iters", "1"]) == 2
    assert "torch backend needs a training checkpoint" in capsys.readouterr().err


@pytest.mark.skipif(importlib.util.find_spec("tensorrt") is not None, reason="TensorRT is installed here")
def test_export_tensorrt_without_tensorrt_fails_fast(exported, tmp_path, capsys) -> None:
    out = tmp_path / "m.engine"
    rc = main(
        ["export", "--checkpoint", str(exported.run_dir), "--format", "tensorrt", "--out", str(out), "--fp16"]
    )
    assert rc == 2
    assert "TensorRT is not installed" in capsys.readouterr().err
    assert not out.exists() and not out.with_suffix(".onnx").exists()  # refused before the ONNX export


def test_bench_without_model_uses_the_bundled_generator_file(tmp_path, monkeypatch, capsys) -> None:
    """No --model: the bundled generator file, on torch and (exported on the fly) onnxruntime."""
    from tests.bundled.tiny import tiny_generator_file, use_as_bundled

    bundled = use_as_bundled(monkeypatch, tiny_generator_file(tmp_path / "bundled.safetensors"))
    args = ["bench", "--backend", "torch,onnxruntime", "--size", "32", "--warmup", "0", "--iters", "1"]
    assert main([*args, "--threads", "1", "--json", "-"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["model"] == str(bundled)
    assert [r["backend"] for r in payload["results"]] == ["torch", "onnxruntime"]
