"""Step ``prune``: a pruning baseline's offspring, its parent pruned to the followed run's synapse count."""

from __future__ import annotations

import time
from argparse import Namespace
from pathlib import Path
from typing import Any

from evosynth.artifacts import read_json, save_checkpoint, write_json
from evosynth.baselines import l1_filter_prune, l1_keep_fraction, living_filters, magnitude_prune, random_prune
from evosynth.errors import ParamsError
from evosynth.evolution.synthesis import seed_for
from evosynth.nets.compaction import compact
from evosynth.nets.masks import apply_masks, total_synapses
from evosynth.pipeline.outputs import step_files
from evosynth.pipeline.params import training_spec
from evosynth.pipeline.steps.common import finish, load_network, network_payload


def scheduled_synapses(ancestor_synapses: int, factor: float, generation: int) -> int:
    """A baseline's own course (``schedule``): generation g keeps round(F^g x the ancestor's synapses)."""
    return round(ancestor_synapses * factor**generation)


def run_prune(
    params: dict[str, Any], baseline: str, generation: int, parent: Path, against: Path, out_dir: Path
) -> dict[str, Any]:
    """A pruning baseline's offspring: the parent pruned to the followed run's synapse count at this generation
    (``against`` its metrics.json), or with ``schedule`` to F^g of the ancestor's (``against`` the ancestor's model.pt)."""
    started = time.time()
    spec = params["baselines"][baseline]
    model, masks, like = load_network(parent)
    if spec.get("schedule"):
        ancestor = total_synapses(load_network(against)[1])
        target = scheduled_synapses(ancestor, spec["schedule"]["factor"], generation)
    else:
        target = int(read_json(against)["synapses"])
    if spec["method"] == "magnitude":
        pruned = magnitude_prune(model, masks, keep=min(target, total_synapses(masks)))
    elif spec["method"] == "random":  # magnitude's counts, the kept synapses drawn from the chain's seed
        seed = seed_for(int(training_spec(params, baseline)["seed"]), generation, "prune")
        pruned = random_prune(masks, min(target, total_synapses(masks)), seed)
    else:
        importance = spec["method"]  # l1_filter or group_norm: filters, the same uniform per-layer steps
        pruned = l1_filter_prune(model, masks, l1_keep_fraction(model, masks, target, importance=importance),
                                 importance)
    compacted = compact(model, pruned, tuple(like["input_shape"]))
    pruned = compacted.ancestor_masks(pruned)
    apply_masks(model, pruned)
    summary = {
        "method": spec["method"],
        "target_synapses": target,
        "parent_synapses": total_synapses(masks),
        "synapses": total_synapses(pruned),
        "filters": living_filters(model, pruned),
    }
    files = step_files("prune")
    save_checkpoint(out_dir / files[0], "offspring", network_payload(model, pruned, like, generation=generation))
    write_json(out_dir / files[1], summary)
    finish("prune", spec, started, out_dir, files)
    return summary


def main(params: dict[str, Any], args: Namespace) -> None:
    scheduled = bool(params["baselines"][args.experiment].get("schedule"))
    given = args.ancestor if scheduled else args.target_metrics
    if given is None:
        raise ParamsError(f"prune: {args.experiment!r} {'has' if scheduled else 'has no'} schedule; allowed:"
                          f" {'--ancestor' if scheduled else '--target-metrics'}")
    summary = run_prune(params, args.experiment, args.generation, args.parent, given, args.out_dir)
    print(f"{args.experiment} gen{args.generation}: {summary['synapses']:,} synapses"
          f" (target {summary['target_synapses']:,}), {summary['filters']} filters")
