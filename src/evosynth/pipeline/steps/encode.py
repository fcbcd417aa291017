"""Step ``encode``: the genome of the previous generation for one offspring (EvoNet eq. 1; cluster paper eq. 2–5; sexual paper eq. 3–5)."""

from __future__ import annotations

import time
from argparse import Namespace
from pathlib import Path
from typing import Any

import torch

from evosynth.artifacts import read_json, save_checkpoint
from evosynth.errors import ArtifactError
from evosynth.evolution.encoding import encode, encode_clusters
from evosynth.evolution.mating import MatingWeights, blend_state, choose_parents, mate
from evosynth.evolution.synthesis import seed_for
from evosynth.nets.coupling import coupled_channels
from evosynth.nets.masks import prunable_layers
from evosynth.pipeline.outputs import step_files
from evosynth.scores import decision_value
from evosynth.pipeline.steps.common import (
    finish,
    load_network,
    network_payload,
    prunable_weights,
    step_params,
    stream,
)


def run_encode(
    params: dict[str, Any],
    experiment: str,
    generation: int,
    parents: list[Path],
    out_dir: Path,
    parent_metrics: list[Path] | None = None,
    member: int | None = None,
) -> dict[str, Any]:
    """Write the genome of generation ``generation − 1`` for one offspring.

    EvoNet: P(s|w) of the parent (eq. 1). Cluster-driven: P(c) and P(s|c) of the
    parent (cluster paper eq. 2–5). Sexual: two parents chosen from the pool
    and mated (sexual paper eq. 4–5), then cluster-encoded. The genome also
    holds the weights the offspring inherits (the parent's or the mated ones).
    """
    started = time.time()
    exp = params["experiments"][experiment]
    method, coding = exp["method"], exp["encoding"]
    chosen: list[int] = [0]
    if method == "sexual":
        pop = exp["population"]
        if not parents or len(parent_metrics or []) != len(parents):
            raise ArtifactError("sexual synthesis needs the metrics.json of every --parent (--parent-metrics)")
        fitness = pop["parents"] == "fitness"  # by validation accuracy; a random choice reads only the pool's size
        records = [(read_json(p), p) for p in parent_metrics]
        accuracies = [decision_value(*record) if fitness else 0.0 for record in records]
        seed = seed_for(exp["seed"], generation, stream("mate", member))
        chosen = list(choose_parents(accuracies, pop["parents"], pop["temperature"], seed))
    networks = [load_network(parents[i]) for i in chosen]
    model, masks, like = networks[0]
    strengths = None
    groups = (  # residual adds: one unit per channel when mating and one cluster when encoding
        coupled_channels(model, tuple(like["input_shape"])) if method in ("cluster", "sexual") else ()
    )
    if method == "sexual":
        (_, masks_b, ckpt_b), m = networks[1], exp["mating"]
        mated = mate(prunable_weights(model), masks, prunable_weights(networks[1][0]), masks_b,
                     MatingWeights(**m), coding["clusters"], coding["truncation"], groups)
        model.load_state_dict(blend_state(model.state_dict(), ckpt_b["state_dict"], MatingWeights(**m)))
        with torch.no_grad():
            for name, layer in prunable_layers(model):
                layer.weight.copy_(mated.weights[name])
        masks, strengths = mated.masks, mated.cluster_strengths
        sizes = {"parent_synapses": mated.parent_synapses, "parent_clusters": mated.parent_clusters}
    genome: dict[str, Any] = {"method": method, "parents": [str(parents[i]) for i in chosen],
                              "synapses": encode(prunable_weights(model), masks)}
    if method == "sexual":
        genome.update(sizes)
    if method in ("cluster", "sexual"):
        genome["clusters"] = encode_clusters(
            prunable_weights(model), masks, coding["clusters"], coding["truncation"], strengths, groups
        )
        genome["cluster_kind"] = coding["clusters"]
    files = step_files("encode")
    save_checkpoint(out_dir / files[0], "genome", {**genome, **network_payload(model, masks, like)})
    finish("encode", step_params(exp, "encode"), started, out_dir, files)
    return {"parents": genome["parents"]}


def main(params: dict[str, Any], args: Namespace) -> None:
    chosen = run_encode(params, args.experiment, args.generation, args.parent, args.out_dir, args.parent_metrics,
                        args.member)
    print(f"{args.experiment} gen{args.generation}: genome from {', '.join(chosen['parents'])}")
