"""Step ``stress_train`` (generation 0) and ``retrain``: masked training of the compacted network, stressed when β < 1.

An offspring trained with distillation (``train.distill.alpha`` > 0) learns
from its teacher's outputs too: the plan passes the parent's model.pt as
``--teacher``, or the ancestor's with ``train.distill.teacher: ancestor``
(docs/method.md §13.1).
"""

from __future__ import annotations

import time
from argparse import Namespace
from pathlib import Path
from typing import Any

import torch

from evosynth.artifacts import save_checkpoint, write_json
from evosynth.errors import DataError, ParamsError
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
    teacher: Path | None = None,
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
            model = build_model(exp["architecture"], shape, data.num_classes, width=exp.get("width", 1.0))
        except ValueError as exc:
            raise DataError(f"{data_path}: {exc} (set image_size of dataset {exp['dataset']!r})") from None
        masks = full_masks(model)
        like = {"architecture": exp["architecture"], "input_shape": list(shape),
                "num_classes": data.num_classes, "experiment": experiment,
                **({"width": exp["width"]} if "width" in exp else {})}
    else:
        model, masks, like = load_network(init, "offspring")
    config = train_config(exp["train"], offspring=init is not None)
    parent = None
    if config.distill_alpha > 0:
        if teacher is None:
            raise ParamsError(f"experiments.{experiment}.train.distill: generation {generation} needs its teacher;"
                              " give --teacher <parent's or ancestor's model.pt> (the plan does)")
        parent_model, parent_masks, _ = load_network(teacher)
        apply_masks(parent_model, parent_masks)
        parent = compact(parent_model, parent_masks, tuple(like["input_shape"])).model
    label = f"{experiment} gen{generation}" + (f" m{member}" if member is not None else "") + f" {step}"
    apply_masks(model, masks)
    small = compact(model, masks, tuple(like["input_shape"]))  # train the physically smaller network
    seed = seed_for(exp["seed"], generation, stream("train", member))
    history = train(small.model, small.masks, data, config, seed, label, task.objective(data), device(), parent)
    small.expand_into(model)
    apply_masks(model, masks)
    files = step_files(step)
    save_checkpoint(out_dir / files[0], "model", network_payload(model, masks, like, generation=generation))
    seconds = [epoch.pop("seconds") for epoch in history]  # timings: in the run record, not the hashed log
    write_json(out_dir / files[1], {"epochs": history})
    finish(step, step_params(exp, step), started, out_dir, files, epoch_seconds=seconds)
    return history


def train_config(train: dict[str, Any], offspring: bool) -> TrainConfig:
    """The training of an ancestor or an offspring from an experiment's ``train`` params.

    ``rewind`` (offspring): the cosine schedule of the ancestor's ``ancestor_epochs``,
    replayed over its last ``epochs`` epochs (learning-rate rewinding); without it an
    offspring runs a schedule of its own: ``offspring_schedule`` when given (an
    ablation that shares its ancestor changes only its offspring's schedule),
    else ``schedule``. Distillation is for offspring only.
    """
    epochs = train["epochs"] if offspring else train["ancestor_epochs"]
    rewind = offspring and train.get("rewind", False)
    distill = train.get("distill", {}) if offspring else {}
    return TrainConfig(
        epochs=epochs,
        **{k: train[k] for k in ("batch_size", "lr", "momentum", "weight_decay", "stress") if k in train},
        schedule=(train.get("offspring_schedule") if offspring else None) or train.get("schedule", "constant"),
        schedule_epochs=max(train["ancestor_epochs"], epochs) if rewind else None,
        schedule_offset=max(0, train["ancestor_epochs"] - epochs) if rewind else 0,
        distill_alpha=distill.get("alpha", 0.0),
        temperature=distill.get("temperature", 1.0),
    )


def main(params: dict[str, Any], args: Namespace) -> None:
    run_train(params, args.experiment, args.generation, args.data, args.out_dir, args.init, args.member,
              args.teacher)
