"""Trade-off curves: baselines on their own course, the from-scratch control, the curves report."""

from __future__ import annotations

import copy
import json
import sys
from pathlib import Path

import pytest
import torch
from conftest import BIN, TINY_PARAMS, make_project, record, run
from test_workflow import dvc_dag, snakemake_dag

from evosynth.artifacts import load_checkpoint, save_checkpoint
from evosynth.errors import ParamsError
from evosynth.nets.architectures import LeNet5
from evosynth.nets.masks import full_masks, prunable_layers, total_synapses
from evosynth.pipeline.params import validate_params
from evosynth.pipeline.plan import build_plan
from evosynth.pipeline.steps.common import network_payload
from evosynth.pipeline.steps.common import load_network
from evosynth.pipeline.steps.prune import run_prune
from evosynth.pipeline.steps.scratch import run_scratch

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
    params["curves"] = {"evolved": "pk", "baselines": ["pk_magnitude", "pk_random", "pk_l1_filter"],
                        "scratch": {"chains": ["pk", "pk_magnitude"], "generations": [2]}}
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


# --- the from-scratch control -------------------------------------------------------------------------


def test_scratch_controls_are_named_steps_per_chain_and_generation_reading_the_network_and_its_ancestor():
    params = validate_params(_curves())
    scratch = {s.name: s for s in build_plan(params) if s.step == "scratch"}
    assert sorted(scratch) == ["scratch-pk_magnitude_s0-gen2", "scratch-pk_magnitude_s1-gen2",
                               "scratch-pk_s0-gen2", "scratch-pk_s1-gen2"]
    step = scratch["scratch-pk_magnitude_s1-gen2"]
    assert not step.default and step.folder == "results/scratch/pk_magnitude_s1/gen2"
    assert set(step.deps) - {"results/.code/scratch.json"} == {
        "results/pk_magnitude_s1/gen2/model.pt", "results/pk_s1/gen0/model.pt", "data/prepared/digits.npz"}
    assert "--experiment pk_magnitude_s1 --generation 2" in step.cmd
    assert "experiments.pk.train" in step.params and "experiments.pk.seed" not in step.params


@pytest.mark.parametrize("change, message", [
    (lambda p: p["curves"].update(evolved="nope"), r"curves\.evolved: 'nope' is not a run with one network"),
    (lambda p: p["curves"]["scratch"].update(chains=["pk_other"]), r"curves\.scratch\.chains\.0: 'pk_other'"),
    (lambda p: p["curves"]["scratch"].update(generations=[4]),
     r"curves\.scratch\.generations: 'pk_s0' has no generation 4; allowed: 1\.\.2"),
    (lambda p: p["baselines"]["pk_random"].update(seeds=[1]), r"curves\.baselines\.1: 'pk_random' runs seeds \[1\]"),
])
def test_bad_curves_params_are_refused_in_one_line_with_the_key(change, message):
    params = _curves()
    params["baselines"]["pk_other"] = {"follow": "pk", "method": "magnitude"}
    change(params)
    with pytest.raises(ParamsError, match=message):
        validate_params(params)


def _trained_chain_network(tmp_path: Path, params: dict) -> tuple[Path, Path, Path]:
    """An ancestor on the tiny data and its generation-2 network: magnitude-pruned to a sparse mask."""
    from evosynth.baselines import magnitude_prune
    from evosynth.pipeline.steps.prepare import run_prepare

    data = tmp_path / "digits.npz"
    run_prepare(params, "digits", tmp_path)
    ancestor = _ancestor(tmp_path / "pk_s1")
    model, masks, like = load_network(ancestor)
    kept = magnitude_prune(model, masks, keep=9_000)
    network = tmp_path / "pk_magnitude_s1/gen2/model.pt"
    network.parent.mkdir(parents=True)
    save_checkpoint(network, "model", network_payload(model, kept, like, generation=2))
    record(network)
    return network, ancestor, data


def test_the_control_keeps_the_architecture_and_mask_and_trains_fresh_weights_for_the_total_epochs(tmp_path):
    params = validate_params(_curves())
    network, ancestor, data = _trained_chain_network(tmp_path, params)
    metrics = run_scratch(params, "pk_magnitude_s1", 2, network, ancestor, data, tmp_path / "out")
    _, masks, _ = load_network(network)
    trained, again_masks, _ = load_network(tmp_path / "out/model.pt")
    assert all(torch.equal(masks[k], again_masks[k]) for k in masks)  # the mask, exactly
    assert metrics["synapses"] == total_synapses(masks) and metrics["epochs"] == 1 + 2 * 1  # ancestor + 2 x 1
    assert {"accuracy", "architecture", "macs", "synaptic_efficiency"} <= set(metrics)
    log = json.loads((tmp_path / "out/train_log.json").read_text())["epochs"]
    assert len(log) == 3
    original = dict(prunable_layers(load_network(network)[0]))
    for name, layer in prunable_layers(trained):
        kept = masks[name]
        # fresh weights: 21 steps of training leave inherited ones nearly where they were, fresh ones unrelated
        w, before = layer.weight.detach()[kept], original[name].weight.detach()[kept]
        assert float(torch.nn.functional.cosine_similarity(w, before, dim=0)) < 0.5, name
        assert float(layer.weight.detach()[~kept].abs().sum()) == 0.0  # dead synapses stay dead
    again = run_scratch(params, "pk_magnitude_s1", 2, network, ancestor, data, tmp_path / "again")
    assert again == metrics  # seeded: the same bytes on a rerun
    assert (tmp_path / "out/model.pt").read_bytes() == (tmp_path / "again/model.pt").read_bytes()
    run_scratch(params, "pk_magnitude_s0", 2, network, ancestor, data, tmp_path / "other")  # another seed
    assert (tmp_path / "other/model.pt").read_bytes() != (tmp_path / "out/model.pt").read_bytes()


def test_a_controls_dag_is_identical_in_dvc_and_snakemake_and_stays_out_of_the_default(tmp_path):
    project = make_project(tmp_path / "p", _curves(), git=False)
    assert not (project / "pipelines/curves").exists()
    run([sys.executable, "workflow/scripts/render_dvc.py", "--with", "curves"], cwd=project)
    check = run([sys.executable, "workflow/scripts/render_dvc.py", "--check"], cwd=project, check=False)
    assert check.returncode == 0, check.stderr
    run(["git", "init", "-q"], cwd=project)
    run([str(BIN / "dvc"), "init", "-q"], cwd=project)
    dvc = dvc_dag(project, "scratch-pk_magnitude_s1-gen2")
    assert dvc == snakemake_dag(project, "results/scratch/pk_magnitude_s1/gen2/metrics.json")
    # prepare, pk_s1's ancestor (train, evaluate), the baseline's two prune/retrain steps, the control
    assert sorted(j[0] for j in dvc if j[0] != "code") == ["prepare", "prune", "prune", "retrain", "retrain",
                                                           "scratch", "stress_train"]
    assert not any(j[0] == "scratch" for j in snakemake_dag(project, "all"))
