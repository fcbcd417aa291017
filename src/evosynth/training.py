"""Masked training: dead synapses stay exactly zero.

SGD momentum and weight decay revive masked weights unless the mask is
re-applied after every optimizer step and the optimizer state of dead
synapses is zeroed (docs/method.md §6.1); both are done here.

The loss comes from the task (:mod:`evosynth.tasks`: cross-entropy, YOLOv2's
region loss, per-pixel saliency cross-entropy). Training runs on CUDA when
present (:func:`device`); data, masks on disk and the sampling generator stay
on the CPU, so a CPU run draws exactly what it drew before.

Two additions beyond the papers (docs/method.md §13), both off by default so
that a run without them is bit-for-bit what it was: a learning-rate schedule
(:func:`learning_rate`: cosine, with learning-rate rewinding for offspring)
and knowledge distillation from the parent (:func:`distillation_loss`).
"""

from __future__ import annotations

import math
import os
import sys
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import torch
from torch import nn
from tqdm import tqdm

from evosynth.data.prepared import Split
from evosynth.errors import DivergenceError
from evosynth.evolution.stress import stress
from evosynth.nets.masks import Masks, apply_masks, prunable_layers, unit_mask

if TYPE_CHECKING:
    from evosynth.tasks.base import Objective


def device() -> torch.device:
    """CUDA when available, else the CPU; ``$EVOSYNTH_DEVICE`` (e.g. ``cpu``) overrides."""
    chosen = os.environ.get("EVOSYNTH_DEVICE")
    if chosen:
        return torch.device(chosen)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


@dataclass(frozen=True)
class TrainConfig:
    epochs: int
    batch_size: int = 64
    lr: float = 0.01
    momentum: float = 0.9
    weight_decay: float = 5e-4
    stress: float = 1.0  # StressedNets' β: weaken selected synapses between epochs (1: no stress)
    schedule: str = "constant"  # the learning rate per step: constant (the papers) or cosine
    schedule_epochs: int | None = None  # length of the schedule in epochs (None: ``epochs``)
    schedule_offset: int = 0  # epochs of the schedule already spent (learning-rate rewinding)
    distill_alpha: float = 0.0  # weight of the parent's soft targets (0: cross-entropy only, the papers)
    temperature: float = 1.0  # softmax temperature T of distillation


SCHEDULES = ("constant", "cosine")


def learning_rate(config: TrainConfig, step: int, steps_per_epoch: int) -> float:
    """The learning rate of optimizer step ``step`` (0-based, counted within this run).

    ``constant``: ``config.lr`` throughout (the papers). ``cosine``: Loshchilov &
    Hutter's annealing without restarts, lr·½(1 + cos(π t / T)) over the
    schedule's T = ``schedule_epochs`` epochs, t counted from ``schedule_offset``
    epochs into it. An offspring with learning-rate rewinding (Renda et al.
    2020) replays the last ``epochs`` epochs of its ancestor's schedule.
    """
    if config.schedule == "constant":
        return config.lr
    if config.schedule != "cosine":
        raise ValueError(f"unknown schedule {config.schedule!r}; allowed: {', '.join(SCHEDULES)}")
    total = (config.schedule_epochs or config.epochs) * steps_per_epoch
    t = config.schedule_offset * steps_per_epoch + step
    return config.lr * 0.5 * (1.0 + math.cos(math.pi * min(t, total) / total))


def distillation_loss(
    hard: torch.Tensor, student: torch.Tensor, teacher: torch.Tensor, alpha: float, temperature: float
) -> torch.Tensor:
    """Hinton et al. 2015: (1 − α)·``hard`` + α·T²·KL(softmax(teacher/T) ‖ softmax(student/T)).

    ``hard`` is the task's loss on the labels; the KL term is averaged over the
    batch; T² keeps its gradients on the scale of the hard loss.
    """
    t = temperature
    soft = nn.functional.kl_div(
        nn.functional.log_softmax(student / t, dim=1),
        nn.functional.log_softmax(teacher / t, dim=1),
        reduction="batchmean",
        log_target=True,
    )
    return (1.0 - alpha) * hard + alpha * t * t * soft


#: The teacher's outputs on the training split are kept when they take at most this many bytes
#: (a LeNet's 60,000 × 10 logits: 2.4 MB); above it the teacher runs on every batch instead.
TEACHER_OUTPUTS_BYTES = 1 << 30
#: Images per forward pass when the teacher's outputs are computed up front.
TEACHER_CHUNK = 1024


