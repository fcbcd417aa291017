"""The pick set: baselines per seed, the picks report's verdicts over seeds, the pickset target."""

from __future__ import annotations

import copy
import json
import math
import sys

import pytest
from conftest import BIN, ROOT, assert_params_refused, TINY_PARAMS, benchmark_module, make_project, run
from test_workflow import dvc_dag, snakemake_dag

from evosynth.pipeline.params import validate_params
from evosynth.pipeline.plan import build_plan, param_values
from evosynth.reporting.picks import (
    axis_verdict,
    best_reached,
    dominance,
    picks_tables,
    summary_interval,
    target_verdict,
)
from evosynth.reporting.picks_markdown import markdown, target_lines


def _pickset(**extra) -> dict:
    """A pick with two seeds (filter clusters), one ablation sharing its ancestors, an L1 baseline following it."""
    params = copy.deepcopy(TINY_PARAMS)
    base = copy.deepcopy(params["experiments"]["tiny"])
    base.pop("seed")
    pick = {**base, "seeds": [0, 1], "default": False, "method": "cluster", "encoding": {"clusters": "filter"},
            "environment": {"factor": 0.5, "cluster_factor": 0.8, "mode": "budget"}}
    ablation = {**copy.deepcopy(pick), "ancestor": "pk", "environment": {"factor": 0.5, "mode": "budget"}}
    params["experiments"].update(pk=pick, pk_ab=ablation)
    params["baselines"] = {"pk_l1": {"follow": "pk", "method": "l1_filter"}}
    params["runtime"] = {"experiments": [], "repeats": 6, "rounds": 2, "warmup": 1, "picks": ["pk", "pk_l1"]}
    params["picks"] = {"ablations": ["pk_ab"], "targets": {"synaptic_efficiency": 1.5}}
    params.update(extra)
    return params


# --- baselines per seed ------------------------------------------------------------------------------


def test_a_baseline_following_an_experiment_with_seeds_runs_once_per_seed_from_that_seeds_chain():
    params = validate_params(_pickset())
    assert list(params["baselines"]) == ["pk_l1_s0", "pk_l1_s1"]
    assert params["baselines"]["pk_l1_s1"] == {"follow": "pk_s1", "method": "l1_filter", "family": "pk_l1"}
    steps = {s.name: s for s in build_plan(params)}
    prune = steps["prune-pk_l1_s1-gen1"]
    # its ancestor and its synapse target are those of the pick's chain of the same seed
    assert {"results/pk_s1/gen0/model.pt", "results/pk_s1/gen1/metrics.json"} <= set(prune.deps)
    assert "results/pk_l1_s1/gen1/model.pt" in steps["prune-pk_l1_s1-gen2"].deps
    # the steps read the params as written (what DVC tracks): the baseline and the followed family, no seed
    assert prune.params == ("baselines.pk_l1", "numerics")
    assert param_values(params, prune.params) == {"baselines.pk_l1": {"follow": "pk", "method": "l1_filter"},
                                                  "numerics": "portable"}
    assert steps["retrain-pk_l1_s1-gen2"].params == ("experiments.pk.train", "experiments.pk.data", "numerics")
    assert steps["report-pk_l1_s1"].params[:2] == ("baselines.pk_l1", "experiments.pk.generations")
    assert not any(s.default for s in steps.values() if "pk" in s.name)
    # the baseline's training spec is the followed chain's: its seed
    from evosynth.pipeline.params import training_spec

    assert training_spec(params, "pk_l1_s1")["seed"] == 1
    # seeds: some of the followed experiment's seeds only
    some = _pickset()
    some["baselines"]["pk_l1"]["seeds"] = [1]
    some["runtime"]["picks"] = ["pk"]
    assert list(validate_params(some)["baselines"]) == ["pk_l1_s1"]


def test_the_picks_stage_reads_every_chain_of_the_set():
    params = validate_params(_pickset())
    picks = next(s for s in build_plan(params) if s.step == "picks")
    assert not picks.default  # its runs are outside the default target: a named target (pickset)
    for chain in ("pk_s0", "pk_s1", "pk_l1_s0", "pk_l1_s1"):  # timed: every generation's network
        assert {f"results/{chain}/gen2/model.pt", f"results/{chain}/gen2/metrics.json"} <= set(picks.deps), chain
    assert {"results/pk_ab_s1/gen2/metrics.json"} <= set(picks.deps)  # ablations: metrics only
    assert "results/pk_ab_s1/gen2/model.pt" not in picks.deps
    assert {"picks", "runtime", "experiments.pk_ab.seeds", "baselines.pk_l1"} <= set(picks.params)
    assert param_values(params, ("experiments.pk_ab.seeds",)) == {"experiments.pk_ab.seeds": [0, 1]}


