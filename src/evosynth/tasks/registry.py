"""The task of an experiment, chosen by its dataset's source (:mod:`evosynth.tasks.kinds`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from evosynth.tasks.base import Task
from evosynth.tasks.classification import Classification
from evosynth.tasks.detection import Detection, DetectNetDetection
from evosynth.tasks.kinds import task_of
from evosynth.tasks.saliency import Saliency

TASKS: dict[str, Task] = {t.name: t for t in (Classification(), Detection(), Saliency())}
#: Architectures with a loss and decoding of their own within their task (same data and scores).
ARCHITECTURE_TASKS: dict[str, Task] = {"detectnet": DetectNetDetection()}


def task_for(params: dict[str, Any], experiment: dict[str, Any]) -> Task:
    """The task of an experiment (or of the experiment a baseline follows), from its dataset's source
    (and, for DetectNet, its architecture)."""
    task = TASKS[task_of(params["datasets"][experiment["dataset"]]["source"])]
    special = ARCHITECTURE_TASKS.get(experiment.get("architecture", ""))
    return special if special is not None and special.name == task.name else task


def load_task_data(task: Task, experiment: dict[str, Any], path: str | Path) -> Any:
    """The experiment's prepared data (seeded subsets of ``data.train_size`` / ``test_size``)."""
    sizes = experiment["data"]
    return task.load(path, sizes["train_size"], sizes["test_size"], experiment["seed"])
