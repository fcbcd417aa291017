"""The trade-off curves' stages (:mod:`evosynth.pipeline.curves` describes them), for the plan."""

from __future__ import annotations

from typing import Any

from evosynth.pipeline.curves import scratch_runs, scratch_unit
from evosynth.pipeline.layout import member_dir, prepared_path, run_dir
from evosynth.pipeline.stage import Step, make_step


def _followed(params: dict[str, Any], chain: str) -> str:
    """The experiment whose ancestor, data and training a chain has: itself, or the one a baseline follows."""
    return params["baselines"][chain]["follow"] if chain in params["baselines"] else chain


def scratch_steps(params: dict[str, Any]) -> list[Step]:
    """One from-scratch control per chain and generation of ``curves.scratch`` (outside the default target)."""
    steps = []
    for chain, generation, folder in scratch_runs(params):
        source = _followed(params, chain)
        spec = params["experiments"][source]
        family = spec.get("family")
        data = prepared_path(spec["dataset"])
        model, ancestor = f"{member_dir(chain, generation, 0, 1)}/model.pt", f"{run_dir(source, spec, 0)}/model.pt"
        # what it reads: the chain's data and training as written (a seed's chain: its family's keys, no seed)
        reads = tuple(f"experiments.{family or source}.{key}" for key in ("dataset", "architecture", "train", "data",
                                                                          "seed") if not (family and key == "seed"))
        args = ["--experiment", chain, "--generation", str(generation), "--model", model, "--ancestor", ancestor,
                "--data", data]
        steps.append(make_step("scratch", "scratch", folder, [model, ancestor, data], args, params=reads,
                               unit=scratch_unit(chain, generation)))
    return steps