def _with(change):
    params = _pickset()
    change(params)
    return params


@pytest.mark.parametrize(("change", "message"), [
    (lambda p: p["baselines"]["pk_l1"].update(seeds=[0, 5]),
     r"baselines\.pk_l1\.seeds: 'pk' runs no chain for seed\(s\) 5; allowed: seeds of 'pk' \(0, 1\)"),
    (lambda p: p["baselines"].update(t_l1={"follow": "tiny", "method": "magnitude", "seeds": [0]}),
     r"baselines\.t_l1\.seeds: 'tiny' has no seeds"),
    (lambda p: p["baselines"].update(pk_ab={"follow": "pk", "method": "magnitude"}),
     r"baselines\.pk_ab: the name is taken by an experiment with seeds"),
    (lambda p: p["baselines"].update(pk_l1_s0={"follow": "tiny", "method": "magnitude"}),
     r"baselines\.pk_l1: the chain name 'pk_l1_s0' is taken"),
    (lambda p: p["baselines"]["pk_l1"].update(seeds=[1]),
     r"runtime\.picks: 'pk_l1' runs seeds \[1\], the pick 'pk' runs \[0, 1\]; allowed: the pick's seeds"),
    (lambda p: p["runtime"]["picks"].append("tiny"), r"runtime\.picks: 'tiny' runs seeds \[0\], the pick 'pk'"),
    (lambda p: p["experiments"]["pk_ab"].update(seeds=[0]), r"picks\.ablations: 'pk_ab' runs seeds \[0\]"),
    (lambda p: p["picks"].update(pick="pk_ab"), r"picks\.pick: 'pk_ab' is not a run of runtime\.picks"),
    (lambda p: p["picks"].update(ablations=["pk_l1"]), r"picks\.ablations\.0: 'pk_l1' is not an experiment"),
    (lambda p: p["picks"].update(ablations=["pk"]), r"picks\.ablations\.0: 'pk' is not an experiment .* outside"),
    (lambda p: p["runtime"]["picks"].append("nope"), r"runtime\.picks: 'nope' is not a run with one network"),
    (lambda p: p["picks"]["targets"].update(speed=5), r"picks\.targets: unknown key 'speed'"),
])
def test_bad_pick_set_params_are_refused_in_one_line_with_the_key(change, message):
    assert_params_refused(_with(change), message)


# --- the report's verdicts on hand-made tables -----------------------------------------------------


def _chain(accuracies, synapses, filters, speed=(1.0, 2.0, 4.0)) -> list[dict]:
    """One chain: generation 0 is the ancestor (1,000 synapses, 40 filters, 100 kernels)."""
    rows = []
    for g, (a, s, f, v) in enumerate(zip(accuracies, synapses, filters, speed)):
        rows.append({"generation": g, "accuracy": a, "val_accuracy": a, "synapses": s, "filters": f, "kernels": 2.5 * f,
                     "macs": 10 * s, "synaptic_efficiency": 1000 / s, "cluster_efficiency": 100 / (2.5 * f),
                     "mac_reduction": 1000 / s, "onnxruntime_1thread_speedup": v,
                     "onnxruntime_1thread_b256_speedup": v, "throughput_vs_mac_reduction": v * s / 1000})
    return rows


PICK = {seed: _chain([0.90, 0.895, 0.892 + 0.001 * seed], [1000, 300, 100 - seed], [40, 20, 10]) for seed in range(3)}


def _tables(other: dict, ablation: dict | None = None) -> dict:
    return picks_tables({"pick": PICK, "base": other}, "pick", {"abl": ablation} if ablation else {}, 0.01, 0.95,
                        "val_accuracy")


def test_a_baseline_better_on_accuracy_synapses_and_filters_at_every_seed_dominates_the_pick():
    better = {s: _chain([0.90, 0.899, 0.897], [1000, 200, 50 - s], [40, 15, 8 - (s % 2)]) for s in range(3)}
    tables = _tables(better)
    verdicts = {r["quantity"]: r["verdict"] for r in tables["comparisons"]}
    assert verdicts["accuracy"] == verdicts["synapses"] == verdicts["filters"] == "base better"
    assert tables["statements"]["base"]["outcome"] == "baseline dominates"
    assert "base dominates the pick" in tables["statements"]["base"]["sentence"]
    # the effect is signed for the pick: log10(50/100) at seed 0
    synapses = next(r for r in tables["comparisons"] if r["quantity"] == "synapses")
    assert float(synapses["per_seed"].split()[0]) == pytest.approx(math.log10(50 / 100), abs=1e-3)


