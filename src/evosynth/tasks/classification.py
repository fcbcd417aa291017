"""Classification: cross-entropy and test accuracy (EvoNet, cluster and sexual papers, StressedNets Tables 1–2)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn

from evosynth.data.prepared import load_prepared
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
    """Test accuracy of a model already on ``device``; the data moves there batch by batch."""
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
        acc = accuracy(model.to(device), data.x_test, data.y_test, device=device)
        return {"accuracy": acc, "error_percent": 100.0 * (1.0 - acc)}
