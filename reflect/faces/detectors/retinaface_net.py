"""RetinaFace (Deng et al., "RetinaFace: Single-stage Dense Face Localisation in the Wild", CVPR 2020)
as laid out by biubug6/Pytorch_Retinaface, so its checkpoints (``mobilenet0.25_Final.pth``,
``Resnet50_Final.pth``) load by state-dict key: a MobileNet-0.25 or ResNet-50 body, a 3-level FPN,
SSH context modules and per-level class / box / 5-landmark heads with 2 anchors per location.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

CONFIGS: dict[str, dict[str, Any]] = {
    "mobilenet0.25": {"in_channel": 32, "out_channel": 64},
    "resnet50": {"in_channel": 256, "out_channel": 256},
}
MIN_SIZES = ((16, 32), (64, 128), (256, 512))
STEPS = (8, 16, 32)
VARIANCE = (0.1, 0.2)
MEAN_BGR = (104.0, 117.0, 123.0)


def conv_bn(
    inp: int, oup: int, stride: int = 1, leaky: float = 0.0, relu: bool = True, k: int = 3
) -> nn.Sequential:
    layers: list[nn.Module] = [nn.Conv2d(inp, oup, k, stride, k // 2, bias=False), nn.BatchNorm2d(oup)]
    if relu:
        layers.append(nn.LeakyReLU(negative_slope=leaky, inplace=True))
    return nn.Sequential(*layers)


def conv_dw(inp: int, oup: int, stride: int, leaky: float = 0.1) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(inp, inp, 3, stride, 1, groups=inp, bias=False),
        nn.BatchNorm2d(inp),
        nn.LeakyReLU(negative_slope=leaky, inplace=True),
        nn.Conv2d(inp, oup, 1, 1, 0, bias=False),
        nn.BatchNorm2d(oup),
        nn.LeakyReLU(negative_slope=leaky, inplace=True),
    )


class MobileNetV1Body(nn.Module):
    """MobileNet-0.25 (Howard et al., 2017) up to its three feature stages (strides 8, 16, 32)."""

    def __init__(self) -> None:
        super().__init__()
        self.stage1 = nn.Sequential(
            conv_bn(3, 8, 2, leaky=0.1),
            conv_dw(8, 16, 1),
            conv_dw(16, 32, 2),
            conv_dw(32, 32, 1),
            conv_dw(32, 64, 2),
            conv_dw(64, 64, 1),
        )
        self.stage2 = nn.Sequential(conv_dw(64, 128, 2), *[conv_dw(128, 128, 1) for _ in range(5)])
        self.stage3 = nn.Sequential(conv_dw(128, 256, 2), conv_dw(256, 256, 1))

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        c1 = self.stage1(x)
        c2 = self.stage2(c1)
        return [c1, c2, self.stage3(c2)]


class ResNet50Body(nn.Module):
    """torchvision's ResNet-50 (He et al., 2016) without its head; features of layer2-4."""

    def __init__(self) -> None:
        super().__init__()
        from torchvision.models import resnet50

        r = resnet50(weights=None)
        self.conv1, self.bn1, self.relu, self.maxpool = r.conv1, r.bn1, r.relu, r.maxpool
        self.layer1, self.layer2, self.layer3, self.layer4 = r.layer1, r.layer2, r.layer3, r.layer4

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        x = self.layer1(self.maxpool(self.relu(self.bn1(self.conv1(x)))))
        c2 = self.layer2(x)
        c3 = self.layer3(c2)
        return [c2, c3, self.layer4(c3)]


class FPN(nn.Module):
    """Feature pyramid (Lin et al., CVPR 2017): 1x1 laterals, nearest upsampling, 3x3 merges."""

    def __init__(self, in_channels: list[int], out: int) -> None:
        super().__init__()
        leaky = 0.1 if out <= 64 else 0.0
        self.output1 = conv_bn(in_channels[0], out, leaky=leaky, k=1)
        self.output2 = conv_bn(in_channels[1], out, leaky=leaky, k=1)
        self.output3 = conv_bn(in_channels[2], out, leaky=leaky, k=1)
        self.merge1 = conv_bn(out, out, leaky=leaky)
        self.merge2 = conv_bn(out, out, leaky=leaky)

    def forward(self, feats: list[torch.Tensor]) -> list[torch.Tensor]:
        o1, o2, o3 = self.output1(feats[0]), self.output2(feats[1]), self.output3(feats[2])
        o2 = self.merge2(o2 + F.interpolate(o3, size=o2.shape[-2:], mode="nearest"))
        o1 = self.merge1(o1 + F.interpolate(o2, size=o1.shape[-2:], mode="nearest"))
        return [o1, o2, o3]