def test_a_baseline_with_more_filters_at_every_seed_does_not_dominate_the_pick():
    # L1 filter pruning's picture in reverse: as accurate and as few synapses, but twice the filters
    wide = {s: _chain([0.90, 0.899, 0.897], [1000, 200, 50 - s], [40, 30, 20 + s]) for s in range(3)}
    statement = _tables(wide)["statements"]["base"]
    assert statement["outcome"] == "not dominated"
    assert statement["sentence"] == ("base does not dominate the pick: the pick is better on filters;"
                                     " base is better on accuracy, synapses")


def test_mixed_seeds_give_an_inconclusive_answer_and_an_identical_baseline_is_equal():
    mixed = {0: _chain([0.90, 0.899, 0.899], [1000, 300, 60], [40, 20, 5]),
             1: _chain([0.90, 0.899, 0.880], [1000, 300, 200], [40, 20, 30]),
             2: _chain([0.90, 0.899, 0.894], [1000, 300, 90], [40, 20, 11])}
    tables = _tables(mixed)
    verdicts = {r["quantity"]: r["verdict"] for r in tables["comparisons"]}
    assert verdicts["filters"] == verdicts["synapses"] == "inconclusive"
    assert tables["statements"]["base"]["outcome"] == "inconclusive"
    same = _tables(copy.deepcopy(PICK))
    assert {r["verdict"] for r in same["comparisons"]} == {"equal"}
    assert same["statements"]["base"]["outcome"] == "equal"  # equal everywhere: nobody dominates


def test_dominance_rules_and_one_seed_decides_nothing():
    assert dominance({"accuracy": "equal", "synapses": "pick better", "filters": "pick better"}, "b")["outcome"] == \
        "pick dominates"
    assert dominance({"accuracy": "b better", "synapses": "equal", "filters": "equal"}, "b")["outcome"] == \
        "baseline dominates"
    assert dominance({"accuracy": "b better", "synapses": "inconclusive", "filters": "b better"}, "b")["outcome"] == \
        "inconclusive"
    assert axis_verdict({"n": 1, "mean": 2.0, "low": math.nan, "high": math.nan}, "b") == "inconclusive"
    one = picks_tables({"pick": {0: PICK[0]}, "base": {0: PICK[1]}}, "pick", {}, 0.01, 0.95, "val_accuracy")
    assert one["statements"]["base"]["outcome"] == "inconclusive"


def test_ablations_are_paired_at_the_picks_generation_and_on_the_efficiency_reached_within_tolerance():
    # without the addition: 1 pp less accurate at every generation, so its selected network is generation 1
    ablation = {s: _chain([0.90, 0.894, 0.885 - 0.001 * s], [1000, 300, 100 - s], [40, 20, 10]) for s in range(3)}
    rows = {r["quantity"]: r for r in _tables(copy.deepcopy(PICK), ablation)["ablations"]}
    accuracy = rows["accuracy at the pick's generation"]  # generation 2: 0.7, 0.9, 1.1 pp
    assert accuracy["mean"] == pytest.approx(0.9) and accuracy["verdict"] == "pick better"
    reached = rows["synaptic_efficiency within tolerance"]
    assert reached["mean"] == pytest.approx(math.log10(300 / 99), abs=0.01) and reached["verdict"] == "pick better"


def test_the_best_reached_names_an_ablation_that_shrank_further_and_the_report_shows_its_network():
    # without the addition: as accurate, a tenth of the pick's synapses at its last generation
    further = {s: _chain([0.90, 0.899, 0.896], [1000, 100, 10 + s], [40, 20, 10]) for s in range(3)}
    tables = _tables(copy.deepcopy(PICK), further)
    assert [r["generation"] for r in tables["ablation_selected"]["abl"].values()] == [2, 2, 2]
    best = best_reached(tables["summaries"])
    assert best["synaptic_efficiency"]["run"] == "abl" and best["synaptic_efficiency"]["mean"] > 80
    assert best["cluster_efficiency"]["run"] == "pick"  # a tie (same filters) keeps the first run
    text = markdown(tables, "pick", 0.01, 0.95, [], {})
    assert "| abl (ablation, not timed) | 3 | 2, 2, 2 |" in text
    assert ("- synaptic_efficiency: **abl**, 91.2× [72.7, 114.3] (per seed 100 90.91 83.33), its networks at"
            " 89.60 % on average, their ancestors at 90.00 %") in text and "reports/probe/probe.md" in text


