"""Trade-off curves: baselines on their own course, the from-scratch control, the curves report."""

from __future__ import annotations

import copy
import json
import sys
from pathlib import Path

import pytest
import torch
from conftest import BIN, ROOT, TINY_PARAMS, benchmark_module, make_project, record, run
from test_workflow import dvc_dag, snakemake_dag

from evosynth.artifacts import load_checkpoint, save_checkpoint
from evosynth.errors import ArtifactError, ParamsError
from evosynth.nets.architectures import LeNet5
from evosynth.nets.masks import full_masks, prunable_layers, total_synapses
from evosynth.pipeline.curves import curve_chains, latency_folder, scratch_runs
from evosynth.pipeline.curves_steps import timed_networks
from evosynth.pipeline.layout import chain_metrics
from evosynth.pipeline.params import validate_params
from evosynth.pipeline.pickset import chain_seed, seeded_chains
from evosynth.pipeline.plan import build_plan
from evosynth.pipeline.steps.common import network_payload
from evosynth.pipeline.steps.common import load_network
from evosynth.pipeline.steps.curves import run_curves
from evosynth.pipeline.steps.prune import run_prune
from evosynth.pipeline.steps.scratch import run_scratch
from evosynth.reporting.curves import at_point, operating_points, scratch_rows

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


def _searched(**train) -> dict:
    """The curves params with two candidates of pk sharing its ancestor: pk_e2 (2 epochs) and pk_slow (F = 0.8)."""
    params = _curves()
    base = params["experiments"]["pk"]
    params["experiments"]["pk_e2"] = {**copy.deepcopy(base), "ancestor": "pk",
                                      "train": {**base["train"], "epochs": 2, **train}}
    params["experiments"]["pk_slow"] = {**copy.deepcopy(base), "ancestor": "pk",
                                        "environment": {"factor": 0.8, "mode": "budget"}}
    params["curves"]["search"] = {"candidates": ["pk_e2", "pk_slow"]}
    return params


def _rendered(tmp_path: Path, target: str, params: dict | None = None) -> Path:
    """A project around ``params`` (the curves params) with ``target`` rendered for DVC, DVC initialised."""
    project = make_project(tmp_path / "p", params or _curves(), git=False)
    run([sys.executable, "workflow/scripts/render_dvc.py", "--with", target], cwd=project)
    run(["git", "init", "-q"], cwd=project)
    run([str(BIN / "dvc"), "init", "-q"], cwd=project)
    return project


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
    assert "experiments.pk.train" in retrain.params and all(p.startswith("experiments.pk.") for p in retrain.params if p != "numerics")
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
    project = _rendered(tmp_path, "pk_random")
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
    (lambda p: p["curves"]["search"].update(candidates=["pk"]),
     r"curves\.search\.candidates\.0: 'pk' is named twice among the runs of the curves"),
    (lambda p: p["curves"]["search"].update(candidates=["pk_magnitude"]),
     r"curves\.search\.candidates\.0: 'pk_magnitude' is not an experiment; allowed: an evolved configuration"),
    (lambda p: p["experiments"]["pk_slow"].pop("ancestor"),
     r"curves\.search\.candidates\.1: 'pk_slow' seed 0 starts from the ancestor of 'pk_slow_s0', not from 'pk_s0';"
     r" allowed: ancestor: pk \(one line per seed"),
    (lambda p: p["experiments"]["pk_slow"].update(seeds=[1]),
     r"curves\.search\.candidates: the configurations tried share seeds \[1\]; allowed: at least two seeds"),
    (lambda p: (p["experiments"]["pk_slow"].pop("ancestor"), p["experiments"]["pk_slow"].update(seeds=[0, 1, 2])),
     r"curves\.search\.candidates\.1: 'pk_slow' runs seeds \[0, 1, 2\], 'pk' runs \[0, 1\]; allowed: a subset"),
    (lambda p: p["curves"]["search"].update(axis="generation"), r"curves\.search\.axis"),
    (lambda p: p["curves"].update(operating_points={"mac_reduction": []}),
     r"curves\.search\.axis: mac_reduction has no operating points to span"),
])
def test_bad_curves_params_are_refused_in_one_line_with_the_key(change, message):
    params = _searched()
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


# --- the curves report -------------------------------------------------------------------------------


