"""A reader for dlib's binary serialisation of DNNs (``*.dat`` files written by ``dlib::serialize``).

Format (dlib/serialize.h, dlib/dnn/core.h, layers.h, input.h), as needed for the face-recognition
ResNet of King's ``dnn_face_recognition_ex.cpp`` (``dlib_face_recognition_resnet_model_v1.dat``):

* integers: a control byte (bit 7 = negative, low 4 bits = byte count) then the absolute value,
  little endian;
* floats: ``float_details`` = (mantissa int64, exponent int16), value = mantissa * 2**exponent;
* bools: the ASCII characters ``'1'``/``'0'``; strings: length, then the bytes;
* tensors: version 2, (num_samples, k, nr, nc), then raw little-endian float32 values;
* networks nest: ``add_loss_layer`` writes (version, loss details, subnet); ``add_layer`` writes
  (version, subnet, details, 3 bools, 3 tensors); the innermost ``add_layer`` over the input layer
  (version 3) writes the input layer, details, 3 bools, 3 tensors and its sample expansion factor;
  tag and skip layers write only (version, subnet). So the file holds every header first and then the
  layers' details from the input outwards, which is the order :func:`read_dlib_net` returns them in.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from reflect.errors import ReflectError


class DlibFormatError(ReflectError, ValueError):
    """A dlib ``.dat`` file is truncated, corrupt, or holds a layer this reader does not know."""


@dataclass
class DlibLayer:
    """One computational layer: its dlib name (``con``, ``affine``, ...) and decoded fields."""

    kind: str
    fields: dict[str, Any] = field(default_factory=dict)


@dataclass
class DlibNet:
    loss: str
    loss_fields: dict[str, float]
    input: str
    input_fields: dict[str, Any]
    layers: list[DlibLayer]  # from the input outwards


class _Reader:
    def __init__(self, data: bytes, path: str) -> None:
        self.b = data
        self.p = 0
        self.path = path

    def _need(self, n: int) -> None:
        if self.p + n > len(self.b):
            raise DlibFormatError(f"{self.path}: truncated at byte {self.p} (needed {n} more bytes)")

    def read_int(self) -> int:
        self._need(1)
        ctrl = self.b[self.p]
        n = ctrl & 0x0F
        if ctrl & 0x70 or n > 8:
            raise DlibFormatError(
                f"{self.path}: byte {self.p} is not a dlib integer (control byte {ctrl:#x})"
            )
        self._need(1 + n)
        v = int.from_bytes(self.b[self.p + 1 : self.p + 1 + n], "little")
        self.p += 1 + n
        return -v if ctrl & 0x80 else v

    def read_float(self) -> float:
        mantissa, exponent = self.read_int(), self.read_int()
        return float(mantissa) * 2.0**exponent

    def read_bool(self) -> bool:
        self._need(1)
        c = self.b[self.p]
        if c not in (0x30, 0x31):
            raise DlibFormatError(f"{self.path}: byte {self.p} is not a dlib bool ({c:#x})")
        self.p += 1
        return c == 0x31

    def read_string(self) -> str:
        n = self.read_int()
        self._need(n)
        s = self.b[self.p : self.p + n]
        self.p += n
        try:
            return s.decode("ascii")
        except UnicodeDecodeError:
            raise DlibFormatError(f"{self.path}: expected a layer name at byte {self.p - n}") from None

    def read_tensor(self) -> np.ndarray:
        version = self.read_int()
        if version != 2:
            raise DlibFormatError(f"{self.path}: tensor version {version} at byte {self.p} (expected 2)")
        dims = tuple(self.read_int() for _ in range(4))
        count = int(np.prod(dims))
        self._need(4 * count)
        arr = np.frombuffer(self.b, dtype="<f4", count=count, offset=self.p).reshape(dims).copy()
        self.p += 4 * count
        return arr

    def read_alias_tensor(self) -> tuple[int, int, int, int]:
        if self.read_int() != 1:
            raise DlibFormatError(f"{self.path}: unexpected alias_tensor version at byte {self.p}")
        return (self.read_int(), self.read_int(), self.read_int(), self.read_int())


def _read_details(r: _Reader, name: str) -> DlibLayer:
    if name in ("con_4", "con_5"):
        f: dict[str, Any] = {"params": r.read_tensor()}
        for k in ("num_filters", "nr", "nc", "stride_y", "stride_x", "padding_y", "padding_x"):
            f[k] = r.read_int()
        f["filters"], f["biases"] = r.read_alias_tensor(), r.read_alias_tensor()
        f["multipliers"] = [r.read_float() for _ in range(4)]
        if name == "con_5":
            f["use_bias"] = r.read_bool()
        return DlibLayer("con", f)
    if name == "affine_":
        f = {
            "params": r.read_tensor(),
            "gamma": r.read_alias_tensor(),
            "beta": r.read_alias_tensor(),
            "mode": r.read_int(),
        }
        return DlibLayer("affine", f)
    if name in ("fc_", "fc_2"):
        f = {"num_outputs": r.read_int(), "num_inputs": r.read_int(), "params": r.read_tensor()}
        f["weights"], f["biases"] = r.read_alias_tensor(), r.read_alias_tensor()
        f["bias_mode"] = r.read_int()
        if name == "fc_2":
            f["multipliers"] = [r.read_float() for _ in range(4)]
        return DlibLayer("fc", f)
    if name in ("max_pool_2", "avg_pool_2"):
        keys = ("nr", "nc", "stride_y", "stride_x", "padding_y", "padding_x")
        return DlibLayer(name[:-2], {k: r.read_int() for k in keys})
    if name in ("relu_", "add_prev_"):
        return DlibLayer(name[:-1])
    raise DlibFormatError(f"{r.path}: layer type {name!r} at byte {r.p} is not supported by this reader")


def read_dlib_net(path: str | Path) -> DlibNet:
    """Parse a dlib DNN file whose layers are a chain of conv/affine/relu/pool/add_prev/fc."""
    p = Path(path)
    if not p.is_file():
        raise DlibFormatError(f"dlib model file {p} does not exist")
    r = _Reader(p.read_bytes(), str(p))
    if r.read_int() != 1:
        raise DlibFormatError(f"{p}: not a dlib network file (bad loss-layer version)")
    loss = r.read_string()
    if loss != "loss_metric_2":
        raise DlibFormatError(f"{p}: loss layer {loss!r} is not supported (expected loss_metric_2)")
    loss_fields = {"margin": r.read_float(), "dist_thresh": r.read_float()}
    # Headers: add_layer = 2, tag/skip = 1, then 3 for the add_layer that wraps the input layer.
    n_add = 1
    while (version := r.read_int()) != 3:
        if version not in (1, 2):
            raise DlibFormatError(f"{p}: unexpected layer header {version} at byte {r.p}")
        n_add += version == 2
    input_name = r.read_string()
    if input_name != "input_rgb_image_sized":
        raise DlibFormatError(f"{p}: input layer {input_name!r} is not supported")
    input_fields = {
        "mean_rgb": (r.read_float(), r.read_float(), r.read_float()),
        "nr": r.read_int(),
        "nc": r.read_int(),
    }
    layers: list[DlibLayer] = []
    for i in range(n_add):
        layers.append(_read_details(r, r.read_string()))
        for _ in range(3):
            r.read_bool()
        for _ in range(3):
            r.read_tensor()  # x_grad, cached_output, params_grad / grad_final: empty in a saved model
        if i == 0:
            r.read_int()  # sample expansion factor of the input add_layer
    if r.p != len(r.b):
        raise DlibFormatError(f"{p}: {len(r.b) - r.p} unread bytes after the last layer")
    return DlibNet(loss, loss_fields, input_name, input_fields, layers)
