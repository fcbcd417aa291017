"""The trade-off curves (docs/method.md §10.6) in params: which runs, which from-scratch controls, the checks.

``curves.evolved`` is the evolved run and ``curves.baselines`` the runs it is
judged against (experiments or baselines with one network per generation,
all with the evolved run's seeds: the report pairs them by seed).
``curves.search.candidates`` are further evolved configurations: the
configurations tried are the evolved run and the candidates, and the report
chooses one of them on validation accuracy alone, over the seeds they all
run (:func:`search_seeds`; :mod:`evosynth.reporting.curves_search`). A
candidate may run a subset of the evolved run's seeds (the search's, at least
two), so the search costs a fraction of the comparison; the chosen one is then
given every seed, and only then compared. Every run of a seed starts from
that seed's ancestor, the evolved run's generation 0 (one line per seed).
Every chain of ``curves.scratch.chains`` (a name with seeds: each seed's
chain) gets the from-scratch control of each generation of
``curves.scratch.generations``. Every network a curve point stands on is
timed, one stage per chain: a chain, its controls and its timing need no
other chain's networks, so a group of chains runs, is timed and is committed
in one session, and the report reads only files kept in git::

    scratch   results/scratch/<chain>/gen<g>/model.pt, metrics.json, train_log.json
              (deps: the chain's generation g model.pt, its ancestor's model.pt, its prepared data)
    latency   results/latency/<chain>/latency.json: batch-1 ONNX Runtime latency, 1 thread, of every
              generation of the chain (its seed's ancestor first) and of its controls, interleaved with a
              second copy of that ancestor (the same-architecture control); speed-ups against the
              ancestor (deps: those model.pt files)
    curves    reports/curves/curves.{md,csv}, curves_{synapses,macs,latency,search}.png, search.csv
              (deps: every generation's metrics.json of every chain, every scratch metrics.json,
              every latency.json)

A named target outside the default run (``render_dvc.py --with curves``, then
``dvc repro pipelines/curves/dvc.yaml``; ``snakemake -c2 curves``).

Light on purpose (params.py validates with it, and every step runs params.py).
"""

from __future__ import annotations

from typing import Any

from evosynth.errors import ParamsError
from evosynth.pipeline.pickset import ancestor_of, seeded_chains, single_network_runs
from evosynth.pipeline.seeds import FAMILIES, chain_generations, members

CURVES_DIR = "reports/curves"
SCRATCH_RESULTS = "results/scratch"
LATENCY_RESULTS = "results/latency"


def scratch_folder(chain: str, generation: int) -> str:
    return f"{SCRATCH_RESULTS}/{chain}/gen{generation}"


def scratch_unit(chain: str, generation: int) -> str:
    """A control's name in stages (``scratch-<unit>``) and in Snakemake's wildcard (``/`` for ``-``)."""
    return f"{chain}-gen{generation}"


def latency_folder(chain: str) -> str:
    return f"{LATENCY_RESULTS}/{chain}"


def configurations(params: dict[str, Any]) -> list[str]:
    """The evolved configurations tried: the evolved run, then ``curves.search.candidates``."""
    curves = params.get("curves") or {}
    return [curves["evolved"], *(curves.get("search") or {}).get("candidates", [])] if curves else []


def curve_runs(params: dict[str, Any]) -> list[str]:
    """The configurations tried, then the baselines (each a name with or without seeds)."""
    curves = params.get("curves") or {}
    return [*configurations(params), *curves.get("baselines", [])] if curves else []


def curve_seeds(params: dict[str, Any]) -> list[int]:
    """The seeds of the curves: the evolved run's (every run of the curves has them)."""
    return sorted(seeded_chains(params, params["curves"]["evolved"]))


def curve_chains(params: dict[str, Any]) -> list[str]:
    """Every chain of every run of the curves (each run's chains in seed order), each timed on its own."""
    return [chain for name in curve_runs(params) for chain in members(params, name)]


def search_seeds(params: dict[str, Any]) -> list[int]:
    """The seeds every configuration tried runs: the ones the search compares them on."""
    shared = set(curve_seeds(params))
    for name in configurations(params)[1:]:
        shared &= set(seeded_chains(params, name))
    return sorted(shared)