def _chain(efficiencies, accuracies, vals=None, macs=None):
    """A trajectory by generation: synaptic efficiency, MAC reduction (default: half of it, at least 1) and both
    accuracies (validation default: test + 0.01)."""
    vals = vals or [a + 0.01 for a in accuracies]
    macs = macs or [max(1.0, e / 2) for e in efficiencies]
    return {g: {"generation": g, "synaptic_efficiency": e, "mac_reduction": m, "accuracy": a, "val_accuracy": v}
            for g, (e, m, a, v) in enumerate(zip(efficiencies, macs, accuracies, vals, strict=True))}


def test_a_seed_is_read_on_log10_of_the_axis_and_counts_only_where_it_reaches():
    series = _chain([1, 2, 4, 8], [0.9, 0.8, 0.7, 0.6])
    assert at_point(series, "accuracy", "synaptic_efficiency", 2 ** 1.5) == pytest.approx(75.0)  # log, not linear
    assert at_point(series, "accuracy", "synaptic_efficiency", 8) == pytest.approx(60.0)
    assert at_point(series, "accuracy", "synaptic_efficiency", 9) is None
    assert at_point(series, "accuracy", "mac_reduction", 4) == pytest.approx(60.0)  # MACs: 1, 1, 2, 4


def test_best_other_is_chosen_on_validation_and_the_difference_is_paired_on_test_over_seeds_that_reach():
    evolved = {s: _chain([1, 2, 4, 8, 16], [0.90, 0.89, 0.88 + 0.01 * s, 0.86, 0.80]) for s in range(3)}
    # a: the best on validation, worse on test; b: better on test, worse on validation; seed 2 of b stops at 4x
    a = {s: _chain([1, 2, 4, 8, 16], [0.90, 0.87, 0.85, 0.80, 0.70], vals=[0.9, 0.9, 0.9, 0.9, 0.9]) for s in range(3)}
    b = {s: _chain([1, 2, 4, 8, 16][: 5 if s < 2 else 3], [0.90, 0.89, 0.89, 0.88, 0.85][: 5 if s < 2 else 3],
                   vals=[0.5] * (5 if s < 2 else 3)) for s in range(3)}
    rows = operating_points({"ev": evolved, "a": a, "b": b}, "ev", {"synaptic_efficiency": [4, 8]}, 0.95)
    at4, at8 = rows
    assert at4["best_other"] == "a" and at8["best_other"] == "a"
    assert at4["methods"]["ev"]["mean"] == pytest.approx(89.0) and at4["methods"]["a"]["mean"] == pytest.approx(85.0)
    assert at4["difference"]["n"] == 3 and at4["difference"]["mean"] == pytest.approx(4.0)
    assert at4["difference"]["low"] < 4.0 < at4["difference"]["high"]  # seeds differ: an interval, not a point
    assert (at8["methods"]["b"]["reached"], at8["methods"]["b"]["seeds"]) == (2, 3)
    assert at8["difference"]["mean"] == pytest.approx(6.0)
    # on test alone b would be best: choosing on it is what the validation key prevents
    by_test = operating_points({"ev": evolved, "a": a, "b": b}, "ev", {"synaptic_efficiency": [4]}, 0.95,
                               decide="accuracy")
    assert by_test[0]["best_other"] == "b"


def test_each_control_is_paired_with_its_network_by_seed():
    methods = {"ev": {s: _chain([1, 2, 4], [0.9, 0.88, 0.86 + 0.01 * s]) for s in range(3)}}
    controls = {"ev": {2: {s: {"accuracy": 0.84 + 0.02 * s} for s in range(3)}}}
    (row,) = scratch_rows(methods, controls, 0.95)
    assert row["generation"] == 2 and row["synaptic_efficiency"] == 4 and row["mac_reduction"] == 2
    assert row["difference"]["mean"] == pytest.approx(1.0) and row["difference"]["n"] == 3
    assert row["scratch"]["mean"] == pytest.approx(86.0)


def _write_chains(root: Path, params: dict) -> None:
    """Metrics files of every chain of the curves and of every control (seed-specific values)."""
    efficiencies = {"pk": lambda seed: [1, 3, 9 + 2 * seed], "pk_magnitude": lambda seed: [1, 1.6, 2.8, 4.6],
                    "pk_random": lambda seed: [1, 1.6, 2.8, 4.6], "pk_l1_filter": lambda seed: [1, 1.7, 2.9, 5.0]}
    for name, of_seed in efficiencies.items():
        for seed, chain in seeded_chains(params, name).items():
            effs = of_seed(seed)
            accs = [0.9 - 0.02 * g - 0.005 * seed - (0.01 if name == "pk_random" else 0) for g in range(len(effs))]
            series = _chain(effs, accs)
            for g, path in enumerate(chain_metrics(chain, params)):
                (root / path).parent.mkdir(parents=True, exist_ok=True)
                (root / path).write_text(json.dumps(series[g]))
                record(root / path)
    for chain, g, folder in scratch_runs(params):
        (root / folder).mkdir(parents=True, exist_ok=True)
        (root / folder / "metrics.json").write_text(json.dumps({"accuracy": 0.8, "val_accuracy": 0.81}))
        record(root / folder / "metrics.json")


