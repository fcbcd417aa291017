"""One line per seed: every run of a seed starts from that seed's ancestor and is judged against it."""

from __future__ import annotations

import copy

import pytest
from conftest import ROOT

from evosynth.errors import ArtifactError, ParamsError
from evosynth.pipeline.layout import run_dir
from evosynth.pipeline.params import load_params, validate_params
from evosynth.pipeline.pickset import ancestor_of, seeded_chains
from evosynth.pipeline.steps.train import train_config
from evosynth.reporting.picks import picks_tables, selected
from evosynth.scores import DECISION
from test_pickset import _pickset


def test_every_run_of_a_seed_in_params_yaml_starts_from_that_seeds_ancestor():
    params = load_params(ROOT / "params.yaml")
    names = [*params["runtime"]["picks"], *params["picks"]["ablations"]]
    lines = {seed: run_dir(chain, params["experiments"][chain], 0)
             for seed, chain in seeded_chains(params, params["picks"]["pick"]).items()}
    assert len(lines) == 3
    for name in names:
        for seed, chain in seeded_chains(params, name).items():
            owner = ancestor_of(params, chain)
            assert run_dir(owner, params["experiments"][owner], 0) == lines[seed], (name, seed)
    # the constant-learning-rate ablation: the pick's cosine ancestor, constant offspring
    spec = params["experiments"]["pick_constant_lr_s1"]
    assert spec["ancestor"] == "pick_s1"
    assert train_config(spec["train"], offspring=False).schedule == "cosine"
    assert train_config(spec["train"], offspring=True).schedule == "constant"


def test_an_ablation_training_its_own_ancestor_is_refused_in_one_line():
    params = _pickset()
    params["experiments"]["pk_ab"].pop("ancestor")
    with pytest.raises(ParamsError, match=r"picks\.ablations: 'pk_ab' seed 0 starts from the ancestor of 'pk_ab_s0',"
                                          r" not from the pick's \('pk_s0'\); allowed: ancestor: pk") as info:
        validate_params(params)
    assert "\n" not in str(info.value)
    # the offspring's schedule may differ under a shared ancestor; the ancestor's may not
    params = _pickset()
    params["experiments"]["pk_ab"]["train"] = {**params["experiments"]["pk_ab"]["train"],
                                               "offspring_schedule": "cosine"}
    validate_params(copy.deepcopy(params))
    params["experiments"]["pk_ab"]["train"]["schedule"] = "cosine"
    with pytest.raises(ParamsError, match="experiments.pk_ab_s0.ancestor: 'pk_s0' trains its ancestor with another"
                                          " train"):
        validate_params(params)


def _chain(ancestor: tuple[float, float], later: list[tuple[float, float]], tag: str) -> list[dict]:
    """Rows of one chain: (test, validation) accuracy per generation; ``tag`` names the ancestor's folder."""
    rows = [{"generation": g, "accuracy": test, "val_accuracy": val, "synapses": 1000 // (g + 1), "filters": 40 - g,
             "kernels": 100 - g, "macs": 10_000 // (g + 1), "synaptic_efficiency": g + 1.0,
             "cluster_efficiency": 100 / (100 - g), "mac_reduction": g + 1.0,
             "folder": f"results/{tag if g == 0 else 'run'}/gen{g}"}
            for g, (test, val) in enumerate([ancestor, *later])]
    return rows


#: Each seed's ancestor: seed 1's is 1.3 pp weaker on validation than seed 0's.
ANCESTORS = {0: (0.905, 0.900), 1: (0.890, 0.887)}


def _pick() -> dict[int, list[dict]]:
    return {seed: _chain(a, [(a[0] - 0.002, a[1] - 0.002), (a[0] - 0.004, a[1] - 0.004)], f"pick_s{seed}")
            for seed, a in ANCESTORS.items()}


def test_a_run_judged_against_another_seeds_line_is_refused():
    pick = _pick()
    swapped = {0: copy.deepcopy(pick[1]), 1: copy.deepcopy(pick[0])}  # each seed's chain on the other's ancestor
    with pytest.raises(ArtifactError, match=r"base seed 0: its generation 0 \(results/pick_s1/gen0\) is not the"
                                            r" seed's ancestor \(results/pick_s0/gen0\)"):
        picks_tables({"pick": pick, "base": swapped}, "pick", {}, 0.01, 0.95, DECISION)
    with pytest.raises(ArtifactError, match=r"abl seed 1: its generation 0"):
        picks_tables({"pick": pick}, "pick", {"abl": {0: pick[0], 1: pick[0]}}, 0.01, 0.95, DECISION)
    # without the folder the ancestor's numbers identify it
    bare = {s: [{k: v for k, v in r.items() if k != "folder"} for r in rows] for s, rows in pick.items()}
    with pytest.raises(ArtifactError, match="seed 0"):
        picks_tables({"pick": bare, "base": {0: bare[1], 1: bare[1]}}, "pick", {}, 0.01, 0.95, DECISION)
    same = picks_tables({"pick": pick, "base": copy.deepcopy(pick)}, "pick", {}, 0.01, 0.95, DECISION)
    assert same["statements"]["base"]["outcome"] == "equal"


def test_within_tolerance_is_measured_against_the_seeds_line_not_a_weaker_own_ancestor():
    """A chain 1.5 pp below seed 0's line is not within 1 pp of it, however close to a weaker ancestor of its own."""
    line = _pick()[0][0]
    weak_own = _chain((0.893, 0.889), [(0.891, 0.887), (0.888, 0.885)], "own")  # within 1 pp of its own 88.9 %
    weak_own[1:] = [{**r, "folder": f"results/x/gen{r['generation']}"} for r in weak_own[1:]]
    on_line = [line, *weak_own[1:]]  # the same offspring judged against the seed's line (90.0 % validation)
    chosen = selected(on_line, line, 0.01, DECISION, "abl seed 0")
    assert chosen["generation"] == 0 and chosen["ancestor_accuracy"] == line["accuracy"]
    with pytest.raises(ArtifactError, match="abl seed 0"):  # on its own ancestor it would keep generation 2
        selected(weak_own, line, 0.01, DECISION, "abl seed 0")
