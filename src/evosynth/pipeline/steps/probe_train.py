"""Step ``probe_train``: one dense LeNet5 of the capacity probe, trained from scratch and tested (docs/method.md §13.7).

The network has the reference's topology at the probe's widths (conv1
filters, conv2 filters, fc1 neurons) and is trained like an ancestor: the
seed's ``init`` and ``train`` streams (so widths 20-50-500 with the
reference's seed and training settings reproduce the reference's ancestor bit
for bit), for ``probe.train.epochs`` epochs, optionally learning the
reference ancestor's outputs too (Hinton et al. 2015 distillation,
:func:`evosynth.training.distillation_loss`). Data and test set are the
reference's (its subsets, drawn with its seed).

With ``--kernels N`` the network is kernel-sparse: conv2 keeps a fixed random
set of whole kernels, drawn from the seed's ``kernel_mask`` stream, so that
the network has N conv kernels in all
(:func:`evosynth.nets.kernel_masks.kernel_sparse_masks`); it trains under that
mask (dead kernels stay exactly zero) and the mask is saved with it.

A network whose loss diverges (NaN or infinite; at lr 0.01 with distillation
two of 30 did, in their first epoch) is an outcome, not a crash: its
metrics.json records ``diverged`` (where, in words) and no accuracy, its
model.pt holds its initial weights, and the report counts it apart
(:mod:`evosynth.reporting.probe`).
"""

from __future__ import annotations

import time
from argparse import Namespace
from pathlib import Path
from typing import Any

import torch
from torch import nn

from evosynth.analysis.metrics import architecture_of, dense_macs
from evosynth.artifacts import save_checkpoint, write_json
from evosynth.errors import DivergenceError, ParamsError
from evosynth.evolution.synthesis import seed_for
from evosynth.nets.architectures import build_model
from evosynth.nets.compaction import compact
from evosynth.nets.kernel_masks import kernel_sparse_masks
from evosynth.nets.layers import Masks, full_masks, total_synapses
from evosynth.nets.masks import apply_masks, living_kernels, prunable_layers
from evosynth.pipeline.outputs import step_files
from evosynth.pipeline.probe import PROBE_ARCHITECTURE, SPARSE_LAYER, distills, probe_unit, recipe_train, sparse_kept
from evosynth.pipeline.steps.common import finish, load_network, network_payload
from evosynth.tasks.registry import load_task_data, task_for
from evosynth.training import TrainConfig, device, train


def probe_config(train_params: dict[str, Any]) -> TrainConfig:
    """The training of a probe network from ``probe.train`` (a schedule over its own epochs, no stress)."""
    distill = train_params.get("distill", {})
    return TrainConfig(
        epochs=train_params["epochs"],
        **{k: train_params[k] for k in ("batch_size", "lr", "momentum", "weight_decay") if k in train_params},
        schedule=train_params.get("schedule", "constant"),
        distill_alpha=distill.get("alpha", 0.0),
        temperature=distill.get("temperature", 1.0),
    )


def network_counts(model: nn.Module, input_shape: tuple[int, ...], masks: Masks | None = None) -> dict[str, Any]:
    """Size and cost of a probe network: living synapses (weights of conv and linear layers) and kernels under
    ``masks`` (default: dense), filters, MACs. A kernel mask that keeps every unit alive removes none, so
    architecture, filters, MACs and parameters are the dense network's, as compaction would leave them."""
    layers = prunable_layers(model)
    masks = full_masks(model) if masks is None else masks
    return {
        "synapses": total_synapses(masks),
        "kernels": living_kernels(masks),
        "filters": sum(layer.out_channels for _, layer in layers if isinstance(layer, nn.Conv2d)),
        "architecture": architecture_of(model),
        "macs": dense_macs(model, input_shape),
        "parameters": sum(p.numel() for p in model.parameters()),
    }


def _check(probe: dict[str, Any] | None, widths: tuple[int, ...], seed: int, recipe: str | None,
           kernels: int | None = None) -> dict[str, Any]:
    """One line naming the argument unless the training is one the probe plans (kernel-sparse: any recipe)."""
    if not probe:
        raise ParamsError("probe: missing; allowed: a probe section in params.yaml (docs/method.md §13.7)")
    sparse = probe.get("kernel_sparse")
    if kernels is not None and not sparse:
        raise ParamsError("--kernels: probe.kernel_sparse is missing; allowed: no --kernels (a dense network)")
    if kernels is not None and kernels != sparse["kernels"]:
        raise ParamsError(f"--kernels: {kernels} is not probe.kernel_sparse.kernels; allowed: {sparse['kernels']}")
    if kernels is None:
        _entry(widths, probe["widths"], "widths")
    else:
        _entry(widths, sparse["widths"], "kernel_sparse.widths")
    if seed not in probe["seeds"]:
        raise ParamsError(f"--seed: {seed} is not one of probe.seeds; allowed: {', '.join(map(str, probe['seeds']))}")
    if recipe is not None and recipe not in probe["recipes"]:
        raise ParamsError(f"--recipe: {recipe!r} is not a key of probe.recipes; allowed:"
                          f" {', '.join(probe['recipes']) or '(none)'}")
    if recipe is not None and kernels is None:
        _entry(widths, probe["recipe_widths"], "recipe_widths")
    return probe


