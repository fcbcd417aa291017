"""AlexNet for CIFAR-10 (StressedNets §4.1.2 and Table 2; cluster paper §3).

96-256-384-384-256 conv filters, 5×5 kernels in the first two conv layers and
3×3 in the rest (StressedNets §4.1.2; the cluster paper's 5×5×3 first layer),
then fully connected 4096-4096 and the classes.
"""

from __future__ import annotations

import torch
from torch import nn

#: Conv filters and kernel sizes (StressedNets §4.1.2), hidden fc neurons (Table 2).
CONVS = ((96, 5), (256, 5), (384, 3), (384, 3), (256, 3))
HIDDEN = (4096, 4096)


def _width(count: int, width: float) -> int:
    return max(1, round(count * width))


class AlexNetCifar(nn.Module):
    """AlexNet, 96-256-384-384-256-4096-4096 (StressedNets Table 2), for 32×32 images.

    Krizhevsky et al.'s layer order with overlapping 3×3/2 max pooling after
    conv1, conv2 and conv5 (padded so that 32 → 16 → 8 → 4) and dropout 0.5
    before each hidden fc layer. On 32×32 inputs conv5's map is 256·4·4 = 4096
    features, so the paper's string 96-256-384-384-256-4096-4096 reads the same
    whether its sixth number is fc1's input width or its neurons (StressedNet's
    18-39-58-60-40-640-64 has 640 = 40·4·4). Local response normalisation is
    left out: it mixes neighbouring channels by position, so removing a
    filter would change its neighbours' outputs and compaction would no longer
    compute what the masked network computes. ``width`` scales every hidden
    width (1 is the paper; tests use less).
    """

    def __init__(
        self, in_channels: int = 3, num_classes: int = 10, image_size: int = 32, width: float = 1.0
    ) -> None:
        super().__init__()
        self.input_shape = (in_channels, image_size, image_size)
        if image_size < 8:
            raise ValueError(f"AlexNet needs images of at least 8×8 pixels, got {image_size}")
        convs, channels = [], in_channels
        for filters, kernel in CONVS:
            convs.append(nn.Conv2d(channels, _width(filters, width), kernel, padding=kernel // 2))
            channels = _width(filters, width)
        self.convs = nn.ModuleList(convs)
        side = image_size
        for _ in range(3):
            side = (side - 1) // 2 + 1  # 3×3 pooling, stride 2, padding 1
        hidden = [_width(n, width) for n in HIDDEN]
        self.fc1 = nn.Linear(channels * side * side, hidden[0])
        self.fc2 = nn.Linear(hidden[0], hidden[1])
        self.fc3 = nn.Linear(hidden[1], num_classes)
        self.dropout = nn.Dropout(0.5)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """The last hidden layer (fc2 after ReLU)."""
        for k, conv in enumerate(self.convs):
            x = torch.relu(conv(x))
            if k in (0, 1, 4):
                x = nn.functional.max_pool2d(x, 3, stride=2, padding=1)
        x = torch.relu(self.fc1(self.dropout(x.flatten(1))))
        return torch.relu(self.fc2(self.dropout(x)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc3(self.features(x))
