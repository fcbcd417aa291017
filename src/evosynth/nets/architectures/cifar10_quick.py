"""The cluster and sexual papers' "LeNet-5": Caffe's CIFAR-10 quick network, 32-32-64-64.

The sexual paper (§3) gives its ancestor's size: 143,136 synapses and 7,200
kernels with a 1-channel input (MNIST), 144,736 and 7,264 with 3 channels
(CIFAR-10), "corresponding to a ... LeNet architecture [16]". LeNet5-Caffe
(20-50-800-500, StressedNets Table 1) has 430,500 synapses and 1,020 kernels,
so it is not that network. Two more input channels add 64 kernels and 1,600
synapses: conv1 has 32 filters of 5×5. Caffe's ``cifar10_quick`` (conv 5×5
32 → max-pool 3/2 → conv 5×5 32 → avg-pool 3/2 → conv 5×5 64 → avg-pool 3/2
→ ip 64·4·4 → 64 → ip 64 → classes) gives exactly both pairs when the
inner-product layer ip1 is counted as 64×64 kernels of 4×4 (it is one: an
inner product over a 64-channel 4×4 map) and the classifier's 64·10 synapses
are not counted::

    kernels   32·C + 32·32 + 32·64 + 64·64      = 7,200 (C = 1), 7,264 (C = 3)
    synapses  800·C + 25,600 + 51,200 + 65,536   = 143,136 (C = 1), 144,736 (C = 3)

ip1 is therefore a convolution whose kernel covers the whole last feature
map (identical to Caffe's InnerProduct), so its kernels are clusters like any
conv's. Inputs smaller than 32×32 are zero-padded to 32×32 (MNIST as in
LeCun et al. 1998), so the 1-channel network has the paper's counts on 28×28
images too. Pooling rounds up, as Caffe's does (32 → 16 → 8 → 4).
"""

from __future__ import annotations

import math

import torch
from torch import nn

#: The sexual paper's ancestor sizes (§3): input channels -> (synapses, kernels), classifier not counted.
PAPER_COUNTS = {1: (143_136, 7_200), 3: (144_736, 7_264)}


def _pooled(side: int) -> int:
    return math.ceil((side - 3) / 2) + 1


class Cifar10Quick(nn.Module):
    """Caffe ``cifar10_quick``: the LeNet-5 of the cluster and sexual papers (counts: module docstring)."""

    def __init__(self, in_channels: int = 1, num_classes: int = 10, image_size: int = 32) -> None:
        super().__init__()
        if image_size < 16:
            raise ValueError(f"cifar10_quick needs images of at least 16×16 pixels, got {image_size}")
        self.pad = max(0, 32 - image_size) // 2
        side = _pooled(_pooled(_pooled(image_size + 2 * self.pad)))
        self.conv1 = nn.Conv2d(in_channels, 32, 5, padding=2)
        self.conv2 = nn.Conv2d(32, 32, 5, padding=2)
        self.conv3 = nn.Conv2d(32, 64, 5, padding=2)
        self.ip1 = nn.Conv2d(64, 64, side)  # Caffe's ip1: an inner product over the 64·side·side map
        self.ip2 = nn.Linear(64, num_classes)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """The last hidden layer (ip1; the Caffe network has no ReLU after it)."""
        if self.pad:
            x = nn.functional.pad(x, (self.pad,) * 4)
        x = nn.functional.relu(nn.functional.max_pool2d(self.conv1(x), 3, 2, ceil_mode=True))
        x = nn.functional.avg_pool2d(nn.functional.relu(self.conv2(x)), 3, 2, ceil_mode=True)
        x = nn.functional.avg_pool2d(nn.functional.relu(self.conv3(x)), 3, 2, ceil_mode=True)
        return self.ip1(x).flatten(1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.ip2(self.features(x))
