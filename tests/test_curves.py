"""Trade-off curves: baselines on their own course, the from-scratch control, the curves report."""

from __future__ import annotations

import copy
import sys
from pathlib import Path

import pytest
import torch
from conftest import BIN, TINY_PARAMS, make_project, record, run
from test_workflow import dvc_dag, snakemake_dag

from evosynth.artifacts import load_checkpoint, save_checkpoint
from evosynth.errors import ParamsError
from evosynth.nets.architectures import LeNet5
from evosynth.nets.masks import full_masks, total_synapses
from evosynth.pipeline.params import validate_params
from evosynth.pipeline.plan import build_plan
from evosynth.pipeline.steps.common import network_payload
from evosynth.pipeline.steps.prune import run_prune

SCHEDULE = {"factor": 0.6, "generations": 3}


def _curves(**extra) -> dict:
    """A family with two seeds (2 generations) and three baselines on their own course of 3 steps at F = 0.6."""
    params = copy.deepcopy(TINY_PARAMS)
    base = params["experiments"].pop("tiny")
    params["experiments"]["pk"] = {**base, "seeds": [0, 1], "default": False}
    params["baselines"] = {
        f"pk_{method}": {"follow": "pk", "method": method, "schedule": dict(SCHEDULE)}
        for method in ("magnitude", "random", "l1_filter")
    }
    params.update(extra)
    return params


# --- baselines on their own course --------------------------------------------------------------------


def test_a_baseline_on_its_own_schedule_runs_its_own_generations_from_the_ancestor_alone():
    params = validate_params(_curves())
    steps = {s.name: s for s in build_plan(params)}
    assert "prune-pk_random_s1-gen3" in steps and "prune-pk_random_s1-gen4" not in steps  # 3 steps, not pk's 2
    prune = steps["prune-pk_random_s1-gen3"]
    # its count reads the ancestor alone: never the followed chain's metrics at any generation
    assert set(prune.deps) - {"results/.code/prune.json"} == {"results/pk_random_s1/gen2/model.pt",
                                                               "results/pk_s1/gen0/model.pt"}
    assert "--ancestor results/pk_s1/gen0/model.pt" in prune.cmd and "--target-metrics" not in prune.cmd
    assert not any("results/pk_s1/gen1" in d or "results/pk_s1/gen2" in d
                   for s in steps.values() if "pk_random" in s.name and s.step != "report" for d in s.deps)
    retrain = steps["retrain-pk_random_s1-gen3"]  # the followed chain's training, seed and data
    assert "experiments.pk.train" in retrain.params and all(p.startswith("experiments.pk.") for p in retrain.params)
    report = steps["report-pk_random_s1"]
    assert len([d for d in report.deps if d.endswith("metrics.json")]) == 4
    assert "baselines.pk_random" in report.params and "experiments.pk.generations" not in report.params
    # without a schedule the baseline follows the chain's counts, as before
    follow = _curves()
    del follow["baselines"]["pk_random"]["schedule"]
    plain = {s.name: s for s in build_plan(validate_params(follow))}
    assert "prune-pk_random_s1-gen3" not in plain
    assert "results/pk_s1/gen2/metrics.json" in plain["prune-pk_random_s1-gen2"].deps


@pytest.mark.parametrize("change, message", [
    (lambda p: p["baselines"]["pk_random"]["schedule"].update(factor=1.0),
     r"baselines\.pk_random\.schedule\.factor"),
    (lambda p: p["baselines"]["pk_random"]["schedule"].pop("generations"),
     r"baselines\.pk_random\.schedule"),
    (lambda p: p["baselines"]["pk_random"].update(method="uniform"), r"baselines\.pk_random\.method"),
])
def test_bad_schedules_are_refused_in_one_line_with_the_key(change, message):
    params = _curves()
    change(params)
    with pytest.raises(ParamsError, match=message):
        validate_params(params)


def _ancestor(folder: Path) -> Path:
    torch.manual_seed(3)
    model = LeNet5()
    like = {"architecture": "lenet5", "input_shape": [1, 28, 28], "num_classes": 10, "experiment": "pk_s1"}
    path = folder / "gen0/model.pt"
    path.parent.mkdir(parents=True)
    save_checkpoint(path, "model", network_payload(model, full_masks(model), like, generation=0))
    record(path)
    return path


def _as_model(offspring: Path) -> Path:
    """The retrain step's place in the chain: the offspring becomes the next parent (weights unchanged here)."""
    model = offspring.with_name("model.pt")
    payload = {k: v for k, v in load_checkpoint(offspring, "offspring").items() if k != "kind"}
    save_checkpoint(model, "model", payload)
    record(model)
    return model


@pytest.mark.parametrize("method", ["magnitude", "random", "l1_filter"])
def test_the_counts_follow_f_to_the_g_of_the_ancestors(tmp_path, method):
    params = validate_params(_curves())
    baseline = f"pk_{method}_s1"
    ancestor = _ancestor(tmp_path / "pk_s1")
    full = total_synapses(full_masks(LeNet5()))
    parent, counts = ancestor, []
    for gen in (1, 2, 3):
        out = tmp_path / baseline / f"gen{gen}"
        summary = run_prune(params, baseline, gen, parent, ancestor, out)
        assert summary["target_synapses"] == round(full * 0.6**gen)
        counts.append(summary["synapses"])
        parent = _as_model(out / "offspring.pt")
    # synapses: the target less those compaction finds cut off (random pruning strands the most: an fc1 neuron
    # whose ten output synapses all died); whole filters: the nearest count a uniform keep fraction reaches
    for gen, got in enumerate(counts, 1):
        target = full * 0.6**gen
        assert (0.9 * target <= got <= target) if method != "l1_filter" else abs(got - target) < 0.05 * target


def test_random_baseline_draws_from_the_chains_seed_the_same_on_every_rerun(tmp_path):
    params = validate_params(_curves())
    ancestor = _ancestor(tmp_path / "pk_s1")
    masks = []
    for index, baseline in enumerate(("pk_random_s1", "pk_random_s0", "pk_random_s1")):
        out = tmp_path / f"run{index}"
        run_prune(params, baseline, 1, ancestor, ancestor, out)
        masks.append(load_checkpoint(out / "offspring.pt", "offspring")["masks"])
    first, other_seed, again = masks
    assert all(torch.equal(first[k], again[k]) for k in first)
    assert not all(torch.equal(first[k], other_seed[k]) for k in first)


def test_a_scheduled_baselines_dag_is_identical_in_dvc_and_snakemake(tmp_path):
    project = make_project(tmp_path / "p", _curves(), git=False)
    run([sys.executable, "workflow/scripts/render_dvc.py", "--with", "pk_random"], cwd=project)
    run(["git", "init", "-q"], cwd=project)
    run([str(BIN / "dvc"), "init", "-q"], cwd=project)
    dvc = dvc_dag(project, "report-pk_random_s1")
    assert dvc == snakemake_dag(project, "reports/pk_random_s1/generations.md")
    prunes = sorted(j[1] for j in dvc if j[0] == "prune")
    assert len(prunes) == 3 and all("--ancestor results/pk_s1/gen0/model.pt" in c for c in prunes)
    # the followed chain's ancestor only: none of its offspring is run for the baseline
    assert not any(j[0] in ("synthesize", "encode") for j in dvc)
