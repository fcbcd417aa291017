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


class LeNet5(nn.Module):
    """LeNet5-Caffe, 20-50-800-500 (StressedNets Table 1).

    Not the cluster and sexual papers' LeNet-5 (143,136 synapses, 7,200 kernels):
    that is ``cifar10_quick`` (:mod:`evosynth.nets.architectures.cifar10_quick`).

    Caffe's ``lenet_train_test.prototxt``: conv 5×5 (20) → max-pool 2 → conv 5×5
    (50) → max-pool 2 → fc 800→500 → ReLU → fc 500→classes. On 28×28 inputs the
    flattened feature map has 50·4·4 = 800 entries.
    """

    def __init__(self, in_channels: int = 1, num_classes: int = 10, image_size: int = 28) -> None:
        super().__init__()
        side = ((image_size - 4) // 2 - 4) // 2
        if side < 1:
            raise ValueError(f"LeNet5 needs images of at least 16×16 pixels, got {image_size}")
        self.conv1 = nn.Conv2d(in_channels, 20, 5)
        self.conv2 = nn.Conv2d(20, 50, 5)
        self.fc1 = nn.Linear(50 * side * side, 500)
        self.fc2 = nn.Linear(500, num_classes)

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
    architecture: str, input_shape: tuple[int, int, int], num_classes: int, width: float = 1.0
) -> nn.Module:
    """Instantiate ``architecture`` for images of ``input_shape`` = (C, H, W), every hidden width scaled by
    ``width`` (1: the paper's network; ``lenet5`` and ``cifar10_quick`` exist at their papers' widths only)."""
    if architecture not in ARCHITECTURES:
        raise ValueError(f"unknown architecture {architecture!r}; allowed: {', '.join(ARCHITECTURES)}")
    channels, height, side = input_shape
    if height != side:
        raise ValueError(f"{architecture} expects square images, got {height}×{side}")
    build = ARCHITECTURES[architecture]
    if width != 1 and "width" not in inspect.signature(build).parameters:
        raise ValueError(f"{architecture} has its paper's widths only, got width {width}")
    model = build(channels, num_classes, height, **({"width": width} if width != 1 else {}))
    model.input_shape = (channels, height, side)  # read by the dependency-graph analyses (evosynth.nets.coupling)
    return model
