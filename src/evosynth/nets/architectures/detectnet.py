"""DetectNet: a fully convolutional GoogLeNet with a coverage map and a box-regression head
(NVIDIA DIGITS' DetectNet, Tao, Barker and Sarathy 2016; the cluster paper's KITTI ancestor, §3).

The backbone is GoogLeNet (Szegedy et al. 2015, Table 1) up to inception
5b, without the last pooling, the average pool and the classifier: stride 16
instead of 32, so a 1248×384 KITTI frame gives a 78×24 grid of 16-pixel
cells. DetectNet's two 1×1 heads on inception 5b, the coverage map (one
channel per class: is the cell inside an object?) and the bounding boxes
(four channels per class: the distances from the cell's centre to the
object's left, top, right and bottom edges), are here one 1×1 conv whose
output is ``[coverage logits (C), boxes (4C)]``: the output layer, whose
units compaction never removes (every other layer is pruned like any
conv). Coverage and boxes are decoded in :mod:`evosynth.tasks.detectnet`.

Inception modules concatenate their four branches; the dependency graph
maps each branch's channels to its offset slice of the next layer's input,
so no channel is coupled (as for YOLOv2's passthrough). Every conv is
followed by ReLU; DIGITS' DetectNet has no batch norm (GoogLeNet v1), and
neither has this one (its local response normalisation is left out).
"""

from __future__ import annotations

import torch
from torch import nn

#: GoogLeNet Table 1 from inception 3a to 5b: (#1×1, #3×3 reduce, #3×3, #5×5 reduce, #5×5, pool proj);
#: "M" a 3×3 max pool of stride 2 (DetectNet keeps the one before 4a, drops the one before 5a).
# fmt: off
INCEPTIONS = (
    (64, 96, 128, 16, 32, 32), (128, 128, 192, 32, 96, 64), "M",
    (192, 96, 208, 16, 48, 64), (160, 112, 224, 24, 64, 64), (128, 128, 256, 24, 64, 64),
    (112, 144, 288, 32, 64, 64), (256, 160, 320, 32, 128, 128),
    (256, 160, 320, 32, 128, 128), (384, 192, 384, 48, 128, 128),
)
# fmt: on
STRIDE = 16  # input pixels per output cell


def _width(count: int, width: float) -> int:
    return max(1, round(count * width))


def _conv(in_channels: int, out_channels: int, kernel: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(in_channels, out_channels, kernel, stride, kernel // 2), nn.ReLU())


class Inception(nn.Module):
    """GoogLeNet's inception module (Szegedy et al. 2015, Figure 2b): four branches, concatenated."""

    def __init__(self, in_channels: int, widths: tuple[int, ...]) -> None:
        super().__init__()
        one, reduce3, three, reduce5, five, pool = widths
        self.b1 = _conv(in_channels, one, 1)
        self.b3 = nn.Sequential(_conv(in_channels, reduce3, 1), _conv(reduce3, three, 3))
        self.b5 = nn.Sequential(_conv(in_channels, reduce5, 1), _conv(reduce5, five, 5))
        self.bp = nn.Sequential(nn.MaxPool2d(3, 1, 1), _conv(in_channels, pool, 1))
        self.out_channels = one + three + five + pool

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.b1(x), self.b3(x), self.b5(x), self.bp(x)], dim=1)


class DetectNet(nn.Module):
    """DetectNet for ``num_classes`` classes: (N, 3, H, W) → (N, 5·classes, H/16, W/16).

    H and W multiples of 16 (KITTI in DIGITS: 1248×384; the square prepared
    frames of this project: 416 → a 26×26 grid). ``width`` scales every
    hidden width (1 is GoogLeNet's).
    """

    def __init__(self, in_channels: int = 3, num_classes: int = 2, image_size: int = 416, width: float = 1.0) -> None:
        super().__init__()
        if image_size < STRIDE or image_size % STRIDE:
            raise ValueError(f"DetectNet needs images whose side is a multiple of {STRIDE}, got {image_size}")
        self.input_shape = (in_channels, image_size, image_size)
        self.num_classes = num_classes
        stem = [_width(64, width), _width(64, width), _width(192, width)]
        self.stem = nn.Sequential(
            _conv(in_channels, stem[0], 7, 2), nn.MaxPool2d(3, 2, 1),
            _conv(stem[0], stem[1], 1), _conv(stem[1], stem[2], 3), nn.MaxPool2d(3, 2, 1),
        )
        layers: list[nn.Module] = []
        channels = stem[2]
        for spec in INCEPTIONS:
            if spec == "M":
                layers.append(nn.MaxPool2d(3, 2, 1))
                continue
            module = Inception(channels, tuple(_width(c, width) for c in spec))
            layers.append(module)
            channels = module.out_channels
        self.inceptions = nn.Sequential(*layers)
        self.head = nn.Conv2d(channels, 5 * num_classes, 1)  # coverage (C) and boxes (4C)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.inceptions(self.stem(x)))
