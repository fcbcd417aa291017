"""The trade-off curves (docs/method.md §10.6) in params: which runs, which from-scratch controls, the checks.

``curves.evolved`` is the evolved run and ``curves.baselines`` the runs it is
judged against (experiments or baselines with one network per generation,
all with the evolved run's seeds: the report pairs them by seed). Every
chain of ``curves.scratch.chains`` (a name with seeds: each seed's chain)
gets the from-scratch control of each generation of ``curves.scratch.generations``::

    scratch   results/scratch/<chain>/gen<g>/model.pt, metrics.json, train_log.json
              (deps: the chain's generation g model.pt, its ancestor's model.pt, its prepared data)
    curves    reports/curves/curves.{md,csv}, curves_synapses.png, curves_macs.png
              (deps: every generation's metrics.json of every chain, every scratch metrics.json)

A named target outside the default run (``render_dvc.py --with curves``, then
``dvc repro pipelines/curves/dvc.yaml``; ``snakemake -c2 curves``).

Light on purpose (params.py validates with it, and every step runs params.py).
"""

from __future__ import annotations

from typing import Any

from evosynth.errors import ParamsError
from evosynth.pipeline.pickset import seeded_chains, single_network_runs
from evosynth.pipeline.seeds import chain_generations, members

CURVES_DIR = "reports/curves"
SCRATCH_RESULTS = "results/scratch"


def scratch_folder(chain: str, generation: int) -> str:
    return f"{SCRATCH_RESULTS}/{chain}/gen{generation}"


def scratch_unit(chain: str, generation: int) -> str:
    """A control's name in stages (``scratch-<unit>``) and in Snakemake's wildcard (``/`` for ``-``)."""
    return f"{chain}-gen{generation}"


def curve_runs(params: dict[str, Any]) -> list[str]:
    """The evolved run, then its baselines (each a name with or without seeds)."""
    curves = params.get("curves") or {}
    return [curves["evolved"], *curves.get("baselines", [])] if curves else []


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
    for key, name in [("curves.evolved", names[0]), *((f"curves.baselines.{i}", n) for i, n in enumerate(names[1:]))]:
        if name not in runs:
            raise ParamsError(f"{source}: {key}: {name!r} is not a run with one network per generation;"
                              f" allowed: {', '.join(runs)}")
    seeds = sorted(seeded_chains(params, names[0]))
    for index, name in enumerate(names[1:]):
        own = sorted(seeded_chains(params, name))
        if own != seeds:
            raise ParamsError(f"{source}: curves.baselines.{index}: {name!r} runs seeds {own}, {names[0]!r} runs"
                              f" {seeds}; allowed: the evolved run's seeds (the report pairs them by seed)")
    scratch = curves.get("scratch") or {}
    for index, name in enumerate(scratch.get("chains", [])):
        if name not in names:
            raise ParamsError(f"{source}: curves.scratch.chains.{index}: {name!r} is not a run of the curves;"
                              f" allowed: {', '.join(names)}")
    for chain, generation, _ in scratch_runs(params):
        if not 1 <= generation <= chain_generations(params, chain):
            raise ParamsError(f"{source}: curves.scratch.generations: {chain!r} has no generation {generation};"
                              f" allowed: 1..{chain_generations(params, chain)}")