def teacher_outputs(teacher: nn.Module, x: torch.Tensor, on: torch.device) -> torch.Tensor | None:
    """The frozen teacher's outputs on every training image, computed once, in chunks of
    :data:`TEACHER_CHUNK` (None when they would exceed :data:`TEACHER_OUTPUTS_BYTES` or are not one tensor).

    The teacher is in eval mode and never updated, so its output for an image is the same at every
    step of every epoch (Hinton et al. 2015 distil against a fixed teacher): reading it by the
    batch's indices replaces a forward pass of the (larger) teacher per batch, which dominates the
    cost of a small student. Only the float rounding of the batch's composition differs.
    """
    with torch.no_grad():
        first = teacher(x[:1].to(on))
        if not isinstance(first, torch.Tensor):
            return None
        if first.element_size() * first.numel() * len(x) > TEACHER_OUTPUTS_BYTES:
            return None
        return torch.cat([teacher(x[i : i + TEACHER_CHUNK].to(on)) for i in range(0, len(x), TEACHER_CHUNK)])


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
    objective: Objective | None = None,
    on: torch.device | None = None,
    teacher: nn.Module | None = None,
) -> list[dict[str, Any]]:
    """Train ``model`` under ``masks`` on the preloaded training split; return the epoch log.

    ``objective`` is the task's loss (default: classification's cross-entropy,
    with train accuracy logged); ``on`` the device (default :func:`device`).
    With ``config.stress`` < 1 every epoch but the last ends with the stress of StressedNets eq. 6,
    which takes epoch t's trained weights to the weights epoch t + 1 starts from (Ŵ_{t+1} from Ŵ_t):
    stress acts between epochs, so the weights returned (saved, evaluated, encoded) are the trained
    ones of the last epoch, not weakened after it (docs/method.md §5).
    With ``config.distill_alpha`` > 0 the loss is :func:`distillation_loss` against
    ``teacher`` (the parent network, frozen), whose outputs on the training split are computed once
    (:func:`teacher_outputs`). The model is back on the CPU when this returns.
    """
    if config.distill_alpha > 0 and teacher is None:
        raise ValueError("distillation (distill_alpha > 0) needs the parent network as teacher")
    if objective is None:
        from evosynth.tasks.base import CLASSIFICATION_OBJECTIVE

        objective = CLASSIFICATION_OBJECTIVE
    on = device() if on is None else on
    apply_masks(model, masks)
    model.to(on)
    on_device = {name: mask.to(on) for name, mask in masks.items()}
    optimizer = MaskedOptimizer(
        model,
        on_device,
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
    targets = None
    if config.distill_alpha > 0:
        teacher = teacher.to(on).eval()
        targets = teacher_outputs(teacher, data.x_train, on)
    model.train()
    for epoch in range(1, config.epochs + 1):
        started = time.perf_counter()
        order = torch.randperm(n, generator=generator)
        # accumulated on the device, read once per epoch: no host sync per step (the same float64
        # sums as adding loss.item() * batch in Python, so the log is bit for bit what it was)
        total_loss = torch.zeros((), dtype=torch.float64, device=on)
        correct = torch.zeros((), dtype=torch.long, device=on)
        first_bad = torch.full((), -1, dtype=torch.long, device=on)  # first step whose loss is not finite
        bad_loss = torch.zeros((), device=on)
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
            x, y = data.x_train[index].to(on), data.y_train[index].to(on)
            if config.schedule != "constant":
                for group in optimizer.optimizer.param_groups:
                    group["lr"] = learning_rate(config, (epoch - 1) * steps + step, steps)
            optimizer.zero_grad()
            logits = model(x)
            loss = objective.loss(logits, y)
            if config.distill_alpha > 0:
                if targets is not None:
                    target = targets[index.to(targets.device)]
                else:
                    with torch.no_grad():
                        target = teacher(x)
                loss = distillation_loss(loss, logits, target, config.distill_alpha, config.temperature)
            new_bad = (first_bad < 0) & ~torch.isfinite(loss.detach())
            first_bad = torch.where(new_bad, step, first_bad)
            bad_loss = torch.where(new_bad, loss.detach(), bad_loss)
            loss.backward()
            optimizer.step()
            total_loss += loss.detach().double() * len(y)
            if objective.correct is not None:
                correct += objective.correct(logits.detach(), y)
        bar.close()
        if int(first_bad) >= 0:
            raise DivergenceError(
                f"{label}: loss is {bad_loss.item()} at epoch {epoch}, step {int(first_bad) + 1}/{steps};"
                " lower train.lr or check the data"
            )
        total_loss, correct = float(total_loss), int(correct)
        between = config.stress < 1 and epoch < config.epochs  # eq. 6: Ŵ_{t+1} from Ŵ_t; none after the last
        stressed = _stress(model, masks, config.stress, generator, on) if between else {}
        record = {
            "epoch": epoch,
            "loss": total_loss / n,
            **({"train_accuracy": correct / n} if objective.correct is not None else {}),
            "stressed_synapses": sum(stressed.values()),
            "seconds": round(time.perf_counter() - started, 3),
            **({"last_lr": optimizer.optimizer.param_groups[0]["lr"]} if config.schedule != "constant" else {}),
        }
        history.append(record)
        shown = f" train accuracy {record['train_accuracy']:.4f}," if "train_accuracy" in record else ""
        print(
            f"{label} epoch {epoch}/{config.epochs}: loss {record['loss']:.4f},"
            f"{shown} stressed {record['stressed_synapses']:,},"
            f" {record['seconds']:.1f} s",
            file=sys.stderr,
        )
    model.to("cpu")
    if teacher is not None:
        teacher.to("cpu")
    return history


def _stress(
    model: nn.Module, masks: Masks, beta: float, generator: torch.Generator, on: torch.device
) -> dict[str, int]:
    """StressedNets eq. 6 with the CPU generator: off the CPU, the weights visit it for the draw."""
    if on.type == "cpu":
        return stress(model, masks, beta, generator)
    model.to("cpu")
    try:
        return stress(model, masks, beta, generator)
    finally:
        model.to(on)
