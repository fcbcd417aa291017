"""Tasks: what a network is trained for and how evaluate scores it, chosen by its dataset.

- ``classification`` (every labelled image set: Fashion-MNIST, MNIST, CIFAR-10,
  STL-10, digits, idx, npz): cross-entropy; test accuracy (EvoNet, cluster
  and sexual papers, StressedNets Tables 1–2).
- ``detection`` (KITTI): YOLOv2's region loss (:func:`evosynth.detection.yolo_loss`);
  KITTI AP of car and pedestrian at the easy, moderate and hard difficulties
  (R40, and R11 as StressedNets Table 3 used), headline the moderate car AP
  (StressedNets Figure 6 plots moderate AP).
- ``saliency`` (MSRA-B, HKU-IS): per-pixel cross-entropy of two classes; MAE
  and Fβ with β² = 0.3 (EvoNet §III, Tables I–II), headline Fβ.

A metrics file keeps its usual ``accuracy`` key: for detection and saliency it
holds the headline score (named by ``headline``), so reports, fitness-based
mate selection and the papers' tolerance rules read every task alike.
Every task's data has ``x_train, y_train, x_test, y_test`` and ``num_classes``;
targets are indexable by sample (detection packs box and class as N×M×5), so
one training loop serves all.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from evosynth.data import Split
from evosynth.params import task_of

CLASSIFICATION, DETECTION, SALIENCY = "classification", "detection", "saliency"


@dataclass(frozen=True)
class Objective:
    """What training minimises, and (classification) how many predictions of a batch are right."""

    loss: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
    correct: Callable[[torch.Tensor, torch.Tensor], int] | None = None


def _cross_entropy(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return nn.functional.cross_entropy(logits, y)


def _correct(logits: torch.Tensor, y: torch.Tensor) -> int:
    return int((logits.argmax(1) == y).sum())


CLASSIFICATION_OBJECTIVE = Objective(_cross_entropy, _correct)


class Task(ABC):
    """A task: how its prepared data loads, what training minimises, what evaluate reports."""

    name: str
    headline: str  # the metric copied into ``accuracy``

    @abstractmethod
    def load(self, path: str | Path, train_size: int | None, test_size: int | None, seed: int) -> Any:
        """The prepared file as tensors (``x_train, y_train, x_test, y_test``, ``num_classes``), seeded subsets."""

    @abstractmethod
    def objective(self, data: Any) -> Objective:
        """The loss training minimises on ``data``."""

    @abstractmethod
    def scores(self, model: nn.Module, data: Any, device: torch.device) -> dict[str, Any]:
        """The task's metrics of a (compacted) network on the test part; ``accuracy`` is the headline."""


class Classification(Task):
    name, headline = CLASSIFICATION, "accuracy"

    def load(self, path: str | Path, train_size: int | None, test_size: int | None, seed: int) -> Any:
        from evosynth.data import load_prepared

        return load_prepared(path, train_size, test_size, seed)

    def objective(self, data: Any) -> Objective:
        return CLASSIFICATION_OBJECTIVE

    def scores(self, model: nn.Module, data: Any, device: torch.device) -> dict[str, Any]:
        from evosynth.training import accuracy

        acc = accuracy(model.to(device), data.x_test, data.y_test, device=device)
        return {"accuracy": acc, "error_percent": 100.0 * (1.0 - acc)}


