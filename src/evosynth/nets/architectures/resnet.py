"""ResNet-56 for CIFAR-10 (He et al. 2016, "Deep residual learning for image
recognition", §4.2; the cluster paper's second CIFAR-10 ancestor, §3).

6n+2 weighted layers with n = 9: a 3×3 conv of 16 filters, three stages of n
basic blocks (two 3×3 convs each) with 16, 32 and 64 filters on 32×32, 16×16
and 8×8 maps, global average pooling and a fully connected layer to the
classes; batch normalisation after every conv.

Shortcuts: identity inside a stage; at the two stage transitions (channels
double, maps halve) He et al.'s option B, a 1×1 convolution of stride 2 with
batch norm (the projection), instead of their CIFAR option A (subsample and
zero-pad the new channels). The projection is an ordinary conv layer, so its
filters are encoded, synthesised and removed like any other, and every
residual add couples whole channels of equal index: Torch-Pruning's
dependency graph groups the stage's block outputs with the projection that
starts the stage. Option A's zero padding would tie a stage's first half of
channels to the previous stage's channels and leave the padded half without
any producer, which neither the dependency graph nor "a channel dies when all
its producers die" can express. Option B adds 16·32 + 32·64 = 2,560 weights
and 192 batch-norm parameters (0.3 %) to option A's 853,018.
"""

from __future__ import annotations

import torch
from torch import nn

STAGES = (16, 32, 64)  # filters per stage (He et al. §4.2)
BLOCKS = 9  # n: 6n + 2 = 56 weighted layers


def _width(count: int, width: float) -> int:
    return max(1, round(count * width))


class BasicBlock(nn.Module):
    """Two 3×3 conv-BN layers plus the shortcut, ReLU after the add (He et al. Fig. 2)."""

    def __init__(self, in_channels: int, out_channels: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.shortcut: nn.Module = nn.Identity()
        if stride != 1 or in_channels != out_channels:  # option B: projection
            self.shortcut = nn.Sequential(
                nn.Conv2d(in_channels, out_channels, 1, stride=stride, bias=False),
                nn.BatchNorm2d(out_channels),
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = torch.relu(self.bn1(self.conv1(x)))
        return torch.relu(self.bn2(self.conv2(out)) + self.shortcut(x))


class ResNet56(nn.Module):
    """ResNet-56, 16-32-64 filters, 3 stages × 9 basic blocks (He et al. 2016 §4.2, Table 6).

    ``width`` scales the stage widths (1 is the paper).
    """

    def __init__(
        self, in_channels: int = 3, num_classes: int = 10, image_size: int = 32, width: float = 1.0
    ) -> None:
        super().__init__()
        self.input_shape = (in_channels, image_size, image_size)
        if image_size < 4:
            raise ValueError(f"ResNet-56 needs images of at least 4×4 pixels, got {image_size}")
        widths = [_width(c, width) for c in STAGES]
        self.conv1 = nn.Conv2d(in_channels, widths[0], 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(widths[0])
        blocks, channels = [], widths[0]
        for stage, filters in enumerate(widths):
            for block in range(BLOCKS):
                stride = 2 if stage > 0 and block == 0 else 1
                blocks.append(BasicBlock(channels, filters, stride))
                channels = filters
        self.blocks = nn.Sequential(*blocks)
        self.fc = nn.Linear(channels, num_classes)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """The globally average-pooled last stage (the fc layer's input)."""
        x = self.blocks(torch.relu(self.bn1(self.conv1(x))))
        return nn.functional.adaptive_avg_pool2d(x, 1).flatten(1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.features(x))
