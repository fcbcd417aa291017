"""Step ``evaluate``: a generation's task scores, living synapses, efficiencies, architecture and MACs."""

from __future__ import annotations

import time
from argparse import Namespace
from pathlib import Path
from typing import Any

from torch import nn

from evosynth.analysis.metrics import generation_metrics
from evosynth.artifacts import load_checkpoint, write_json
from evosynth.pipeline.outputs import step_files
from evosynth.pipeline.params import training_spec
from evosynth.pipeline.steps.common import finish, load_network, step_params
from evosynth.tasks.registry import load_task_data, task_for
from evosynth.training import device


def run_evaluate(
    params: dict[str, Any],
    experiment: str,
    generation: int,
    model_path: Path,
    data_path: Path,
    ancestor: Path,
    out_dir: Path,
    genome: Path | None = None,
    member: int | None = None,
    parent_model: Path | None = None,
) -> dict[str, Any]:
    """Metrics of one network; its parent is given by its genome, or (baselines) by the parent model.

    The task's scores come from ``data_path``: the experiment's own test part, or
    another prepared set of the same task (EvoNet Table II: HKU-IS).
    """
    started = time.time()
    exp = training_spec(params, experiment)
    task = task_for(params, exp)
    model, masks, _ = load_network(model_path)
    ancestor_masks = load_network(ancestor)[1]
    if genome is not None:
        record = load_checkpoint(genome, "genome")
        parent = record.get("parent_synapses", record["masks"])
    else:
        parent = load_network(parent_model)[1] if parent_model is not None else None
    data = load_task_data(task, exp, data_path)
    on = device()

    def scores(network: nn.Module) -> dict[str, Any]:
        return task.scores(network, data, on)

    metrics = {
        "generation": generation,
        **({"member": member} if member is not None else {}),
        **generation_metrics(model, masks, data, ancestor_masks, parent, scores),
    }
    if genome is not None:
        metrics["factor"] = exp["environment"]["factor"]
    files = step_files("evaluate")
    write_json(out_dir / files[0], metrics)
    finish("evaluate", step_params(exp, "evaluate"), started, out_dir, files)
    return metrics


def main(params: dict[str, Any], args: Namespace) -> None:
    metrics = run_evaluate(params, args.experiment, args.generation, args.model, args.data, args.ancestor,
                           args.out_dir, args.genome, args.member, args.parent)
    validation = f" (validation {metrics['val_accuracy']:.4f})" if "val_accuracy" in metrics else ""
    print(
        f"{args.experiment} gen{args.generation}: accuracy {metrics['accuracy']:.4f}{validation},"
        f" {metrics['synapses']:,} synapses ({metrics['synaptic_efficiency']:.2f}×),"
        f" architecture {metrics['architecture']}"
    )
