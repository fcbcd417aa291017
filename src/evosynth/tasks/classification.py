"""Classification: cross-entropy, test accuracy (EvoNet, cluster and sexual papers, StressedNets Tables 1–2) and
validation accuracy (the score decisions read, :mod:`evosynth.scores`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn

from evosynth.data.prepared import load_prepared
from evosynth.scores import TEST, VALIDATION
from evosynth.tasks.base import CLASSIFICATION_OBJECTIVE, Objective, Task
from evosynth.tasks.kinds import CLASSIFICATION


@torch.no_grad()
def accuracy(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    batch_size: int = 1000,
    device: torch.device | str = "cpu",
) -> float:
    """Accuracy of a model already on ``device`` on images ``x`` and labels ``y``; the data moves there batch by batch."""
    model.eval()
    correct = sum(
        int((model(x[i : i + batch_size].to(device)).argmax(1).cpu() == y[i : i + batch_size]).sum())
        for i in range(0, len(y), batch_size)
    )
    return correct / len(y)


class Classification(Task):
    name, headline = CLASSIFICATION, "accuracy"

    def load(self, path: str | Path, train_size: int | None, test_size: int | None, seed: int) -> Any:
        return load_prepared(path, train_size, test_size, seed)

    def objective(self, data: Any) -> Objective:
        return CLASSIFICATION_OBJECTIVE

    def scores(self, model: nn.Module, data: Any, device: torch.device) -> dict[str, Any]:
        """Test accuracy (``accuracy``, reported) and, when the data has a validation part, ``val_accuracy``."""
        return split_scores(model.to(device), data, device)


def split_scores(model: nn.Module, data: Any, device: torch.device | str = "cpu") -> dict[str, Any]:
    """``accuracy`` and ``error_percent`` on the test part; ``val_accuracy`` on the validation part if there is one."""
    acc = accuracy(model, data.x_test, data.y_test, device=device)
    scores = {TEST: acc, "error_percent": 100.0 * (1.0 - acc)}
    if getattr(data, "y_val", None) is not None:
        scores[VALIDATION] = accuracy(model, data.x_val, data.y_val, device=device)
    return scores
