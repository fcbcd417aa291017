"""The trade-off curves' stages (:mod:`evosynth.pipeline.curves` describes them), for the plan."""

from __future__ import annotations

from pathlib import PurePosixPath
from typing import Any

from evosynth.pipeline.curves import CURVES_DIR, curve_runs, latency_folder, scratch_runs, scratch_unit
from evosynth.pipeline.layout import chain_metrics, member_dir, prepared_path, run_dir
from evosynth.pipeline.seeds import BASELINE_FAMILIES, members
from evosynth.pipeline.stage import Step, make_step


def timed_networks(params: dict[str, Any], chain: str) -> list[str]:
    """The folders of every network a curve point of ``chain`` stands on: its generations, its seed's ancestor
    first (a baseline's generation 0 is the run's it follows), then its from-scratch controls."""
    folders = [str(PurePosixPath(m).parent) for m in chain_metrics(chain, params)]
    return [*folders, *(folder for c, _, folder in scratch_runs(params) if c == chain)]


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


def _reach_key(params: dict[str, Any], name: str) -> str:
    """The key saying how far a run of the curves goes (as written: a family's key)."""
    return f"baselines.{name}" if name in {*params["baselines"], *params[BASELINE_FAMILIES]} \
        else f"experiments.{name}.generations"


def _reach(params: dict[str, Any]) -> tuple[str, ...]:
    """The keys saying how far each run of the curves goes."""
    return tuple(_reach_key(params, n) for n in curve_runs(params))


def latency_steps(params: dict[str, Any]) -> list[Step]:
    """One timing per chain: every network of the chain and its controls, with the same-architecture control."""
    steps = []
    # what it reads: the harness settings and how far its own run goes. Which networks it times is in its deps
    # (a chain given controls gains their models), and nothing of the other runs is read, so a chain timed in one
    # session stays timed when runs or controls of other chains are added to the curves later
    reads = ("runtime.repeats", "runtime.rounds", "runtime.warmup")
    for name in curve_runs(params):
        for chain in members(params, name):
            deps = [f"{folder}/model.pt" for folder in timed_networks(params, chain)]
            steps.append(make_step("latency", "latency", latency_folder(chain), deps, ["--chain", chain],
                                   params=(*reads, _reach_key(params, name)), unit=chain))
    return steps


def curves_steps(params: dict[str, Any]) -> list[Step]:
    """The controls, the timings, then the report reading every chain's metrics, every control's and every
    timing (all outside the default)."""
    controls, timings = scratch_steps(params), latency_steps(params)
    deps = list(dict.fromkeys(m for name in curve_runs(params) for chain in members(params, name)
                              for m in chain_metrics(chain, params)))
    deps += [f"{step.folder}/metrics.json" for step in controls]
    deps += [out for step in timings for out in step.outs[:-1]]
    report = make_step("curves", "curves", CURVES_DIR, deps, [], params=("curves", *_reach(params)))
    return [*controls, *timings, report]
