"""Detection (KITTI): YOLOv2's region loss or DetectNet's grid loss; KITTI AP of car and pedestrian per difficulty."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import torch
from torch import nn

from evosynth.data.kitti import CAR
from evosynth.data.kitti_prepared import load_prepared_kitti
from evosynth.tasks.base import Objective, Task
from evosynth.tasks.detectnet import detectnet_loss
from evosynth.tasks.detectnet_cluster import cluster, precision_recall
from evosynth.tasks.kinds import DETECTION
from evosynth.tasks.kitti_ap import kitti_ap
from evosynth.tasks.yolo import KITTI_ANCHORS, Detections, decode, yolo_loss


class Detection(Task):
    """YOLOv2 on KITTI (StressedNets §4.1.3, Table 3, Figure 6)."""

    name, headline = DETECTION, "ap_car_moderate"
    batch_size = 16

    def load(self, path: str | Path, train_size: int | None, test_size: int | None, seed: int) -> Any:
        return load_prepared_kitti(path, train_size, test_size, seed)

    def objective(self, data: Any) -> Objective:
        size = tuple(data.x_train.shape[-2:])

        def loss(output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
            return yolo_loss(output, target[..., :4], target[..., 4].long(), KITTI_ANCHORS, size).total

        return Objective(loss)

    @torch.no_grad()
    def detections(self, model: nn.Module, data: Any, device: torch.device) -> list[Any]:
        """Decoded, NMS-filtered boxes of every test image, in the original image's pixels."""
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
        """KITTI AP (devkit protocol, :mod:`evosynth.tasks.kitti_ap`); None where no ground truth counts.

        ``accuracy`` is the headline, 0 when it is None.
        """
        found = self.detections(model, data, device)
        truths = [data.truth.objects(i) for i in range(len(found))]
        metrics: dict[str, Any] = {}
        for points, prefix in ((40, "ap"), (11, "ap_r11")):
            for key, value in kitti_ap(found, truths, points).items():
                metrics[key.replace("ap", prefix, 1)] = None if math.isnan(value) else value
        metrics.update(self.extra_scores(found, truths))
        headline = metrics[self.headline]
        return {"accuracy": 0.0 if headline is None else headline, "task": self.name,
                "headline": self.headline, **metrics}

    def extra_scores(self, found: list[Any], truths: list[Any]) -> dict[str, Any]:
        """Scores beside AP that a detector's paper reports (none for YOLOv2)."""
        return {}


class DetectNetDetection(Detection):
    """DetectNet on KITTI (cluster paper §3, Tables 3 and 6): grid loss, clustered boxes.

    The same data, AP and headline as YOLOv2's task; also the car precision
    and recall at IoU 0.7 that the cluster paper's Table 3 reports.
    """

    stride = 16  # evosynth.nets.architectures.detectnet.STRIDE

    def objective(self, data: Any) -> Objective:
        def loss(output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
            return detectnet_loss(output, target[..., :4], target[..., 4].long(), self.stride).total

        return Objective(loss)

    @torch.no_grad()
    def detections(self, model: nn.Module, data: Any, device: torch.device) -> list[Any]:
        """Clustered grid boxes of every test image, in the original image's pixels."""
        model.to(device).eval()
        found = []
        for start in range(0, len(data.x_test), self.batch_size):
            outputs = model(data.x_test[start:start + self.batch_size].to(device))
            for offset, output in enumerate(outputs):
                det = cluster(output.cpu(), self.stride)
                boxes = data.truth.to_original(start + offset, det.boxes.double())
                found.append(Detections(boxes, det.scores, det.classes))
        return found

    def extra_scores(self, found: list[Any], truths: list[Any]) -> dict[str, Any]:
        precision, recall = precision_recall(found, truths, 0, CAR, 0.7)
        return {"precision_car": precision, "recall_car": recall}
