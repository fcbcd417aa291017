"""Which task a dataset source or an architecture serves, and which architectures scale their widths
(light: no torch, read by params validation)."""

from __future__ import annotations

CLASSIFICATION, DETECTION, SALIENCY = "classification", "detection", "saliency"

#: The task of each dataset source (:mod:`evosynth.tasks`); every other source is classification.
SOURCE_TASKS = {"kitti": "detection", "msra_b": "saliency", "hku_is": "saliency"}
#: Architectures built for one task only (their output is not class logits); the rest classify.
ARCHITECTURE_TASKS = {"yolov2": "detection", "detectnet": "detection", "vgg16_saliency": "saliency"}
#: Architectures built at their papers' widths only (no ``width`` argument): an experiment's ``width`` is 1.
FIXED_WIDTH_ARCHITECTURES = ("lenet5", "cifar10_quick")
#: Dataset keys of the kitti source only (its test part is cut from KITTI's training frames).
KITTI_KEYS = ("val_fraction", "val_list")
#: Sources without a training part: networks trained elsewhere are evaluated on them.
TEST_ONLY_SOURCES = ("hku_is",)


def task_of(source: str) -> str:
    """``classification``, ``detection`` or ``saliency``: what a dataset source's labels are."""
    return SOURCE_TASKS.get(source, "classification")
