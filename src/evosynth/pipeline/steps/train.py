"""Step ``stress_train`` (generation 0) and ``retrain``: masked training of the compacted network, stressed when β < 1."""

from __future__ import annotations

import time
from argparse import Namespace
from pathlib import Path
from typing import Any

import torch

from evosynth.artifacts import save_checkpoint, write_json
from evosynth.errors import DataError
from evosynth.evolution.synthesis import seed_for
from evosynth.nets.architectures import build_model
from evosynth.nets.compaction import compact
from evosynth.nets.masks import apply_masks, full_masks
from evosynth.pipeline.outputs import step_files
from evosynth.pipeline.params import training_spec
from evosynth.pipeline.steps.common import finish, load_network, network_payload, step_params, stream
from evosynth.tasks.registry import load_task_data, task_for
from evosynth.training import TrainConfig, device, train


def run_train(
    params: dict[str, Any],
    experiment: str,
    generation: int,
    data_path: Path,
    out_dir: Path,
    init: Path | None = None,
    member: int | None = None,
) -> list[dict[str, Any]]:
    """Train an ancestor (``init`` None, generation 0) or an offspring, with stress when β < 1."""
    started = time.time()
    exp = training_spec(params, experiment)
    step = "stress_train" if init is None else "retrain"
    task = task_for(params, exp)
    data = load_task_data(task, exp, data_path)
    if init is None:
        torch.manual_seed(seed_for(exp["seed"], 0, stream("init", member)))
        shape = tuple(data.x_train.shape[1:])
        try:
            model = build_model(exp["architecture"], shape, data.num_classes)
        except ValueError as exc:
            raise DataError(f"{data_path}: {exc} (set image_size of dataset {exp['dataset']!r})") from None
        masks = full_masks(model)
        like = {"architecture": exp["architecture"], "input_shape": list(shape),
                "num_classes": data.num_classes, "experiment": experiment}
        epochs = exp["train"]["ancestor_epochs"]
    else:
        model, masks, like = load_network(init, "offspring")
        epochs = exp["train"]["epochs"]
    config = TrainConfig(
        epochs=epochs, **{k: v for k, v in exp["train"].items() if k not in ("epochs", "ancestor_epochs")}
    )
    label = f"{experiment} gen{generation}" + (f" m{member}" if member is not None else "") + f" {step}"
    apply_masks(model, masks)
    small = compact(model, masks, tuple(like["input_shape"]))  # train the physically smaller network
    seed = seed_for(exp["seed"], generation, stream("train", member))
    history = train(small.model, small.masks, data, config, seed, label, task.objective(data), device())
    small.expand_into(model)
    apply_masks(model, masks)
    files = step_files(step)
    save_checkpoint(out_dir / files[0], "model", network_payload(model, masks, like, generation=generation))
    seconds = [epoch.pop("seconds") for epoch in history]  # timings: in the run record, not the hashed log
    write_json(out_dir / files[1], {"epochs": history})
    finish(step, step_params(exp, step), started, out_dir, files, epoch_seconds=seconds)
    return history


def main(params: dict[str, Any], args: Namespace) -> None:
    run_train(params, args.experiment, args.generation, args.data, args.out_dir, args.init, args.member)
