"""Architectures evolved by evosynth, in the papers' shapes."""

from __future__ import annotations

import inspect
from collections.abc import Callable

import torch
from torch import nn

from evosynth.nets.architectures.alexnet import AlexNetCifar
from evosynth.nets.architectures.cifar10_quick import Cifar10Quick
from evosynth.nets.architectures.detectnet import DetectNet
from evosynth.nets.architectures.resnet import ResNet56
from evosynth.nets.architectures.vgg_saliency import VGG16Saliency
from evosynth.nets.architectures.yolov2 import YOLOv2

#: LeNet5-Caffe's conv1 filters, conv2 filters and fc1 neurons.
LENET5_WIDTHS = (20, 50, 500)


class LeNet5(nn.Module):
    """LeNet5-Caffe, 20-50-800-500 (StressedNets Table 1).

    Not the cluster and sexual papers' LeNet-5 (143,136 synapses, 7,200 kernels):
    that is ``cifar10_quick`` (:mod:`evosynth.nets.architectures.cifar10_quick`).

    Caffe's ``lenet_train_test.prototxt``: conv 5×5 (20) → max-pool 2 → conv 5×5
    (50) → max-pool 2 → fc 800→500 → ReLU → fc 500→classes. On 28×28 inputs the
    flattened feature map has 50·4·4 = 800 entries.

    ``widths`` = (conv1 filters, conv2 filters, fc1 neurons) builds the same
    topology narrower, e.g. (4, 8, 16): 4-8-128-16 (the capacity probe,
    docs/method.md §13.7); the default is Caffe's (20, 50, 500).
    """

    def __init__(self, in_channels: int = 1, num_classes: int = 10, image_size: int = 28,
                 widths: tuple[int, int, int] = LENET5_WIDTHS) -> None:
        super().__init__()
        side = ((image_size - 4) // 2 - 4) // 2
        if side < 1:
            raise ValueError(f"LeNet5 needs images of at least 16×16 pixels, got {image_size}")
        if len(widths) != 3 or any(not isinstance(w, int) or w < 1 for w in widths):
            raise ValueError(f"LeNet5 widths are three positive integers (conv1, conv2, fc1), got {widths!r}")
        conv1, conv2, hidden = widths
        self.conv1 = nn.Conv2d(in_channels, conv1, 5)
        self.conv2 = nn.Conv2d(conv1, conv2, 5)
        self.fc1 = nn.Linear(conv2 * side * side, hidden)
        self.fc2 = nn.Linear(hidden, num_classes)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """The last hidden layer (fc1 after ReLU), used by the feature analysis."""
        x = nn.functional.max_pool2d(self.conv1(x), 2)
        x = nn.functional.max_pool2d(self.conv2(x), 2)
        return nn.functional.relu(self.fc1(x.flatten(1)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.features(x))


#: ``name -> constructor(in_channels, num_classes, image_size)``. ``lenet5`` serves
#: MNIST-like (1, 28, 28) and CIFAR-10 (3, 32, 32) inputs alike; ``cifar10_quick`` is the
#: cluster and sexual papers' LeNet-5 (sexual paper §3: 143,136 synapses, 7,200 kernels).
ARCHITECTURES: dict[str, Callable[[int, int, int], nn.Module]] = {
    "lenet5": LeNet5,
    "cifar10_quick": Cifar10Quick,
    "alexnet": AlexNetCifar,
    "resnet56": ResNet56,
    "vgg16_saliency": VGG16Saliency,
    "yolov2": YOLOv2,
    "detectnet": DetectNet,
}


def build_model(
    architecture: str, input_shape: tuple[int, int, int], num_classes: int, *, width: float = 1.0,
    widths: tuple[int, ...] | None = None,
) -> nn.Module:
    """Instantiate ``architecture`` for images of ``input_shape`` = (C, H, W), every hidden width scaled by
    ``width`` (1: the paper's network; ``lenet5`` and ``cifar10_quick`` exist at their papers' widths only);
    ``widths``: LeNet5's own layer widths (None: Caffe's), for the capacity probe."""
    if architecture not in ARCHITECTURES:
        raise ValueError(f"unknown architecture {architecture!r}; allowed: {', '.join(ARCHITECTURES)}")
    channels, height, side = input_shape
    if height != side:
        raise ValueError(f"{architecture} expects square images, got {height}×{side}")
    build = ARCHITECTURES[architecture]
    if width != 1 and "width" not in inspect.signature(build).parameters:
        raise ValueError(f"{architecture} has its paper's widths only, got width {width}")
    if widths is None:
        model = build(channels, num_classes, height, **({"width": width} if width != 1 else {}))
    elif architecture == "lenet5":
        model = LeNet5(channels, num_classes, height, tuple(widths))
    else:
        raise ValueError(f"{architecture}: takes no widths (only lenet5 does), got {tuple(widths)!r}")
    model.input_shape = (channels, height, side)  # read by the dependency-graph analyses (evosynth.nets.coupling)
    return model