class SSH(nn.Module):
    """Single-stage headless context module (Najibi et al., ICCV 2017): 3x3, 5x5, 7x7 receptive fields."""

    def __init__(self, inp: int, out: int) -> None:
        super().__init__()
        leaky = 0.1 if out <= 64 else 0.0
        self.conv3X3 = conv_bn(inp, out // 2, relu=False)
        self.conv5X5_1 = conv_bn(inp, out // 4, leaky=leaky)
        self.conv5X5_2 = conv_bn(out // 4, out // 4, relu=False)
        self.conv7X7_2 = conv_bn(out // 4, out // 4, leaky=leaky)
        self.conv7x7_3 = conv_bn(out // 4, out // 4, relu=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        c5 = self.conv5X5_1(x)
        out = torch.cat([self.conv3X3(x), self.conv5X5_2(c5), self.conv7x7_3(self.conv7X7_2(c5))], 1)
        return F.relu(out)


class _Head(nn.Module):
    def __init__(self, inp: int, per_anchor: int, anchors: int = 2) -> None:
        super().__init__()
        self.per_anchor = per_anchor
        self.conv1x1 = nn.Conv2d(inp, anchors * per_anchor, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv1x1(x).permute(0, 2, 3, 1)
        return out.reshape(out.shape[0], -1, self.per_anchor)


class RetinaFaceNet(nn.Module):
    """Input (B,3,H,W) BGR minus (104,117,123); output (loc (B,P,4), scores (B,P), landmarks (B,P,10))."""

    def __init__(self, backbone: str = "mobilenet0.25") -> None:
        super().__init__()
        if backbone not in CONFIGS:
            raise ValueError(f"RetinaFace backbone must be one of {sorted(CONFIGS)}, not {backbone!r}")
        cfg = CONFIGS[backbone]
        self.body: nn.Module = MobileNetV1Body() if backbone == "mobilenet0.25" else ResNet50Body()
        c, out = cfg["in_channel"], cfg["out_channel"]
        self.fpn = FPN([c * 2, c * 4, c * 8], out)
        self.ssh1, self.ssh2, self.ssh3 = SSH(out, out), SSH(out, out), SSH(out, out)
        self.ClassHead = nn.ModuleList([_Head(out, 2) for _ in range(3)])
        self.BboxHead = nn.ModuleList([_Head(out, 4) for _ in range(3)])
        self.LandmarkHead = nn.ModuleList([_Head(out, 10) for _ in range(3)])

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        f1, f2, f3 = self.fpn(self.body(x))
        feats = [self.ssh1(f1), self.ssh2(f2), self.ssh3(f3)]
        loc = torch.cat([h(f) for h, f in zip(self.BboxHead, feats, strict=True)], 1)
        conf = torch.cat([h(f) for h, f in zip(self.ClassHead, feats, strict=True)], 1)
        lms = torch.cat([h(f) for h, f in zip(self.LandmarkHead, feats, strict=True)], 1)
        return loc, conf.softmax(-1)[..., 1], lms


def priors(height: int, width: int, device: torch.device | None = None) -> torch.Tensor:
    """Anchor boxes (P, 4) as (cx, cy, w, h) relative to the image, in the heads' output order."""
    out = []
    for (s1, s2), step in zip(MIN_SIZES, STEPS, strict=True):
        fh, fw = -(-height // step), -(-width // step)
        ys, xs = torch.meshgrid(
            torch.arange(fh, device=device), torch.arange(fw, device=device), indexing="ij"
        )
        cx = (xs.reshape(-1, 1).float() + 0.5) * step / width
        cy = (ys.reshape(-1, 1).float() + 0.5) * step / height
        sizes = torch.tensor([s1, s2], dtype=torch.float32, device=device)
        w = (sizes / width).expand(cx.shape[0], 2)
        h = (sizes / height).expand(cx.shape[0], 2)
        out.append(torch.stack([cx.expand_as(w), cy.expand_as(w), w, h], -1).reshape(-1, 4))
    return torch.cat(out, 0)


def decode(loc: torch.Tensor, lms: torch.Tensor, pri: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """SSD-style decoding: boxes (P, 4) x1y1x2y2 and landmarks (P, 5, 2), relative to the image."""
    v0, v1 = VARIANCE
    centre = pri[:, :2] + loc[:, :2] * v0 * pri[:, 2:]
    size = pri[:, 2:] * torch.exp(loc[:, 2:] * v1)
    boxes = torch.cat([centre - size / 2, centre + size / 2], 1)
    points = pri[:, None, :2] + lms.view(-1, 5, 2) * v0 * pri[:, None, 2:]
    return boxes, points
