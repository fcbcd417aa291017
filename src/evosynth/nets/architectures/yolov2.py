"""YOLOv2 with a Darknet-19 backbone (Redmon and Farhadi 2017, "YOLO9000: Better,
Faster, Stronger", §2 and Table 6; StressedNets §4.1.3, KITTI car and pedestrian).

Darknet-19's 18 convolutional layers (Table 6, without its classification
conv), then the detection head of ``yolo-voc.cfg``: two 3×3 convs of 1024,
the passthrough layer (the 26×26 map of the last 512-filter conv, squeezed
by a 1×1 conv of 64 and reorganised 2×2 → channels), the concatenation, a
3×3 conv of 1024 and the 1×1 output conv with anchors·(5 + classes) filters
(box x, y, w, h, objectness and class scores per anchor). Every conv but the
output one is followed by batch norm and leaky ReLU (0.1).
"""

from __future__ import annotations

import torch
from torch import nn

#: Darknet-19 (YOLO9000 Table 6): (filters, kernel) per conv, "M" a 2×2 max pool.
# fmt: off
DARKNET19 = (
    (32, 3), "M", (64, 3), "M", (128, 3), (64, 1), (128, 3), "M", (256, 3), (128, 1), (256, 3), "M",
    (512, 3), (256, 1), (512, 3), (256, 1), (512, 3), "M",  # the passthrough taps the last 512 conv
    (1024, 3), (512, 1), (1024, 3), (512, 1), (1024, 3),
)
# fmt: on


def _width(count: int, width: float) -> int:
    return max(1, round(count * width))


def conv_bn(in_channels: int, out_channels: int, kernel: int) -> nn.Sequential:
    """Conv (no bias) → batch norm → leaky ReLU 0.1, Darknet's ``[convolutional]`` block."""
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, kernel, padding=kernel // 2, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.LeakyReLU(0.1),
    )


def reorg(x: torch.Tensor, stride: int = 2) -> torch.Tensor:
    """The passthrough layer: each stride×stride block of positions becomes channels (YOLO9000 §2).

    Written as a concatenation of strided slices (channel k·C + c holds
    channel c at block offset k), which the dependency graph maps channel
    by channel; Darknet's own ``reorg`` orders the channels differently, an
    equivalent permutation for a network trained from scratch.
    """
    return torch.cat([x[:, :, i::stride, j::stride] for i in range(stride) for j in range(stride)], dim=1)


class YOLOv2(nn.Module):
    """YOLOv2 (YOLO9000 Table 6 and ``yolo-voc.cfg``) for ``num_classes`` classes and ``anchors`` boxes.

    Input (N, C, S, S) with S a multiple of 32 (416 in the paper; any, tests
    use 64 or 96); output (N, anchors·(5 + classes), S/32, S/32), raw scores
    for the detection loss. ``width`` scales every hidden width (1 is the paper).
    """

    def __init__(
        self,
        in_channels: int = 3,
        num_classes: int = 2,
        image_size: int = 416,
        anchors: int = 5,
        width: float = 1.0,
    ) -> None:
        super().__init__()
        self.input_shape = (in_channels, image_size, image_size)
        if image_size % 32 or image_size < 32:
            raise ValueError(f"YOLOv2 needs a multiple of 32 pixels, got {image_size}")
        self.anchors, self.num_classes = anchors, num_classes
        stages: list[list[nn.Module]] = [[]]
        channels = in_channels
        for layer in DARKNET19:
            if layer == "M":
                stages.append([nn.MaxPool2d(2, 2)])
                continue
            filters, kernel = layer
            stages[-1].append(conv_bn(channels, _width(filters, width), kernel))
            channels = _width(filters, width)
        self.backbone = nn.Sequential(*(nn.Sequential(*s) for s in stages[:-1]))  # to the passthrough tap
        self.backbone2 = nn.Sequential(*stages[-1])
        tap = _width(512, width)
        wide = _width(1024, width)
        self.head = nn.Sequential(conv_bn(channels, wide, 3), conv_bn(wide, wide, 3))
        self.passthrough = conv_bn(tap, _width(64, width), 1)
        self.fuse = conv_bn(4 * _width(64, width) + wide, wide, 3)
        self.output = nn.Conv2d(wide, anchors * (5 + num_classes), 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        fine = self.backbone(x)
        coarse = self.head(self.backbone2(fine))
        return self.output(self.fuse(torch.cat([reorg(self.passthrough(fine)), coarse], dim=1)))
