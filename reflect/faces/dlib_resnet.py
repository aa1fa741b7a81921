"""A torch port of dlib's face-recognition ResNet (King, dlib ``dnn_face_recognition_ex.cpp``, 2017;
99.38% on LFW), built from ``dlib_face_recognition_resnet_model_v1.dat`` with
:mod:`reflect.faces.dlib_format`.

The network (``anet_type`` in dlib's example) is a 29-layer ResNet (He et al., CVPR 2016) over a
150x150 RGB chip: conv 7x7/2 (32) -> max-pool 3x3/2 -> residual stages of 32, 64, 128, 256, 256
channels -> global average -> fc 256->128 without bias. dlib's ``affine`` layers stand where batch
norm was during training (a per-channel ``gamma * x + beta``). Two dlib details matter for exactness:

* a stride-2 conv has no padding, and the down-sampling shortcut is a 2x2 average pool;
* ``add_prev`` adds tensors of different shapes by zero-padding the smaller one at the end of the
  channel, row and column axes (e.g. 3x3 block output + 4x4 shortcut -> 4x4).

The module is differentiable and ONNX-exportable; its input is (N, 3, 150, 150) in [-1, 1] RGB and
:meth:`forward` returns dlib's raw 128-d descriptor (compare with Euclidean distance, threshold 0.6).
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from reflect.faces.dlib_format import DlibFormatError, DlibLayer, read_dlib_net
from reflect.faces.resources import DLIB_RESNET, dlib_model_path

CHIP_SIZE = 150
DLIB_MEAN_RGB = (122.782, 117.001, 104.298)


class _Affine(nn.Module):
    """dlib's ``affine_`` layer (batch norm folded at inference): y = gamma * x + beta per channel."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.gamma = nn.Parameter(torch.ones(channels))
        self.beta = nn.Parameter(torch.zeros(channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.gamma.view(1, -1, 1, 1) + self.beta.view(1, -1, 1, 1)


def _add_prev(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """dlib ``add_prev``: sum over the union of shapes, the smaller tensor zero-padded at the end."""
    c, h, w = max(a.shape[1], b.shape[1]), max(a.shape[2], b.shape[2]), max(a.shape[3], b.shape[3])

    def grow(t: torch.Tensor) -> torch.Tensor:
        pad = (0, w - t.shape[3], 0, h - t.shape[2], 0, c - t.shape[1])
        return F.pad(t, pad) if any(pad) else t

    return grow(a) + grow(b)


class _Block(nn.Module):
    """``relu(add_prev(block(x), shortcut(x)))`` with block = conv-affine-relu-conv-affine."""

    def __init__(self, cin: int, cout: int, stride: int) -> None:
        super().__init__()
        pad = 1 if stride == 1 else 0  # dlib: padding = size/2 only for stride 1
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, pad)
        self.affine1 = _Affine(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1)
        self.affine2 = _Affine(cout)
        self.down = stride != 1

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.affine2(self.conv2(F.relu(self.affine1(self.conv1(x)))))
        shortcut = F.avg_pool2d(x, 2, 2) if self.down else x
        return F.relu(_add_prev(y, shortcut))


# (channels, stride of the first block, number of blocks), from the input outwards
STAGES = ((32, 1, 3), (64, 2, 4), (128, 2, 3), (256, 2, 3), (256, 2, 1))


class DlibFaceResNet(nn.Module):
    """dlib's face-recognition ResNet in torch. ``forward``: (N,3,150,150) in [-1,1] -> (N,128) raw."""

    mean: torch.Tensor

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 32, 7, 2, 0)
        self.affine1 = _Affine(32)
        blocks: list[nn.Module] = []
        cin = 32
        for cout, stride, n in STAGES:
            for i in range(n):
                blocks.append(_Block(cin, cout, stride if i == 0 else 1))
                cin = cout
        self.blocks = nn.Sequential(*blocks)
        self.fc = nn.Linear(256, 128, bias=False)
        # dlib's input layer: (pixel - mean) / 256 on 0..255 RGB; buffers so .to(device) moves them.
        self.register_buffer("mean", torch.tensor(DLIB_MEAN_RGB).view(1, 3, 1, 1), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.features(x)[1]

    def features(self, x: torch.Tensor) -> tuple[list[torch.Tensor], torch.Tensor]:
        """(the output of each residual stage, from 35x35x32 to 1x1x256; the raw descriptor)."""
        x = ((x + 1.0) * 127.5 - self.mean) / 256.0  # [-1, 1] -> dlib's input scaling
        x = F.relu(self.affine1(self.conv1(x)))
        x = F.max_pool2d(x, 3, 2)  # dlib max_pool<3,3,2,2>: no padding
        stages: list[torch.Tensor] = []
        i = 0
        for _, _, n in STAGES:
            for block in self.blocks[i : i + n]:
                x = block(x)
            i += n
            stages.append(x)
        return stages, self.fc(x.mean(dim=(2, 3)))

    @classmethod
    def from_dlib(cls, path: str | Path | None = None) -> DlibFaceResNet:
        """Build the net and load the weights of a dlib ``.dat`` file (default: the installed model)."""
        path = Path(path) if path is not None else dlib_model_path(DLIB_RESNET)
        net = read_dlib_net(path)
        model = cls()
        model.load_dlib_layers(net.layers, str(path))
        return model.eval()

    def load_dlib_layers(self, layers: list[DlibLayer], source: str) -> None:
        """Copy weights from the parsed layer chain, checking that it has this architecture."""
        convs = [lyr for lyr in layers if lyr.kind == "con"]
        affines = [lyr for lyr in layers if lyr.kind == "affine"]
        fcs = [lyr for lyr in layers if lyr.kind == "fc"]
        ours_c = [m for m in self.modules() if isinstance(m, nn.Conv2d)]
        ours_a = [m for m in self.modules() if isinstance(m, _Affine)]
        if len(convs) != len(ours_c) or len(affines) != len(ours_a) or len(fcs) != 1:
            raise DlibFormatError(
                f"{source}: {len(convs)} conv / {len(affines)} affine / {len(fcs)} fc layers do not match "
                f"dlib's face ResNet ({len(ours_c)} / {len(ours_a)} / 1)"
            )
        with torch.no_grad():
            for lyr, conv in zip(convs, ours_c, strict=True):
                f = lyr.fields
                shape = (f["num_filters"], conv.in_channels, f["nr"], f["nc"])
                if shape != tuple(conv.weight.shape) or (f["stride_y"], f["padding_y"]) != (
                    conv.stride[0],
                    conv.padding[0],
                ):
                    raise DlibFormatError(
                        f"{source}: conv {shape} does not fit the port's {tuple(conv.weight.shape)}"
                    )
                flat = torch.from_numpy(f["params"].reshape(-1))
                n_w = conv.weight.numel()
                conv.weight.copy_(flat[:n_w].view_as(conv.weight))
                assert conv.bias is not None
                conv.bias.copy_(flat[n_w : n_w + conv.bias.numel()])
            for lyr, aff in zip(affines, ours_a, strict=True):
                flat = torch.from_numpy(lyr.fields["params"].reshape(-1))
                k = aff.gamma.numel()
                if flat.numel() != 2 * k:
                    raise DlibFormatError(
                        f"{source}: affine layer has {flat.numel()} values, expected {2 * k}"
                    )
                aff.gamma.copy_(flat[:k])
                aff.beta.copy_(flat[k:])
            w = torch.from_numpy(fcs[0].fields["params"].reshape(256, 128))  # dlib: (inputs, outputs)
            self.fc.weight.copy_(w.t())


def export_onnx(model: DlibFaceResNet, path: str | Path, opset: int = 17) -> Path:
    """Write ``model`` as ONNX (input ``chips`` (N,3,150,150) in [-1,1], output ``descriptors`` (N,128)).

    Uses the TorchScript exporter: the graph is static apart from the batch axis (the input size is
    fixed by dlib's ``input_rgb_image_sized<150>``). Written atomically.
    """
    import warnings

    from reflect.utils.atomic import atomic_path

    x = torch.zeros(1, 3, CHIP_SIZE, CHIP_SIZE)
    with warnings.catch_warnings(), atomic_path(path) as tmp:
        warnings.simplefilter("ignore")  # tracer warnings on add_prev's static shape arithmetic
        torch.onnx.export(
            model.eval().cpu(),
            (x,),
            str(tmp),
            input_names=["chips"],
            output_names=["descriptors"],
            dynamic_axes={"chips": {0: "n"}, "descriptors": {0: "n"}},
            opset_version=opset,
            dynamo=False,
        )
    return Path(path)