def test_targets_and_the_summary_of_the_selected_networks():
    tables = _tables(copy.deepcopy(PICK))
    assert [r["generation"] for r in tables["selected"]["pick"].values()] == [2, 2, 2]
    drop = next(r for r in tables["summaries"] if r["run"] == "pick" and r["quantity"] == "accuracy_drop")
    assert drop["mean"] == pytest.approx(0.7) and drop["low"] < 0.7 < drop["high"]
    lines = target_lines(tables["summaries"], "pick", {"synaptic_efficiency": 9.5, "cluster_efficiency": 20})
    assert "synaptic_efficiency ≥ 9.5: mean 10.10 [9.85, 10.36]" in lines[0] and "**met**" in lines[0]
    spanned = target_lines(tables["summaries"], "pick", {"synaptic_efficiency": 10})[0]
    assert "**inconclusive** (the mean is above it, the interval spans it)" in spanned
    assert "**missed**" in lines[1]  # 100 / 25 kernels = 4×


def test_a_ratio_is_summarised_by_its_geometric_mean_and_an_interval_that_stays_above_zero():
    # magnitude_pick's synaptic efficiencies on the real run: the arithmetic interval was 19.7 [-0.6, 39.9]
    ratio = summary_interval("synaptic_efficiency", [15.0, 29.1, 14.9], 0.95)
    assert ratio["mean"] == pytest.approx((15.0 * 29.1 * 14.9) ** (1 / 3))
    assert 0 < ratio["low"] < ratio["mean"] < ratio["high"]
    assert ratio["mean"] / ratio["low"] == pytest.approx(ratio["high"] / ratio["mean"])  # symmetric on log10
    drop = summary_interval("accuracy_drop", [0.82, 0.85, 0.78], 0.95)  # not a ratio: arithmetic
    assert drop["mean"] == pytest.approx(0.8166667) and drop["high"] - drop["mean"] == pytest.approx(drop["mean"] - drop["low"])


@pytest.mark.parametrize(("mean", "low", "high", "verdict"), [
    (6.0, 5.5, 6.5, "met"), (5.0, 5.0, 5.0, "met"), (4.0, 3.0, 4.9, "missed"),
    (5.5, 4.5, 6.5, "inconclusive"), (4.5, 3.5, 5.5, "inconclusive"), (6.0, math.nan, math.nan, "inconclusive")])
def test_a_target_is_met_or_missed_only_by_the_whole_interval(mean, low, high, verdict):
    # the mean alone decides nothing: 1.64 [-0.08, 3.36] against 0.7 once read "met (the interval reaches below it)"
    assert target_verdict({"mean": mean, "low": low, "high": high}, 5.0)[0] == verdict


# --- the pickset target in both engines -----------------------------------------------------------


def test_pickset_target_dag_is_identical_in_dvc_and_snakemake_and_stays_out_of_the_default(tmp_path):
    project = make_project(tmp_path / "p", _pickset(), git=False)
    assert not (project / "pipelines/picks").exists()
    run([sys.executable, "workflow/scripts/render_dvc.py", "--with", "pickset"], cwd=project)
    check = run([sys.executable, "workflow/scripts/render_dvc.py", "--check"], cwd=project, check=False)
    assert check.returncode == 0, check.stderr  # the chains reached are rendered whole: nothing changes on re-render
    run(["git", "init", "-q"], cwd=project)
    run([str(BIN / "dvc"), "init", "-q"], cwd=project)
    dvc = dvc_dag(project, "picks")
    assert dvc == snakemake_dag(project, "pickset")
    # prepare; pk: 2 seeds × (ancestor + gen-0 evaluate + 2 generations × 4 steps); pk_ab: 2 × 2 × 4;
    # pk_l1: 2 seeds × 2 generations × (prune, retrain, evaluate); the picks stage
    assert len([j for j in dvc if j[0] != "code"]) == 1 + 2 * (2 + 2 * 4) + 2 * 2 * 4 + 2 * 2 * 3 + 1
    assert {j[0] for j in dvc} == {"code", "prepare", "stress_train", "encode", "synthesize", "retrain", "evaluate",
                                   "prune", "picks"}
    default = snakemake_dag(project, "all")
    assert not any(j[0] == "picks" or "pk_" in j[1] for j in default)
    assert "pk_s0" not in (project / "dvc.yaml").read_text()


