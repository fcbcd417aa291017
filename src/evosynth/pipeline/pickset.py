"""The pick set (issue 16) in params: which chains the picks report reads, and the checks of its sections.

``runtime.picks`` names the runs compared (the pick and the pruning
baselines); ``picks`` says which of them is the pick, which experiments are
its ablations, the confidence of the intervals and the targets. A name with
seeds stands for every chain of it (:func:`evosynth.pipeline.seeds.members`),
and the report pairs the chains by seed, so every run and ablation must
have the pick's seeds, and one line per seed: every chain of a seed starts
from that seed's ancestor (the pick's generation 0), against which the report
judges "within tolerance" (:mod:`evosynth.reporting.picks`).
"""

from __future__ import annotations

from typing import Any

from evosynth.errors import ParamsError
from evosynth.pipeline.seeds import BASELINE_FAMILIES, FAMILIES, members


def chain_seed(params: dict[str, Any], chain: str) -> int:
    """The seed of one chain: an experiment's own, or the followed experiment's for a baseline."""
    if chain in params["baselines"]:
        chain = params["baselines"][chain]["follow"]
    return int(params["experiments"][chain]["seed"])


def seeded_chains(params: dict[str, Any], name: str) -> dict[int, str]:
    """seed → chain of a run (an experiment or baseline, with or without seeds)."""
    return {chain_seed(params, chain): chain for chain in members(params, name)}


def ancestor_of(params: dict[str, Any], chain: str) -> str:
    """The experiment whose generation 0 a chain starts from: its ``ancestor``, itself, or the followed run's."""
    if chain in params["baselines"]:
        chain = params["baselines"][chain]["follow"]
    return params["experiments"][chain].get("ancestor") or chain


def pick_of(params: dict[str, Any]) -> str | None:
    """The run every other run of ``runtime.picks`` is compared with (``picks.pick``, else the first)."""
    runs = params["runtime"]["picks"]
    return (params.get("picks") or {}).get("pick") or (runs[0] if runs else None)


def timed_chains(params: dict[str, Any]) -> list[str]:
    """Every chain of every run of ``runtime.picks``: each generation of each is timed."""
    return [chain for run in params["runtime"]["picks"] for chain in members(params, run)]


def ablation_chains(params: dict[str, Any]) -> list[str]:
    """Every chain of every ablation of the pick (their metrics only: they are not timed)."""
    return [chain for name in (params.get("picks") or {}).get("ablations", []) for chain in members(params, name)]


def single_network_runs(params: dict[str, Any]) -> list[str]:
    """Runs with one network per generation: experiments (and families) but sexual ones, and baselines."""
    experiments = {**params[FAMILIES], **params["experiments"]}
    return [*(e for e, x in experiments.items() if x["method"] != "sexual"),
            *params[BASELINE_FAMILIES], *params["baselines"]]


def check_picks(params: dict[str, Any], source: str) -> None:
    """``runtime.picks`` and ``picks`` name runs with one network per generation, all with the pick's seeds."""
    runs, section = params["runtime"]["picks"], params.get("picks") or {}
    allowed = single_network_runs(params)
    for name in runs:
        if name not in allowed:
            raise ParamsError(f"{source}: runtime.picks: {name!r} is not a run with one network per generation;"
                              f" allowed: {', '.join(allowed)}")
    pick = pick_of(params)
    if section.get("pick") is not None and pick not in runs:
        raise ParamsError(f"{source}: picks.pick: {pick!r} is not a run of runtime.picks;"
                          f" allowed: {', '.join(runs) or '(none: list the runs in runtime.picks)'}")
    if section.get("ablations") and pick is None:
        raise ParamsError(f"{source}: picks.ablations: there is no pick to ablate; allowed: list the pick in runtime.picks")
    experiments = [e for e in allowed if e in params[FAMILIES] or e in params["experiments"]]
    for index, name in enumerate(section.get("ablations", [])):
        if name not in experiments or name in runs:
            raise ParamsError(f"{source}: picks.ablations.{index}: {name!r} is not an experiment with one network per"
                              f" generation outside runtime.picks; allowed: {', '.join(e for e in experiments if e not in runs)}")
    if pick is None:
        return
    seeds = sorted(seeded_chains(params, pick))
    for key, names in (("runtime.picks", runs), ("picks.ablations", section.get("ablations", []))):
        for name in names:
            own = seeded_chains(params, name)
            if sorted(own) != seeds:
                raise ParamsError(f"{source}: {key}: {name!r} runs seeds {sorted(own)}, the pick {pick!r} runs {seeds};"
                                  " allowed: the pick's seeds (the report pairs every run with the pick seed by seed)")
            for seed, chain in own.items():
                line = ancestor_of(params, seeded_chains(params, pick)[seed])
                if ancestor_of(params, chain) != line:
                    raise ParamsError(f"{source}: {key}: {name!r} seed {seed} starts from the ancestor of"
                                      f" {ancestor_of(params, chain)!r}, not from the pick's ({line!r});"
                                      f" allowed: ancestor: {pick} (every run of a seed shares that seed's ancestor"
                                      " and is judged against its line)")