class Detection(Task):
    """YOLOv2 on KITTI (StressedNets §4.1.3, Table 3, Figure 6)."""

    name, headline = DETECTION, "ap_car_moderate"
    batch_size = 16

    def load(self, path: str | Path, train_size: int | None, test_size: int | None, seed: int) -> Any:
        from evosynth.kitti_data import load_prepared_kitti

        return load_prepared_kitti(path, train_size, test_size, seed)

    def objective(self, data: Any) -> Objective:
        from evosynth.detection import KITTI_ANCHORS, yolo_loss

        size = tuple(data.x_train.shape[-2:])

        def loss(output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
            return yolo_loss(output, target[..., :4], target[..., 4].long(), KITTI_ANCHORS, size).total

        return Objective(loss)

    @torch.no_grad()
    def detections(self, model: nn.Module, data: Any, device: torch.device) -> list[Any]:
        """Decoded, NMS-filtered boxes of every test image, in the original image's pixels."""
        from evosynth.detection import KITTI_ANCHORS, Detections, decode

        model.to(device).eval()
        size = tuple(data.x_test.shape[-2:])
        found = []
        for start in range(0, len(data.x_test), self.batch_size):
            outputs = model(data.x_test[start:start + self.batch_size].to(device))
            for offset, det in enumerate(decode(outputs, KITTI_ANCHORS, size)):
                boxes = data.truth.to_original(start + offset, det.boxes.cpu().double())
                found.append(Detections(boxes, det.scores.cpu(), det.classes.cpu()))
        return found

    def scores(self, model: nn.Module, data: Any, device: torch.device) -> dict[str, Any]:
        """KITTI AP (devkit protocol, :mod:`evosynth.kitti_eval`); None where no ground truth counts.

        ``accuracy`` is the headline, 0 when it is None.
        """
        from evosynth.kitti_eval import kitti_ap

        found = self.detections(model, data, device)
        truths = [data.truth.objects(i) for i in range(len(found))]
        metrics: dict[str, Any] = {}
        for points, prefix in ((40, "ap"), (11, "ap_r11")):
            for key, value in kitti_ap(found, truths, points).items():
                metrics[key.replace("ap", prefix, 1)] = None if math.isnan(value) else value
        headline = metrics[self.headline]
        return {"accuracy": 0.0 if headline is None else headline, "task": self.name,
                "headline": self.headline, **metrics}


class Saliency(Task):
    """EvoNet's saliency network on MSRA-B (trained) and HKU-IS (tested) (EvoNet §III, Tables I–II)."""

    name, headline = SALIENCY, "f_beta"
    batch_size = 16

    def load(self, path: str | Path, train_size: int | None, test_size: int | None, seed: int) -> Any:
        from evosynth.saliency_data import load_prepared_saliency

        s = load_prepared_saliency(path, train_size, test_size, seed)
        return SaliencyData(s.x_train, s.y_train, s.x_test, s.y_test)

    def objective(self, data: Any) -> Objective:
        from evosynth.saliency_metrics import saliency_loss

        return Objective(saliency_loss)

    def scores(self, model: nn.Module, data: Any, device: torch.device) -> dict[str, Any]:
        from evosynth.saliency_metrics import evaluate_saliency

        s = evaluate_saliency(model.to(device), data.x_test, data.y_test, self.batch_size)
        return {"accuracy": s.f_beta, "task": self.name, "headline": self.headline, "mae": s.mae,
                "f_beta": s.f_beta, "precision": s.precision, "recall": s.recall, "max_f_beta": s.max_f_beta}


class SaliencyData(Split):
    """A prepared saliency set: normalised images and, for labels, binary masks N×1×S×S (0/1)."""

    @property
    def num_classes(self) -> int:
        return 2  # background, salient (EvoNet §III: a two-class softmax)


TASKS: dict[str, Task] = {t.name: t for t in (Classification(), Detection(), Saliency())}


def task_for(params: dict[str, Any], experiment: dict[str, Any]) -> Task:
    """The task of an experiment (or of the experiment a baseline follows), from its dataset's source."""
    return TASKS[task_of(params["datasets"][experiment["dataset"]]["source"])]


def load_task_data(task: Task, experiment: dict[str, Any], path: str | Path) -> Any:
    """The experiment's prepared data (seeded subsets of ``data.train_size`` / ``test_size``)."""
    sizes = experiment["data"]
    return task.load(path, sizes["train_size"], sizes["test_size"], experiment["seed"])