def scratch_runs(params: dict[str, Any]) -> list[tuple[str, int, str]]:
    """(chain, generation, folder) of every from-scratch control, chains in params order, then generations."""
    scratch = (params.get("curves") or {}).get("scratch") or {}
    return [(chain, g, scratch_folder(chain, g)) for name in scratch.get("chains", [])
            for chain in members(params, name) for g in scratch.get("generations", [])]


def check_curves(params: dict[str, Any], source: str) -> None:
    """Every run of the curves has one network per generation and the evolved run's seeds; a control's chain
    is a run of the curves and its generations exist."""
    curves = params.get("curves")
    if not curves:
        return
    runs = single_network_runs(params)
    names = curve_runs(params)
    for key, name in _keyed_runs(params):
        if name not in runs:
            raise ParamsError(f"{source}: {key}: {name!r} is not a run with one network per generation;"
                              f" allowed: {', '.join(runs)}")
    _check_search(params, source)
    evolved = seeded_chains(params, names[0])
    for key, name in _keyed_runs(params)[1:]:
        own = seeded_chains(params, name)
        searched = key.startswith("curves.search")
        if not (set(own) <= set(evolved) if searched else sorted(own) == sorted(evolved)):
            allowed = ("a subset of the evolved run's seeds (the search runs on some of them)" if searched
                       else "the evolved run's seeds (the report pairs them by seed)")
            raise ParamsError(f"{source}: {key}: {name!r} runs seeds {sorted(own)}, {names[0]!r} runs"
                              f" {sorted(evolved)}; allowed: {allowed}")
        for seed, chain in own.items():
            line = ancestor_of(params, evolved[seed])
            if ancestor_of(params, chain) != line:
                raise ParamsError(f"{source}: {key}: {name!r} seed {seed} starts from the ancestor of"
                                  f" {ancestor_of(params, chain)!r}, not from {line!r}; allowed: ancestor:"
                                  f" {names[0]} (one line per seed: every run of a seed shares its ancestor)")
    shared = search_seeds(params)
    if len(configurations(params)) > 1 and len(shared) < 2:
        raise ParamsError(f"{source}: curves.search.candidates: the configurations tried share seeds"
                          f" {shared}; allowed: at least two seeds in common (the search's interval)")
    scratch = curves.get("scratch") or {}
    for index, name in enumerate(scratch.get("chains", [])):
        if name not in names:
            raise ParamsError(f"{source}: curves.scratch.chains.{index}: {name!r} is not a run of the curves;"
                              f" allowed: {', '.join(names)}")
    for chain, generation, _ in scratch_runs(params):
        if not 1 <= generation <= chain_generations(params, chain):
            raise ParamsError(f"{source}: curves.scratch.generations: {chain!r} has no generation {generation};"
                              f" allowed: 1..{chain_generations(params, chain)}")


def _keyed_runs(params: dict[str, Any]) -> list[tuple[str, str]]:
    """(params key, run) of every run of the curves: the evolved run, the candidates, the baselines."""
    curves = params["curves"]
    return [("curves.evolved", curves["evolved"]),
            *((f"curves.search.candidates.{i}", n) for i, n in enumerate(configurations(params)[1:])),
            *((f"curves.baselines.{i}", n) for i, n in enumerate(curves["baselines"]))]


def _check_search(params: dict[str, Any], source: str) -> None:
    """A candidate is an evolved configuration (an experiment), named once among the runs of the curves."""
    experiments = {**params["experiments"], **params[FAMILIES]}
    seen = set()
    for key, name in _keyed_runs(params):
        if name in seen:
            raise ParamsError(f"{source}: {key}: {name!r} is named twice among the runs of the curves;"
                              " allowed: each run once (evolved, search.candidates, baselines)")
        seen.add(name)
        if key.startswith("curves.search") and name not in experiments:
            raise ParamsError(f"{source}: {key}: {name!r} is not an experiment; allowed: an evolved configuration"
                              " (an experiment with ancestor: the evolved run), not a baseline")
    search = params["curves"].get("search") or {}
    axis = search.get("axis", "mac_reduction")
    if search.get("candidates") and not params["curves"].get("operating_points", {}).get(axis):
        raise ParamsError(f"{source}: curves.search.axis: {axis} has no operating points to span;"
                          f" allowed: an axis with curves.operating_points.{axis} listed")
