"""The trade-off curves' stages (:mod:`evosynth.pipeline.curves` describes them), for the plan."""

from __future__ import annotations

from pathlib import PurePosixPath
from typing import Any

from evosynth.pipeline.curves import CURVES_DIR, curve_runs, curve_seeds, latency_folder, scratch_runs, scratch_unit
from evosynth.pipeline.layout import chain_metrics, member_dir, prepared_path, run_dir
from evosynth.pipeline.pickset import seeded_chains
from evosynth.pipeline.seeds import BASELINE_FAMILIES, members
from evosynth.pipeline.stage import Step, make_step


def timed_networks(params: dict[str, Any], seed: int) -> list[str]:
    """The folders of every network a curve point of ``seed`` stands on, the seed's ancestor first: every
    generation of every run's chain of that seed, then its from-scratch controls."""
    mine = members_at(params, seed)
    folders = [str(PurePosixPath(m).parent) for chain in mine for m in chain_metrics(chain, params)]
    folders += [folder for chain, _, folder in scratch_runs(params) if chain in mine]
    return list(dict.fromkeys(folders))


def members_at(params: dict[str, Any], seed: int) -> list[str]:
    """The chain of every run of the curves at ``seed`` (a candidate searched on other seeds has none)."""
    return [chains[seed] for name in curve_runs(params) if seed in (chains := seeded_chains(params, name))]


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


def _reach(params: dict[str, Any]) -> tuple[str, ...]:
    """The keys saying how far each run of the curves goes (as written: a family's keys)."""
    return tuple(f"baselines.{n}" if n in {*params["baselines"], *params[BASELINE_FAMILIES]}
                 else f"experiments.{n}.generations" for n in curve_runs(params))


def latency_steps(params: dict[str, Any]) -> list[Step]:
    """One timing per seed: every network of the seed's chains and controls, with the same-architecture control."""
    steps = []
    # what it reads: the harness settings, which runs and controls are timed, how far each run goes
    reads = ("runtime.repeats", "runtime.rounds", "runtime.warmup", "curves.evolved", "curves.baselines",
             "curves.search.candidates", "curves.scratch", *_reach(params))
    for seed in curve_seeds(params):
        deps = [f"{folder}/model.pt" for folder in timed_networks(params, seed)]
        steps.append(make_step("latency", "latency", latency_folder(seed), deps, ["--seed", str(seed)],
                               params=reads, unit=f"s{seed}"))
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