def _entry(widths: tuple[int, ...], entries: list[list[int]], key: str) -> None:
    """One line unless ``widths`` is one of ``entries``, the list at ``probe.<key>``."""
    if list(widths) not in [list(w) for w in entries]:
        raise ParamsError(f"--widths: {' '.join(map(str, widths))} is not an entry of probe.{key}; allowed:"
                          f" {', '.join(' '.join(map(str, w)) for w in entries) or '(none)'}")


def probe_masks(model: nn.Module, widths: tuple[int, ...], seed: int, kernels: int | None) -> Masks:
    """Dense masks, or with ``kernels`` the kernel-sparse network's fixed masks (conv2 keeps what conv1 leaves of
    ``kernels``, drawn from the seed's ``kernel_mask`` stream)."""
    if kernels is None:
        return full_masks(model)
    channels = model.conv1.in_channels
    kept = sparse_kept(widths, kernels, channels, "--kernels")
    return kernel_sparse_masks(model, SPARSE_LAYER, kept, seed_for(seed, 0, "kernel_mask"))


def run_probe_train(params: dict[str, Any], widths: tuple[int, ...], seed: int, data_path: Path, out_dir: Path,
                    teacher: Path | None = None, recipe: str | None = None,
                    kernels: int | None = None) -> dict[str, Any]:
    """Train one probe network with ``probe.train`` or one of ``probe.recipes``, dense or (``kernels``) kernel-sparse;
    write model.pt, metrics.json (accuracy, counts) and train_log.json."""
    started = time.time()
    probe = _check(params.get("probe"), tuple(widths), seed, recipe, kernels)
    reference = params["experiments"][probe["reference"]]
    task = task_for(params, reference)
    data = load_task_data(task, reference, data_path)  # the reference's subsets and their seed
    shape = tuple(data.x_train.shape[1:])
    model = _initial(shape, data.num_classes, widths, seed)
    masks = probe_masks(model, tuple(widths), seed, kernels)
    config = probe_config(recipe_train(probe, recipe))
    parent = None
    if distills(probe):
        if teacher is None:
            raise ParamsError("probe.train.distill: the probe needs its teacher; give --teacher <reference ancestor"
                              " model.pt> (the plan does)")
        parent_model, parent_masks, _ = load_network(teacher)
        apply_masks(parent_model, parent_masks)
        parent = compact(parent_model, parent_masks, shape).model
    label = f"probe {probe_unit(widths, seed, recipe, kernels)}"
    diverged = None
    try:
        history = train(model, masks, data, config, seed_for(seed, 0, "train"), label, task.objective(data),
                        device(), parent)
    except DivergenceError as error:
        diverged, history = str(error), []
        model = _initial(shape, data.num_classes, widths, seed)  # the weights are not finite: keep the start
        apply_masks(model, masks)
    files = step_files("probe_train")
    like = {"architecture": PROBE_ARCHITECTURE, "input_shape": list(shape), "num_classes": data.num_classes,
            "experiment": "probe"}
    save_checkpoint(out_dir / files[0], "model", network_payload(model, masks, like, generation=0,
                                                                  widths=list(widths)))
    counts = network_counts(model, shape, masks)
    scores = {"accuracy": None, "diverged": diverged} if diverged else task.scores(model, data, device())
    model.to("cpu")
    metrics = {"widths": list(widths), "recipe": recipe, "seed": seed, "variant": variant(kernels), **scores, **counts,
               "dense_kernels": living_kernels(full_masks(model)),
               "test_images": len(data.y_test), "epochs": config.epochs, "lr": config.lr,
               "schedule": config.schedule, "distill_alpha": config.distill_alpha}
    write_json(out_dir / files[1], metrics)
    seconds = [epoch.pop("seconds") for epoch in history]  # timings: in the run record, not the hashed log
    write_json(out_dir / files[2], {"epochs": history})
    recorded = {"probe": {"reference": probe["reference"], "train": recipe_train(probe, recipe)},
                "widths": list(widths), "recipe": recipe, "seed": seed, "kernels": kernels,
                "reference": {k: reference[k] for k in ("dataset", "data", "seed")}}
    finish("probe_train", recorded, started, out_dir, files, epoch_seconds=seconds)
    return metrics


def variant(kernels: int | None) -> str:
    """The probe network's kind in its metrics and the report: dense, or kernel-sparse (a fixed kernel mask)."""
    return "dense" if kernels is None else "kernel-sparse"


def _initial(shape: tuple[int, ...], num_classes: int, widths: tuple[int, ...], seed: int) -> nn.Module:
    """The probe network before training, from the seed's ``init`` stream (an ancestor's: steps/train.py)."""
    torch.manual_seed(seed_for(seed, 0, "init"))
    return build_model(PROBE_ARCHITECTURE, shape, num_classes, widths=tuple(widths))


def main(params: dict[str, Any], args: Namespace) -> None:
    metrics = run_probe_train(params, tuple(args.widths), args.seed, args.data, args.out_dir, args.teacher,
                              args.recipe, args.kernels)
    outcome = (f"diverged ({metrics['diverged']})" if metrics.get("diverged")
               else f"accuracy {metrics['accuracy']:.4f}")
    print(f"probe {metrics['architecture']} {metrics['variant']} seed {metrics['seed']}: {outcome},"
          f" {metrics['synapses']:,} synapses, {metrics['kernels']:,} kernels, {metrics['macs']:,} MACs")
