"""Step ``scratch``: the from-scratch control of a curve point (docs/method.md §10.6).

Liu et al. 2019 ("Rethinking the value of network pruning") and Blalock et
al. 2020 judge a pruned network against its own architecture trained from a
fresh initialisation with the same budget. For one network of a chain (an
evolved generation or a baseline's) this step keeps its architecture — the
compacted widths, and inside them its mask, so a masked (unstructured)
network keeps exactly its living synapses — draws fresh weights (PyTorch's
default initialisation of the compacted layers, seeded by the chain's seed
and the generation), and trains it with the chain's data, batch size,
learning rate, momentum, weight decay and schedule for the total epochs the
network received: ``ancestor_epochs + g × epochs``, as one run (one
schedule over all of them, no distillation: there is no parent). It writes
model.pt (in the ancestor's index space, like every network), metrics.json
(the evaluate step's metrics against the chain's ancestor) and train_log.json.
"""

from __future__ import annotations

import dataclasses
import time
from argparse import Namespace
from pathlib import Path
from typing import Any

import torch

from evosynth.analysis.metrics import generation_metrics
from evosynth.artifacts import save_checkpoint, write_json
from evosynth.evolution.synthesis import seed_for
from evosynth.nets.compaction import compact
from evosynth.nets.masks import apply_masks
from evosynth.pipeline.outputs import step_files
from evosynth.pipeline.params import training_spec
from evosynth.pipeline.steps.common import finish, load_network, network_payload
from evosynth.pipeline.steps.train import train_config
from evosynth.tasks.registry import load_task_data, task_for
from evosynth.training import device, train


def total_epochs(train_params: dict[str, Any], generation: int) -> int:
    """The epochs a chain's network of generation g was trained for in all: its ancestor's, then g offspring's."""
    return train_params["ancestor_epochs"] + generation * train_params["epochs"]


def run_scratch(params: dict[str, Any], chain: str, generation: int, model_path: Path, ancestor: Path,
                data_path: Path, out_dir: Path) -> dict[str, Any]:
    """Train the architecture (and mask) of ``model_path`` from a fresh initialisation; its metrics."""
    started = time.time()
    exp = training_spec(params, chain)
    task = task_for(params, exp)
    data = load_task_data(task, exp, data_path)
    model, masks, like = load_network(model_path)
    shape = tuple(like["input_shape"])
    apply_masks(model, masks)
    small = compact(model, masks, shape)
    seed = seed_for(exp["seed"], generation, "scratch")
    torch.manual_seed(seed)
    for layer in small.model.modules():  # fresh weights, scaled to the compacted layers' own fan-in
        if hasattr(layer, "reset_parameters"):
            layer.reset_parameters()
    config = dataclasses.replace(train_config(exp["train"], offspring=False),
                                 epochs=total_epochs(exp["train"], generation))
    label = f"{chain} gen{generation} scratch"
    history = train(small.model, small.masks, data, config, seed, label, task.objective(data), device())
    small.expand_into(model)
    apply_masks(model, masks)
    on = device()
    metrics = {"generation": generation, "chain": chain, "epochs": config.epochs,
               **generation_metrics(model, masks, data, load_network(ancestor)[1], None,
                                    lambda network: task.scores(network, data, on))}
    files = step_files("scratch")
    save_checkpoint(out_dir / files[0], "model", network_payload(model, masks, like, generation=generation))
    write_json(out_dir / files[1], metrics)
    seconds = [epoch.pop("seconds") for epoch in history]  # timings: in the run record, not the hashed log
    write_json(out_dir / files[2], {"epochs": history})
    recorded = {"train": exp["train"], "data": exp["data"], "dataset": exp["dataset"], "seed": exp["seed"],
                "generation": generation, "chain": chain}
    finish("scratch", recorded, started, out_dir, files, epoch_seconds=seconds)
    return metrics


def main(params: dict[str, Any], args: Namespace) -> None:
    metrics = run_scratch(params, args.experiment, args.generation, args.model, args.ancestor, args.data,
                          args.out_dir)
    print(f"{args.experiment} gen{args.generation} from scratch ({metrics['epochs']} epochs):"
          f" accuracy {metrics['accuracy']:.4f}, {metrics['synapses']:,} synapses, architecture"
          f" {metrics['architecture']}")