def write_timings(root: Path, params: dict, speed=lambda folder, seed: 1.5 + 0.1 * seed) -> None:
    """A latency.json per chain holding every timed folder (speed-up ``speed(folder, seed)``; gen0: 1)."""
    for chain in curve_chains(params):
        folders, seed = timed_networks(params, chain), chain_seed(params, chain)
        networks = {f: {"median_ms": 0.1 / (1.0 if f == folders[0] else speed(f, seed)),
                        "speedup": {"median": 1.0 if f == folders[0] else speed(f, seed)}} for f in folders}
        control = {"copy_of": folders[0], "speedup": {"median": 1.001, "p10": 0.97, "p90": 1.03}, "within_spread": True}
        path = root / latency_folder(chain) / "latency.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"chain": chain, "seed": seed, "networks": networks, "control": control}))
        record(path)



def test_the_curves_step_writes_the_table_the_figures_and_the_controls(tmp_path):
    params = validate_params(_curves())
    _write_chains(tmp_path, params)
    write_timings(tmp_path, params)
    out = tmp_path / "reports/curves"
    rows = run_curves(params, out, root=tmp_path)["rows"]
    text = (out / "curves.md").read_text()
    assert "## At fixed synaptic efficiency" in text and "## At fixed mac reduction" in text
    assert "| 30 | – (0/2) |" in text  # nothing reaches 30x: said, not hidden
    assert "| 10 | 85.65 (1/2) | – (0/2) |" in text  # seed 1 alone reaches 10x (log-interpolated): no interval
    assert "## Against the architecture trained from scratch" in text and "| pk_magnitude | 2 |" in text
    assert "One evolved configuration, pk: no search" in text and "## Measured batch-1 latency" in text
    at4 = next(r for r in rows if r["axis"] == "mac_reduction" and r["point"] == 2)
    assert at4["best_other"] == "pk_l1_filter" and at4["difference"]["n"] == 2
    assert (out / "curves.csv").read_text().startswith("kind,axis,point,method,generation,n,seeds,mean,low,high")
    from evosynth.figures import read_axes

    for name, axis in (("curves_synapses.png", "synaptic efficiency"), ("curves_macs.png", "MAC reduction"),
                       ("curves_latency.png", "measured batch-1 speed-up")):
        (panel,) = read_axes(out / name)
        assert axis in panel["xlabel"] and "log scale" in panel["xlabel"] and panel["ylabel"] == "test accuracy (%)"


def test_the_curves_step_prints_each_point_with_its_seeds_and_says_where_none_reaches(tmp_path, monkeypatch,
                                                                                     capsys):
    from argparse import Namespace

    from evosynth.pipeline.steps.curves import main

    params = validate_params(_curves())
    _write_chains(tmp_path, params)
    write_timings(tmp_path, params)
    monkeypatch.chdir(tmp_path)
    main(params, Namespace(out_dir=Path("reports/curves")))
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "search: 1 configurations tried, chosen on validation: pk"
    assert "synaptic_efficiency 30×: no seed on which pk and another method both reach it" in lines
    assert any(line.startswith("mac_reduction 2×: pk − pk_l1_filter ") and line.endswith(" pp over 2 seed(s)")
               for line in lines)
    assert not any("nan" in line for line in lines)


def test_metrics_without_the_decisions_validation_accuracy_are_refused_in_one_line(tmp_path):
    params = validate_params(_curves())
    _write_chains(tmp_path, params)
    write_timings(tmp_path, params)
    path = tmp_path / "results/pk_random_s1/gen2/metrics.json"
    path.write_text(json.dumps({k: v for k, v in json.loads(path.read_text()).items() if k != "val_accuracy"}))
    record(path)
    with pytest.raises(ArtifactError, match=r"^pk_random_s1: generation 2 has no val_accuracy; allowed: "):
        run_curves(params, tmp_path / "out", root=tmp_path)


