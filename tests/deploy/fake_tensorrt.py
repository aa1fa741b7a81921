"""A stand-in for the ``tensorrt`` module that records what our builder asks of it.

It checks our own calls (profile shapes, flags, precision constraints, cache keys) and nothing
about TensorRT itself: layers are made one per ONNX node, with the node's name.
"""

from __future__ import annotations

import types
from typing import Any

import onnx

LAYER_TYPES = {
    "Conv": "CONVOLUTION",
    "ConvTranspose": "DECONVOLUTION",
    "InstanceNormalization": "NORMALIZATION",
}


class Logger:
    WARNING = 2

    def __init__(self, level: int) -> None:
        self.level = level


class Tensor:
    def __init__(self, name: str, dtype: str) -> None:
        self.name, self.dtype = name, dtype


class Layer:
    def __init__(self, name: str, kind: str) -> None:
        self.name, self.type = name, kind
        self.precision: Any = None
        self.num_outputs = 1
        self.output_types: dict[int, Any] = {}

    def set_output_type(self, index: int, dtype: Any) -> None:
        self.output_types[index] = dtype


class Network:
    def __init__(self) -> None:
        self.inputs: list[Tensor] = []
        self.layers: list[Layer] = []

    @property
    def num_inputs(self) -> int:
        return len(self.inputs)

    def get_input(self, i: int) -> Tensor:
        return self.inputs[i]

    @property
    def num_layers(self) -> int:
        return len(self.layers)

    def get_layer(self, i: int) -> Layer:
        return self.layers[i]


class OnnxParser:
    def __init__(self, network: Network, logger: Logger) -> None:
        self.network = network
        self.num_errors = 0

    def parse(self, data: bytes) -> bool:
        model = onnx.load_from_string(data)
        dtypes = {1: "float32", 7: "int64"}
        self.network.inputs = [
            Tensor(i.name, dtypes[i.type.tensor_type.elem_type]) for i in model.graph.input
        ]
        self.network.layers = [Layer(n.name, LAYER_TYPES.get(n.op_type, "OTHER")) for n in model.graph.node]
        return True


class Profile:
    def __init__(self) -> None:
        self.shapes: dict[str, tuple[Any, Any, Any]] = {}

    def set_shape(self, name: str, lo: Any, opt: Any, hi: Any) -> None:
        self.shapes[name] = (tuple(lo), tuple(opt), tuple(hi))


class BuilderConfig:
    def __init__(self) -> None:
        self.flags: set[str] = set()
        self.profiles: list[Profile] = []
        self.calibration_profile: Profile | None = None
        self.int8_calibrator: Any = None
        self.pools: dict[str, int] = {}

    def set_flag(self, flag: str) -> None:
        self.flags.add(flag)

    def set_memory_pool_limit(self, pool: str, size: int) -> None:
        self.pools[pool] = size

    def add_optimization_profile(self, profile: Profile) -> int:
        self.profiles.append(profile)
        return len(self.profiles) - 1

    def set_calibration_profile(self, profile: Profile) -> None:
        self.calibration_profile = profile


class CalibratorBase:
    def __init__(self) -> None:
        pass


def make_fake_tensorrt(version: str = "10.3.0") -> types.SimpleNamespace:
    trt = types.SimpleNamespace(__version__=version, builds=[])

    class Builder:
        def __init__(self, logger: Logger) -> None:
            self.logger = logger

        def create_network(self, flags: int) -> Network:
            assert flags == 0, "TensorRT 10 networks are explicit-batch; flags must be 0"
            return Network()

        def create_optimization_profile(self) -> Profile:
            return Profile()

        def create_builder_config(self) -> BuilderConfig:
            return BuilderConfig()

        def build_serialized_network(self, network: Network, config: BuilderConfig) -> bytes:
            trt.builds.append((network, config))
            return f"engine #{len(trt.builds)}".encode()

    trt.Builder, trt.OnnxParser, trt.Logger = Builder, OnnxParser, Logger
    trt.IInt8EntropyCalibrator2 = CalibratorBase
    trt.LayerType = types.SimpleNamespace(
        CONVOLUTION="CONVOLUTION", DECONVOLUTION="DECONVOLUTION", NORMALIZATION="NORMALIZATION"
    )
    trt.BuilderFlag = types.SimpleNamespace(FP16="FP16", INT8="INT8", OBEY_PRECISION_CONSTRAINTS="OBEY")
    trt.MemoryPoolType = types.SimpleNamespace(WORKSPACE="WORKSPACE")
    trt.float32, trt.float16, trt.int32, trt.int64, trt.int8, trt.bool = (
        "float32",
        "float16",
        "int32",
        "int64",
        "int8",
        "bool",
    )
    return trt
