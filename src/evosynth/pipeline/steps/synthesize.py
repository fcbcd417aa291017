"""Step ``synthesize``: sample an offspring from the genome under the environmental factor models (EvoNet eq. 2–3)."""

from __future__ import annotations

import time
from argparse import Namespace
from pathlib import Path
from typing import Any

import torch

from evosynth.artifacts import load_checkpoint, read_json, save_checkpoint, write_json
from evosynth.errors import ParamsError
from evosynth.evolution.calibration import measured, offspring
from evosynth.evolution.environment import Environment, adapted, parent_sized
from evosynth.evolution.synthesis import seed_for
from evosynth.nets.architectures import build_model
from evosynth.nets.coupling import coupled_channels
from evosynth.nets.masks import apply_masks, prunable_layers, synapse_macs, total_synapses
from evosynth.pipeline.outputs import step_files
from evosynth.pipeline.steps.common import finish, network_from, network_payload, step_params, stream
from evosynth.scores import DECISION, decision_value


def run_synthesize(
    params: dict[str, Any], experiment: str, generation: int, genome_path: Path, out_dir: Path,
    member: int | None = None, parent_metrics: list[Path] | None = None, ancestor_metrics: Path | None = None,
) -> dict[str, Any]:
    """Sample the offspring's synapses from the genome under the environmental factor models.

    With ``environment.adaptive`` the factors first depend on how far the parents'
    mean validation accuracy (``parent_metrics``) fell below the ancestor's
    (``ancestor_metrics``): the test set never decides (:mod:`evosynth.scores`).
    """
    started = time.time()
    exp = params["experiments"][experiment]
    genome = load_checkpoint(genome_path, "genome")
    model, parent_masks = network_from(genome, genome_path)
    factors = {k: v for k, v in exp["environment"].items() if k != "adaptive"}
    adaptive = exp["environment"].get("adaptive")
    slowed: dict[str, Any] = {}
    env = Environment(**factors)
    if adaptive:
        if not parent_metrics or ancestor_metrics is None:
            raise ParamsError(f"experiments.{experiment}.environment.adaptive: give --parent-metrics and"
                              " --ancestor-metrics (the plan does)")
        parent_accuracy = sum(decision_value(read_json(m), m) for m in parent_metrics) / len(parent_metrics)
        env, slowed = adapted(env, adaptive, decision_value(read_json(ancestor_metrics), ancestor_metrics),
                              parent_accuracy)
        slowed["key"] = DECISION
    env = parent_sized(env, genome)
    seed = seed_for(exp["seed"], generation, stream("synthesize", member))
    costs = synapse_macs(model, tuple(genome["input_shape"]))
    output_layer = prunable_layers(model)[-1][0]
    groups = coupled_channels(model, tuple(genome["input_shape"]))  # residual adds share a fate; chains: none
    masks, summary, compacted = offspring(  # F delivered after keep_minimum and compaction
        model, genome, parent_masks, env, seed, tuple(genome["input_shape"]), output_layer, costs, groups
    )
    summary["kept_strongest"] = compacted.kept_strongest
    if exp["init"] == "scratch":
        torch.manual_seed(seed_for(exp["seed"], generation, stream("init", member)))
        model = build_model(genome["architecture"], tuple(genome["input_shape"]), genome["num_classes"],
                            width=genome.get("width", 1.0))
    apply_masks(model, masks)
    parent_count = genome.get("parent_synapses", total_synapses(parent_masks))
    summary.update(
        environment={k: v for k, v in exp["environment"].items() if k != "adaptive" or v is not None},
        **({"adaptive": slowed} if adaptive else {}),
        parents=genome["parents"],
        parent_synapses=parent_count,
        synapses=total_synapses(masks),
        per_layer={n: {"parent": int(parent_masks[n].sum()), "kept": int(masks[n].sum())} for n in masks},
    )
    summary["expected_ratio"] = summary["expected_synapses"] / parent_count if parent_count else 0.0
    summary["realised_ratio"] = summary["synapses"] / parent_count if parent_count else 0.0
    parent_macs = measured(parent_masks, costs)
    summary["realised_mac_ratio"] = measured(masks, costs) / parent_macs if parent_macs else 0.0
    files = step_files("synthesize")
    save_checkpoint(out_dir / files[0], "offspring", network_payload(model, masks, genome, generation=generation))
    write_json(out_dir / files[1], summary)
    finish("synthesize", step_params(exp, "synthesize"), started, out_dir, files)
    return summary


def main(params: dict[str, Any], args: Namespace) -> None:
    summary = run_synthesize(params, args.experiment, args.generation, args.genome, args.out_dir, args.member,
                             args.parent_metrics, args.ancestor_metrics)
    print(
        f"{args.experiment} gen{args.generation}: kept {summary['synapses']:,} of {summary['parent_synapses']:,}"
        f" synapses (ratio {summary['realised_ratio']:.3f}, expected {summary['expected_ratio']:.3f})"
    )