def test_curves_target_dag_is_identical_in_dvc_and_snakemake_and_stays_out_of_the_default(tmp_path):
    project = _rendered(tmp_path, "curves")
    dvc = dvc_dag(project, "curves")
    assert dvc == snakemake_dag(project, "curves")
    # prepare; pk: 2 seeds x (ancestor + evaluate + 2 generations x 4 steps); 3 baselines x 2 seeds x 3 steps x
    # (prune, retrain, evaluate); 4 controls; one timing per chain (4 runs x 2 seeds); the report
    assert len([j for j in dvc if j[0] != "code"]) == 1 + 2 * (2 + 2 * 4) + 3 * 2 * 3 * 3 + 4 + 4 * 2 + 1
    assert not any(j[0] in ("curves", "scratch", "latency") for j in snakemake_dag(project, "all"))


# --- its cost ---------------------------------------------------------------------------------------


@pytest.fixture
def cost_module():
    yield from benchmark_module("curves_cost")


def test_curves_cost_arithmetic_by_hand(cost_module):
    params = validate_params(_curves())
    # epoch 10 s, evaluate 1 s, 0.5 s per stage, encode + synthesize (or prune) 2 s:
    # pk: 2 seeds x (ancestor 10 + 1 + 2 x 0.5, then 2 generations x (10 + 1 + 2 + 4 x 0.5)); the baselines on
    # their own 3 steps: 3 x 2 seeds x 3 x (10 + 1 + 2 + 3 x 0.5); 4 controls of 1 + 2 x 1 epochs: 4 x (30 + 1 + 0.5);
    # 8 timings, one per chain, of its 3 (pk) or 4 (a baseline: the ancestor and 3 steps) networks, its control
    # (pk's and pk_magnitude's) and the copy of the ancestor, each 0.5 s and 10 + 10 x (1 + 3) calls of 0.13 ms,
    # 10 s a stage
    cost = cost_module.curves_cost(params, 10.0, 1.0, 0.5, 2.0)
    assert (cost["chains"], cost["ancestors"], cost["generations"]) == (8, 2, 4 + 18)
    assert (cost["controls"], cost["scratch_epochs"]) == (4, 12)
    assert (cost["timed"], cost["calls"]) == (2 * (3 + 1 + 1 + 3 * (4 + 1) + 1), 50)
    assert cost["latency_s"] == pytest.approx(8 * 10 + 42 * (0.5 + 50 * 0.13e-3))
    assert cost["wall_s"] == pytest.approx(2 * (12 + 30) + 18 * 14.5 + 4 * 31.5 + cost["latency_s"] + cost_module.REPORT_S)
    # by run: pk with its ancestors, each baseline; each with its controls (2 seeds x generation 2) and timings
    parts = cost_module.groups(params, 10.0, 1.0, 0.5, 2.0)
    assert [(name, n) for name, n, _ in parts] == [("pk", 2), ("pk_magnitude", 2), ("pk_random", 2), ("pk_l1_filter", 2)]
    timing = 10 + 0.5 + 50 * 0.13e-3  # a stage and one network's share
    assert [seconds for _, _, seconds in parts] == pytest.approx([
        2 * (12 + 30) + 2 * 31.5 + 2 * (10 + 5 * (timing - 10)), 6 * 14.5 + 2 * 31.5 + 2 * (10 + 6 * (timing - 10)),
        6 * 14.5 + 2 * (10 + 5 * (timing - 10)), 6 * 14.5 + 2 * (10 + 5 * (timing - 10))])
    assert sum(seconds for _, _, seconds in parts) == pytest.approx(cost["wall_s"] - cost_module.REPORT_S)


def test_a_cost_run_without_the_prepared_data_stops_in_one_line_naming_the_stage_that_makes_it(
        cost_module, tmp_path, monkeypatch):
    monkeypatch.setattr(sys.modules["evidence_cost"], "ROOT", tmp_path)  # a checkout whose data is not prepared
    with pytest.raises(SystemExit) as stop:
        cost_module.main([])
    message = str(stop.value.code)
    assert "\n" not in message and "fashion_mnist.npz: prepared dataset missing" in message
    assert message.endswith("`dvc repro prepare-fashion_mnist` makes it")


def test_curves_cost_dry_run_prints_the_estimate_of_the_committed_params(cost_module, capsys):
    cost_module.main(["--dry"])
    out = capsys.readouterr().out
    # 5 seeds of curve_pick, the chosen candidate and 3 baselines, 2 seeds of the 8 others; controls: the chosen
    # one's and l1_filter_curve's, 4 generations x 5 seeds each
    assert "quiet-machine reference: 41 chains, 5 ancestors" in out and "40 from-scratch controls" in out
    # one timing per chain, each with its seed's ancestor and the copy of it: per seed of 5, curve_pick's 12
    # generations, the chosen one's 12 and 4 controls, 3 baselines' 14 steps and l1_filter_curve's 4 controls;
    # per seed of 2, the other candidates' generations (16 + 7 x 12):
    # 5 x ((2 + 12) + (2 + 12 + 4) + 3 x (2 + 14) + 4) + 2 x (8 x 2 + 16 + 7 x 12)
    assert "652 networks timed (50 calls each" in out


