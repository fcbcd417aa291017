"""Experiments over several seeds: one chain per seed, each an ordinary experiment.

An experiment with ``seeds: [0, 1, 2]`` becomes the experiments ``<name>_s0``,
``<name>_s1`` and ``<name>_s2`` (folders ``results/<name>_s<k>/``, stages
``retrain-<name>_s<k>-gen<g>``: valid names in DVC and Snakemake alike), each
with ``seed`` set to its seed. The seed drives everything random in a chain:
the ancestor's initialisation and data order, every offspring's sampling and
data order (docs/method.md §9). An experiment with ``ancestor: a`` where ``a``
has seeds starts seed by seed from ``a_s<k>``'s generation 0, so a treatment
and its control share each seed's ancestor.

The expanded params keep the experiment as written under ``families`` (name →
spec): the steps of ``<name>_s<k>`` read ``experiments.<name>.*`` from
params.yaml (what DVC tracks), and :func:`family_of` maps a chain back.
"""

from __future__ import annotations

import copy
from typing import Any

from evosynth.errors import ParamsError

FAMILIES = "families"
BASELINE_FAMILIES = "baseline_families"


def member_name(family: str, seed: int) -> str:
    """The experiment that runs ``family`` with one seed."""
    return f"{family}_s{seed}"


def family_of(params: dict[str, Any], experiment: str) -> str | None:
    """The experiment with seeds that ``experiment`` is one chain of (None: an ordinary experiment)."""
    return params["experiments"].get(experiment, {}).get("family")


def members(params: dict[str, Any], family: str) -> list[str]:
    """The chains of an experiment or baseline ``family`` in seed order (the run itself when it has no seeds)."""
    chains = [name for section in ("experiments", "baselines") for name, spec in params.get(section, {}).items()
              if spec.get("family") == family]
    return chains or [family]


def chain_generations(params: dict[str, Any], name: str) -> int:
    """The last generation of an experiment or baseline: a baseline on its own ``schedule`` runs its own count,
    one following an experiment's synapse counts stops where that experiment stops."""
    if name not in params["baselines"]:
        return params["experiments"][name]["generations"]
    spec = params["baselines"][name]
    own = spec.get("schedule")
    return own["generations"] if own else params["experiments"][spec["follow"]]["generations"]


def expand_seeds(params: dict[str, Any], source: str) -> dict[str, Any]:
    """Replace every experiment with ``seeds`` by one experiment per seed; keep the originals in ``families``."""
    experiments = params["experiments"]
    families = {name: spec for name, spec in experiments.items() if "seeds" in spec}
    params[FAMILIES] = families
    if not families:
        return params
    expanded: dict[str, Any] = {}
    for name, spec in experiments.items():
        if name not in families:
            expanded[name] = spec
            continue
        raw_seed = spec.get("seed", 0)
        if raw_seed != 0 and raw_seed not in spec["seeds"]:
            raise ParamsError(f"{source}: experiments.{name}.seed: {raw_seed} is not one of seeds {spec['seeds']};"
                              " allowed: seed or seeds, not both")
        owner = spec.get("ancestor")
        if owner is not None and owner in families:
            missing = sorted(set(spec["seeds"]) - set(families[owner]["seeds"]))
            if missing:
                raise ParamsError(f"{source}: experiments.{name}.seeds: {owner!r} trains no ancestor for seed(s)"
                                  f" {', '.join(map(str, missing))}; allowed: seeds of {owner!r}"
                                  f" ({', '.join(map(str, families[owner]['seeds']))})")
        elif owner is not None:
            raise ParamsError(f"{source}: experiments.{name}.ancestor: {owner!r} has no seeds; allowed: an experiment"
                              " with seeds (each seed's chain starts from that seed's ancestor)")
        for seed in spec["seeds"]:
            member = member_name(name, seed)
            if member in experiments:
                raise ParamsError(f"{source}: experiments.{name}.seeds: the chain name {member!r} is taken by an"
                                  " experiment; allowed: rename one of them")
            chain = {k: copy.deepcopy(v) for k, v in spec.items() if k != "seeds"}
            chain.update(seed=seed, family=name)
            if owner is not None:
                chain["ancestor"] = member_name(owner, seed)
            expanded[member] = chain
    for name, spec in experiments.items():
        if name not in families and spec.get("ancestor") in families:
            raise ParamsError(f"{source}: experiments.{name}.ancestor: {spec['ancestor']!r} runs over seeds;"
                              f" allowed: give {name!r} seeds too")
    params["experiments"] = expanded
    return params


def expand_baselines(params: dict[str, Any], source: str) -> dict[str, Any]:
    """Replace every baseline following an experiment with seeds by one baseline per seed (``<name>_s<k>``)."""
    families, experiments = params[FAMILIES], params["experiments"]
    baselines = params.get("baselines", {})
    expanded: dict[str, Any] = {}
    params[BASELINE_FAMILIES] = {}
    for name, spec in baselines.items():
        followed = spec["follow"]
        if name in families:
            raise ParamsError(f"{source}: baselines.{name}: the name is taken by an experiment with seeds;"
                              " allowed: a new name")
        if followed not in families:
            if "seeds" in spec:
                raise ParamsError(f"{source}: baselines.{name}.seeds: {followed!r} has no seeds; allowed: no seeds"
                                  " (the baseline takes the followed run's seed), or follow an experiment with seeds")
            expanded[name] = spec
            continue
        own = families[followed]["seeds"]
        seeds = spec.get("seeds", own)
        missing = sorted(set(seeds) - set(own))
        if missing:
            raise ParamsError(f"{source}: baselines.{name}.seeds: {followed!r} runs no chain for seed(s)"
                              f" {', '.join(map(str, missing))}; allowed: seeds of {followed!r} ({', '.join(map(str, own))})")
        params[BASELINE_FAMILIES][name] = spec
        for seed in seeds:
            member = member_name(name, seed)
            if member in baselines or member in experiments:
                raise ParamsError(f"{source}: baselines.{name}: the chain name {member!r} is taken; allowed: rename one"
                                  " of them")
            chain = {k: copy.deepcopy(v) for k, v in spec.items() if k != "seeds"}
            expanded[member] = {**chain, "follow": member_name(followed, seed), "family": name}
    params["baselines"] = expanded
    return params
