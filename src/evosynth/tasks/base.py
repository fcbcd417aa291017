"""What every task provides: how its data loads, what training minimises, what evaluate reports."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn


@dataclass(frozen=True)
class Objective:
    """What training minimises, and (classification) how many predictions of a batch are right."""

    loss: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
    correct: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None


def _cross_entropy(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return nn.functional.cross_entropy(logits, y)


def _correct(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Right predictions of a batch, as a tensor on the logits' device (training sums it without a host sync)."""
    return (logits.argmax(1) == y).sum()


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