@pytest.mark.parametrize("searched", [False, True])
def test_one_chains_group_makes_every_file_the_curves_report_reads_of_that_chain(cost_module, searched):
    """The group command the cost script prints (a session runs it, commits its files, and a new machine keeps
    no cache) reaches every metrics file of its chain, its controls' and its timing: nothing left for the report."""
    params = validate_params(_searched() if searched else _curves())
    steps = {s.name: s for s in build_plan(params)}
    maker = {out: s for s in steps.values() for out in (*s.outs, *s.metrics)}
    targets = [t.split(":", 1)[1] for t in cost_module.GROUP.split()[2:]]
    for chain in curve_chains(params):
        todo, made = [steps[t.format(chain=chain)] for t in targets], set()
        while todo:
            step = todo.pop()
            made |= {*step.outs, *step.metrics}
            todo += [maker[d] for d in step.deps if d in maker and not {*maker[d].outs} <= made]
        needed = {*chain_metrics(chain, params), f"{latency_folder(chain)}/latency.json"}
        needed |= {f"{folder}/metrics.json" for c, _, folder in scratch_runs(params) if c == chain}
        assert needed <= made, (chain, sorted(needed - made))
    assert any(c == "pk_s0" for c, _, _ in scratch_runs(params))  # the case that reads controls is in


def test_the_committed_curves_run_five_seeds_of_the_picks_configuration_against_baselines_on_their_own_course():
    from evosynth.pipeline.params import load_params
    from evosynth.pipeline.seeds import FAMILIES

    params = load_params(ROOT / "params.yaml")
    curves, families = params["curves"], params[FAMILIES]
    evolved = families[curves["evolved"]]
    assert evolved["seeds"] == [0, 1, 2, 3, 4] and evolved["data"] == {"train_size": None, "test_size": None}
    assert {k: v for k, v in evolved.items() if k != "seeds"} == {k: v for k, v in families["pick"].items()
                                                                   if k != "seeds"}
    for name in curves["baselines"]:
        spec = params["baseline_families"][name]
        assert spec["follow"] == curves["evolved"] and spec["schedule"]["factor"] ** spec["schedule"]["generations"] < 0.01
    assert {params["baseline_families"][n]["method"] for n in curves["baselines"]} == {"magnitude", "l1_filter",
                                                                                       "random"}


@pytest.mark.slow
def test_snakemake_runs_the_curves_target_end_to_end(tmp_path):
    """Every chain, every control and the report on the tiny data (decide_on: accuracy, as metrics without a
    validation split have no val_accuracy)."""
    params = _curves()
    params["curves"]["decide_on"] = "accuracy"
    project = make_project(tmp_path / "p", params, git=False)
    run([str(BIN / "snakemake"), "-c1", "curves"], cwd=project, timeout=1800)
    prune = json.loads((project / "results/pk_random_s1/gen3/prune.json").read_text())
    assert prune["target_synapses"] == round(430_500 * 0.6**3)  # its own course, past pk's two generations
    control = json.loads((project / "results/scratch/pk_magnitude_s1/gen2/metrics.json").read_text())
    network = json.loads((project / "results/pk_magnitude_s1/gen2/metrics.json").read_text())
    assert control["synapses"] == network["synapses"] and control["epochs"] == 3
    text = (project / "reports/curves/curves.md").read_text()
    assert "| pk_magnitude | 2 |" in text and "test (curves.decide_on) accuracy" in text


def test_the_prune_step_refuses_a_scheduled_baseline_without_its_ancestor_in_one_line(tmp_path):
    from conftest import write_params

    write_params(tmp_path / "params.yaml", _curves())
    out = run([str(BIN / "evosynth"), "prune", "--experiment", "pk_random_s1", "--generation", "1",
               "--parent", "x.pt", "--target-metrics", "m.json", "--out-dir", "o"], cwd=tmp_path, check=False)
    assert out.returncode != 0 and out.stderr.strip().splitlines()[-1].endswith(
        "prune: 'pk_random_s1' has schedule; allowed: --ancestor")
    assert "Traceback" not in out.stderr
