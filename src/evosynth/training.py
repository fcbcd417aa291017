"""Masked training: dead synapses stay exactly zero.

SGD momentum and weight decay revive masked weights unless the mask is
re-applied after every optimizer step and the optimizer state of dead
synapses is zeroed (DESIGN.md §2, pitfalls); both are done here.
"""

from __future__ import annotations

import math
import sys
import time
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn
from tqdm import tqdm

from evosynth.data import Split
from evosynth.errors import DivergenceError
from evosynth.masks import Masks, apply_masks, prunable_layers, unit_mask
from evosynth.stress import stress


@dataclass(frozen=True)
class TrainConfig:
    epochs: int
    batch_size: int = 64
    lr: float = 0.01
    momentum: float = 0.9
    weight_decay: float = 5e-4
    stress: float = 1.0  # StressedNets' β: weaken selected synapses after every epoch (1: no stress)


class MaskedOptimizer:
    """Wrap an optimizer so that every step keeps dead synapses, and their state, at zero."""

    def __init__(self, model: nn.Module, masks: Masks, optimizer: torch.optim.Optimizer) -> None:
        self.optimizer = optimizer
        self.pairs: list[tuple[torch.Tensor, torch.Tensor]] = []
        for name, layer in prunable_layers(model):
            self.pairs.append((layer.weight, masks[name]))
            if layer.bias is not None:
                self.pairs.append((layer.bias, unit_mask(masks[name])))

    def step(self) -> None:
        with torch.no_grad():
            for param, mask in self.pairs:
                if param.grad is not None:
                    param.grad.mul_(mask)
        self.optimizer.step()
        with torch.no_grad():
            for param, mask in self.pairs:
                param.mul_(mask)
                for value in self.optimizer.state.get(param, {}).values():
                    if isinstance(value, torch.Tensor) and value.shape == param.shape:
                        value.mul_(mask)

    def zero_grad(self) -> None:
        self.optimizer.zero_grad(set_to_none=True)


def train(
    model: nn.Module,
    masks: Masks,
    data: Split,
    config: TrainConfig,
    seed: int,
    label: str = "train",
) -> list[dict[str, Any]]:
    """Train ``model`` under ``masks`` on the preloaded training split; return the epoch log.

    With ``config.stress`` < 1 every epoch ends with the stress of StressedNets eq. 6.
    """
    apply_masks(model, masks)
    optimizer = MaskedOptimizer(
        model,
        masks,
        torch.optim.SGD(
            model.parameters(),
            lr=config.lr,
            momentum=config.momentum,
            weight_decay=config.weight_decay,
        ),
    )
    generator = torch.Generator().manual_seed(seed)
    n = len(data.y_train)
    steps = math.ceil(n / config.batch_size)
    history = []
    model.train()
    for epoch in range(1, config.epochs + 1):
        started = time.perf_counter()
        order = torch.randperm(n, generator=generator)
        total_loss, correct = 0.0, 0
        bar = tqdm(
            range(steps),
            desc=f"{label} epoch {epoch}/{config.epochs}",
            file=sys.stderr,
            leave=False,
            mininterval=1.0,
            disable=None,
        )
        for step in bar:
            index = order[step * config.batch_size : (step + 1) * config.batch_size]
            x, y = data.x_train[index], data.y_train[index]
            optimizer.zero_grad()
            logits = model(x)
            loss = nn.functional.cross_entropy(logits, y)
            if not torch.isfinite(loss):
                raise DivergenceError(
                    f"{label}: loss is {loss.item()} at epoch {epoch}, step {step + 1}/{steps};"
                    " lower train.lr or check the data"
                )
            loss.backward()
            optimizer.step()
            total_loss += loss.item() * len(y)
            correct += int((logits.argmax(1) == y).sum())
        bar.close()
        stressed = stress(model, masks, config.stress, generator) if config.stress < 1 else {}
        record = {
            "epoch": epoch,
            "loss": total_loss / n,
            "train_accuracy": correct / n,
            "stressed_synapses": sum(stressed.values()),
            "seconds": round(time.perf_counter() - started, 3),
        }
        history.append(record)
        print(
            f"{label} epoch {epoch}/{config.epochs}: loss {record['loss']:.4f},"
            f" train accuracy {record['train_accuracy']:.4f}, stressed {record['stressed_synapses']:,},"
            f" {record['seconds']:.1f} s",
            file=sys.stderr,
        )
    return history


@torch.no_grad()
def accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor, batch_size: int = 1000) -> float:
    model.eval()
    correct = sum(
        int((model(x[i : i + batch_size]).argmax(1) == y[i : i + batch_size]).sum())
        for i in range(0, len(y), batch_size)
    )
    return correct / len(y)