@pytest.mark.slow
def test_snakemake_pickset_runs_every_chain_and_writes_the_report(tmp_path):
    project = make_project(tmp_path / "p", _pickset(), git=False)
    run([str(BIN / "snakemake"), "-c1", "pickset"], cwd=project, timeout=1200)
    reports = project / "reports/picks"
    text = (reports / "picks.md").read_text()
    assert "## pk against each baseline" in text and "- **pk_l1**: " in text
    assert "## pk against each ablation" in text and "| pk_ab | accuracy at the pick's generation |" in text
    assert "synaptic_efficiency ≥ 1.5" in text and "Timing harness check" in text
    timings = json.loads((reports / "runtime.json").read_text())
    # every generation of every chain of pk and pk_l1 (ancestors shared), and the control copy
    assert len(timings["networks"]) == 2 * 3 + 2 * 2 + 1 and timings["control"]["copy_of"] == "results/pk_s0/gen0"
    from evosynth.figures import read_axes

    for name in ("pareto_synapses", "pareto_filters", "pareto_latency"):
        for panel in read_axes(reports / f"{name}.png"):
            assert "log scale" in panel["xlabel"] and panel["ylabel"] == "test accuracy (%)", (name, panel)
    selected = (reports / "picks.csv").read_text().splitlines()
    assert selected[0].startswith("run,seed,generation") and len(selected) == 1 + 3 * 2  # pk, pk_l1 and pk_ab
    assert sum(line.startswith("pk_ab,") for line in selected) == 2  # the ablation's selected networks too
    assert "| pk_ab (ablation, not timed) | 2 |" in text and "## Best reached within" in text


def test_the_committed_pick_set_runs_three_seeds_with_its_ablations_and_baselines():
    from evosynth.pipeline.params import load_params
    from evosynth.pipeline.seeds import BASELINE_FAMILIES, FAMILIES, members

    params = load_params(ROOT / "params.yaml")
    section, families = params["picks"], params[FAMILIES]
    assert section["pick"] == "pick" and families["pick"]["seeds"] == [0, 1, 2]
    for name in section["ablations"]:
        assert families[name]["seeds"] == [0, 1, 2], name
        assert families[name].get("ancestor") in (None, "pick"), name
    for name in ("magnitude_pick", "l1_filter_pick", "group_norm_pick"):
        assert name in params["runtime"]["picks"] and name in params[BASELINE_FAMILIES]
        assert members(params, name) == [f"{name}_s{s}" for s in (0, 1, 2)]
    assert params["experiments"]["pick_no_distill_s2"]["ancestor"] == "pick_s2"


# --- its cost ---------------------------------------------------------------------------------------


@pytest.fixture
def cost_module():
    yield from benchmark_module("pickset_cost")


def test_pickset_cost_plan_arithmetic_by_hand(cost_module):
    params = validate_params(_pickset())
    # epoch 10 s, evaluate 1 s, 0.5 s per stage, encode + synthesize (or prune) 2 s:
    # pk: 2 seeds × (ancestor 10 + 1 + 2 × 0.5, then 2 generations × (10 + 1 + 2 + 4 × 0.5));
    # pk_ab: 2 × 2 × 15; pk_l1: 2 × 2 × (10 + 1 + 2 + 3 × 0.5)
    cost = cost_module.pickset_cost(params, 10.0, 1.0, 0.5, 2.0, 0.1, 20.0)
    assert (cost["chains"], cost["ancestors"], cost["generations"], cost["epochs"]) == (6, 2, 12, 14)
    # timed: pk's 2 × 3 generations, pk_l1's 2 × 2 (the ancestors are pk's), the control; 1 + 2 × 3 calls each
    assert cost["networks"] == 11
    assert cost["picks_s"] == pytest.approx(11 * 7 * 20.1 / 1e3 + cost_module.REPORT_S)
    assert cost["wall_s"] == pytest.approx(2 * (12 + 2 * 15) + 2 * 2 * 15 + 2 * 2 * 14.5 + cost["picks_s"])
    # distillation runs the parent forward on every batch of every offspring epoch (a third more)
    params["families"]["pk"]["train"]["distill"]["alpha"] = 0.5
    for chain in ("pk_s0", "pk_s1", "pk_ab_s0", "pk_ab_s1"):
        params["experiments"][chain]["train"]["distill"]["alpha"] = 0.5
    distilled = cost_module.pickset_cost(params, 10.0, 1.0, 0.5, 2.0, 0.1, 20.0)
    assert distilled["wall_s"] - cost["wall_s"] == pytest.approx(12 * 10 / 3)


def test_pickset_cost_dry_run_prints_the_estimate_of_the_committed_params(cost_module, capsys):
    cost_module.main(["--dry"])
    out = capsys.readouterr().out
    assert "quiet-machine reference: 27 chains, 3 ancestors" in out and "h** (`dvc repro`" in out
