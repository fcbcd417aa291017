"""The capacity probe: narrower LeNet5s, the verdict per architecture, both engines, bad params."""

from __future__ import annotations

import copy
import csv
import json
import math
import subprocess
import sys

import pytest
import torch
import yaml
from conftest import BIN, ROOT, assert_params_refused, TINY_PARAMS, engine_env, make_project, root_stages_text, run, write_params
from test_additions_default import _run
from test_workflow import dvc_dag, snakemake_dag

from evosynth.errors import ParamsError
from evosynth.nets.architectures import build_model
from evosynth.pipeline.params import validate_params
from evosynth.pipeline.plan import build_plan
from evosynth.reporting.trajectories import t_interval
from evosynth.reporting.probe import _statement, answer, line_verdict, summarise

SHAPE = (1, 28, 28)
TARGETS = {"synaptic_efficiency": 100, "cluster_efficiency": 27}


def _probe_params(reference: str = "tiny", distill: float = 0.0, default: bool = True) -> dict:
    """The tiny experiment as reference (1 constant-lr epoch) and a probe with its training, two widths, two seeds."""
    params = copy.deepcopy(TINY_PARAMS)
    if reference != "tiny":
        params["experiments"][reference] = {**copy.deepcopy(params["experiments"]["tiny"]), "default": default}
    params["probe"] = {"reference": reference, "widths": [[20, 50, 500], [4, 8, 16]], "seeds": [0, 1],
                       "train": {"epochs": 1, "batch_size": 64, "lr": 0.01, "momentum": 0.9, "weight_decay": 0.0005,
                                 "distill": {"alpha": distill, "temperature": 4.0}}}
    return params


# --- LeNet5 at other widths --------------------------------------------------------------------------------


def test_lenet5_widths_default_to_caffes_and_narrow_the_same_topology():
    from evosynth.pipeline.steps.probe_train import network_counts

    torch.manual_seed(3)
    default = build_model("lenet5", SHAPE, 10)
    torch.manual_seed(3)
    caffe = build_model("lenet5", SHAPE, 10, widths=(20, 50, 500))
    assert all(torch.equal(a, b) for a, b in zip(default.state_dict().values(), caffe.state_dict().values()))
    assert network_counts(default, SHAPE) == {"synapses": 430_500, "kernels": 1_020, "filters": 70,
                                              "architecture": "20-50-800-500", "macs": 2_293_000, "parameters": 431_080}
    narrow = network_counts(build_model("lenet5", SHAPE, 10, widths=(4, 8, 16)), SHAPE)
    # conv1 4·25, conv2 8·4·25, fc1 (8·4·4)·16, fc2 16·10; kernels 4 + 8·4
    assert (narrow["synapses"], narrow["kernels"], narrow["architecture"]) == (100 + 800 + 2048 + 160, 36, "4-8-128-16")
    assert narrow["macs"] == 4 * 24 * 24 * 25 + 8 * 4 * 8 * 8 * 25 + 128 * 16 + 16 * 10
    with pytest.raises(ValueError, match="alexnet: takes no widths"):
        build_model("alexnet", (3, 32, 32), 10, widths=(4, 8, 16))
    with pytest.raises(ValueError, match="three positive integers"):
        build_model("lenet5", SHAPE, 10, widths=(4, 0, 16))


# --- the verdict, on hand-made tables ----------------------------------------------------------------------

REFERENCE = {"accuracy": 0.90, "synapses": 430_500, "kernels": 1_020, "macs": 2_293_000, "architecture": "20-50-800-500"}


def _runs(widths: tuple[int, int, int], accuracies: list[float], synapses: int, kernels: int,
          validation: list[float] | None = None) -> list[dict]:
    """Probe networks' metrics; validation accuracy 0.3 pp under test unless given."""
    validation = validation or [a - 0.3 for a in accuracies]
    return [{"widths": list(widths), "seed": s, "accuracy": a / 100, "val_accuracy": v / 100, "synapses": synapses,
             "kernels": kernels, "macs": 1000, "architecture": "-".join(map(str, widths))}
            for s, (a, v) in enumerate(zip(accuracies, validation))]


def test_verdict_per_architecture_and_the_answer_on_hand_made_tables():
    runs = (_runs((5, 6, 32), [89.5, 89.6, 89.4], 4_267, 35)        # meets both targets, above 89 %
            + _runs((4, 8, 16), [80.0, 81.0, 82.0], 3_108, 36)      # meets both, below
            + _runs((4, 8, 32), [88.0, 90.0, 89.0], 5_316, 36)      # 81x synapses: misses one target; contains 89
            + _runs((20, 50, 500), [90.2], 430_500, 1_020))         # one seed: no interval
    rows = {r["widths"]: r for r in summarise(runs, REFERENCE, 0.01, TARGETS)}
    assert list(rows) == ["5-6-32", "4-8-16", "4-8-32", "20-50-500"]
    above, below, mixed, single = rows.values()
    interval = t_interval([89.5, 89.6, 89.4])
    assert (above["accuracy_low"], above["accuracy_high"]) == pytest.approx((interval["low"], interval["high"]))
    assert above["accuracy_mean"] == pytest.approx(89.5) and above["gap_pp"] == pytest.approx(-0.5)
    assert above["line"] == pytest.approx(89.0)
    assert above["synaptic_efficiency"] == pytest.approx(430_500 / 4_267) and above["cluster_efficiency"] == pytest.approx(1020 / 35)
    assert [r["verdict"] for r in (above, below, mixed, single)] == ["above", "below", "inconclusive", "inconclusive"]
    assert [r["meets_targets"] for r in (above, below, mixed, single)] == [True, True, False, False]
    assert math.isnan(single["accuracy_low"]) and single["seeds"] == 1
    assert answer(list(rows.values())) == ("reached by these recipes", ["5-6-32"])
    assert answer([below, mixed, single]) == ("not reached by these recipes", ["4-8-16"])  # every eligible one below
    undecided = summarise(_runs((5, 6, 32), [88.0, 90.0, 89.0], 4_267, 35), REFERENCE, 0.01, TARGETS)
    assert answer([below, *undecided]) == ("inconclusive", ["5-6-32"])
    assert answer([mixed, single]) == ("no architecture meets the targets", [])
    # the line moves with the tolerance: 2 pp puts 4-8-16 still below, 89.5 ± 0.25 well above
    assert line_verdict(interval, 89.6) == "inconclusive" and line_verdict(interval, 88.0) == "above"
    assert line_verdict(t_interval([80.0, 81.0, 82.0]), 88.0) == "below"


def test_the_answer_rests_on_the_row_validation_chooses_never_on_the_best_test_row():
    # 5-6-32 is above the line on test but second on validation; 4-8-16 wins validation and is not above on test
    test_best = _runs((5, 6, 32), [89.5, 89.6, 89.4], 4_267, 35, validation=[88.0, 88.1, 87.9])
    val_best = _runs((4, 8, 16), [88.0, 90.0, 89.0], 3_108, 36, validation=[89.9, 90.1, 90.0])
    rows = summarise(test_best + val_best, REFERENCE, 0.01, TARGETS)
    assert [r["verdict"] for r in rows] == ["above", "inconclusive"]
    assert rows[1]["val_mean"] == pytest.approx(90.0) and rows[0]["val_mean"] == pytest.approx(88.0)
    assert answer(rows) == ("inconclusive", ["5-6-32", "4-8-16"])
    # swap which one validation prefers: now the chosen row is the one above, and the answer is "reached"
    test_best = _runs((5, 6, 32), [89.5, 89.6, 89.4], 4_267, 35, validation=[90.5, 90.6, 90.4])
    assert answer(summarise(test_best + val_best, REFERENCE, 0.01, TARGETS)) == ("reached by these recipes", ["5-6-32"])
    # a row without validation accuracy (a seed missing it) cannot be chosen
    blind = _runs((5, 6, 32), [89.5, 89.6, 89.4], 4_267, 35)
    blind[2].pop("val_accuracy")
    row = summarise(blind, REFERENCE, 0.01, TARGETS)
    assert math.isnan(row[0]["val_mean"]) and answer(row) == ("inconclusive", ["5-6-32"])


def test_a_diverged_seed_is_listed_apart_and_the_interval_is_over_the_seeds_that_trained():
    runs = _runs((5, 6, 32), [80.0, 0.0, 80.4], 4_267, 35)
    runs[1].update(accuracy=None, diverged="probe w5_6_32_s1: loss is nan at epoch 1, step 42/938")
    every = _runs((4, 8, 16), [80.0, 0.0], 3_108, 36)
    for network in every:
        network.update(accuracy=None, diverged="nan")
    tried, lost = summarise(runs + every, REFERENCE, 0.01, TARGETS)
    assert tried["seeds"] == 2 and tried["diverged_seeds"] == "1" and tried["per_seed"] == "80.00 80.40"
    assert tried["accuracy_mean"] == pytest.approx(80.2) and tried["verdict"] == "below"
    assert lost["seeds"] == 0 and lost["diverged_seeds"] == "0 1" and math.isnan(lost["accuracy_mean"])
    # a recipe on which every seed diverged trained no network: it did not reach the line, nor can it keep the
    # answer open (a learning rate too high for every seed would otherwise leave every probe inconclusive)
    assert lost["verdict"] == "diverged"
    assert answer([tried, lost]) == ("not reached by these recipes", ["5-6-32", "4-8-16"])
    text = _statement(*answer([tried, lost]), [tried, lost], 0.95)
    assert "trained (5-6-32) lies below" in text and "4-8-16 diverged on every seed" in text
    above = summarise(_runs((4, 8, 24), [92.0, 92.2, 92.1], 4_212, 36), REFERENCE, 0.01, TARGETS)
    assert answer([tried, lost] + above)[0] == "reached by these recipes"


def test_a_probe_network_whose_loss_diverges_is_recorded_not_a_crash(tmp_path):
    from evosynth.artifacts import read_json
    from evosynth.pipeline.steps.common import load_network

    params = _probe_params()
    params["probe"]["train"]["lr"] = 1e12  # the loss is not finite within the first steps
    commands = [s.cmd for s in build_plan(validate_params(params))
                if s.step == "prepare" or (s.step == "probe_train" and "w4_8_16_s0" in s.cmd)]
    folder = _run(tmp_path / "run", ROOT / "src", params, commands)
    metrics = read_json(folder / "results/probe/w4_8_16_s0/metrics.json")
    assert metrics["accuracy"] is None and "loss is" in metrics["diverged"] and metrics["kernels"] == 36
    model, _, _ = load_network(folder / "results/probe/w4_8_16_s0/model.pt")  # its initial weights: finite
    assert all(torch.isfinite(p).all() for p in model.parameters())


# --- params ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("change", "message"), [
    (lambda p: p["probe"].update(reference="nothing"),
     r"probe\.reference: 'nothing' is not an experiment of architecture lenet5 that trains its own ancestor; allowed: tiny$"),
    (lambda p: p["probe"].update(widths=[[4, 8]]), r"probe\.widths\.0: .* is too short"),
    (lambda p: p["probe"].update(widths=[[4, 0, 16]]), r"probe\.widths\.0\.1: 0 is out of range; allowed: 1 <= value"),
    (lambda p: p["probe"].update(widths=[[4, 8, 16], [4, 8, 16]]), r"probe\.widths: .* non-unique"),
    (lambda p: p["probe"].update(seeds=[]), r"probe\.seeds: \[\] should be non-empty"),
    (lambda p: p["probe"].update(tolerance=1.5), r"probe\.tolerance: 1\.5 is out of range; allowed: 0 < value < 1"),
    (lambda p: p["probe"]["train"].update(stress=0.9), r"probe\.train: unknown key 'stress'"),
    (lambda p: p["probe"].pop("train"), r"probe: missing key 'train'"),
    (lambda p: p["probe"].update(recipes={"e3": {"epochs": 3}}, recipe_widths=[[4, 8, 17]]),
     r"probe\.recipe_widths\.0: \[4, 8, 17\] is not an entry of probe\.widths"),
    (lambda p: p["probe"].update(recipes={"e3": {"stress": 0.9}}), r"probe\.recipes\.e3: unknown key 'stress'"),
    (lambda p: p["probe"].update(recipes={"E3": {"epochs": 3}}), r"probe\.recipes"),
])
def test_bad_probe_params_are_one_line_errors_naming_the_key(change, message):
    params = _probe_params()
    change(params)
    assert_params_refused(params, message)


def test_a_reference_with_seeds_or_another_architecture_is_refused():
    params = _probe_params()
    params["experiments"]["fam"] = {**copy.deepcopy(params["experiments"]["tiny"]), "seeds": [0, 1]}
    params["experiments"]["fam"].pop("seed")
    params["probe"]["reference"] = "fam"
    with pytest.raises(ParamsError, match="probe.reference: 'fam' is not an experiment of architecture lenet5"):
        validate_params(params)
    params["probe"]["reference"] = "fam_s0"  # one seed's chain: accepted, and its stages track the family's keys
    validated = validate_params(params)
    from evosynth.pipeline.probe_steps import probe_steps

    reads = {key for step in probe_steps(validated) for key in step.params}
    assert "experiments.fam.dataset" in reads and not any(k.startswith("experiments.fam_s0") for k in reads)


def step_refusals(folder, params: dict, cases) -> None:
    """``evosynth probe_train`` with each case's arguments: exit 2, exactly the case's one line, nothing written."""
    write_params(folder / "params.yaml", params)
    env = {**engine_env(), "PYTHONPATH": str(ROOT / "src"), "EVOSYNTH_WARM": "0"}
    for extra, message in cases:
        result = subprocess.run([sys.executable, "-m", "evosynth.pipeline.cli", "probe_train", *extra, "--data",
                                 "absent.npz", "--out-dir", "out"], cwd=folder, env=env, capture_output=True,
                                text=True, check=False)
        assert result.returncode == 2 and result.stderr.strip() == f"evosynth: error: {message}", result.stderr
    assert not (folder / "out").exists()


def test_the_step_refuses_widths_and_seeds_outside_the_probe_in_one_line(tmp_path):
    step_refusals(tmp_path, _probe_params(), (
        (["--widths", "4", "8", "17", "--seed", "0"], "--widths: 4 8 17 is not an entry of probe.widths;"
                                                      " allowed: 20 50 500, 4 8 16"),
        (["--widths", "4", "8", "16", "--seed", "7"], "--seed: 7 is not one of probe.seeds; allowed: 0, 1")))


# --- the plan and the engines ------------------------------------------------------------------------------


def test_probe_steps_are_a_named_target_reading_the_reference():
    steps = {s.name: s for s in build_plan(validate_params(_probe_params(distill=0.7)))}
    probe = [s for s in steps.values() if s.step in ("probe_train", "probe")]
    assert len(probe) == 2 * 2 + 1 and not any(s.default for s in probe)
    train = steps["probe_train-w4_8_16_s1"]
    assert train.cmd.split(" --params params.yaml ")[1] == ("--widths 4 8 16 --seed 1 --data data/prepared/digits.npz"
                                                           " --teacher results/tiny/gen0/model.pt"
                                                           " --out-dir results/probe/w4_8_16_s1")
    assert "results/tiny/gen0/model.pt" in train.deps and "probe.train" in train.params
    assert "results/tiny/gen0/metrics.json" in steps["probe"].deps
    plain = {s.name: s for s in build_plan(validate_params(_probe_params()))}
    assert "--teacher" not in plain["probe_train-w4_8_16_s1"].cmd  # no distillation: no teacher, no dependency
    assert not any(d.endswith("model.pt") for d in plain["probe_train-w4_8_16_s1"].deps)


@pytest.mark.slow
def test_probe_dag_is_identical_in_dvc_and_snakemake_and_dvc_runs_it(tmp_path):
    params = _probe_params(reference="named", distill=0.5, default=False)
    params["probe"]["kernel_sparse"] = {"kernels": 36, "widths": [[6, 12, 16]]}  # its stages in both engines too
    project = make_project(tmp_path / "p", params, git=False)
    assert not (project / "pipelines/probe").exists()  # rendered only on request
    run([sys.executable, "workflow/scripts/render_dvc.py", "--with", "probe"], cwd=project)
    # the reference is a chain the probe reaches: rendered whole in its own file (the same file whether it
    # was named or reached), while the probe target runs only its generation 0 (the DAG below)
    named = yaml.safe_load((project / "pipelines/named/dvc.yaml").read_text())["stages"]
    assert {"evaluate-named-gen0", "stress_train-named-gen0", "report-named"} <= set(named)
    run([sys.executable, "workflow/scripts/render_dvc.py"], cwd=project)
    assert sorted(yaml.safe_load((project / "pipelines/named/dvc.yaml").read_text())["stages"]) == sorted(named)
    assert run([sys.executable, "workflow/scripts/render_dvc.py", "--check"], cwd=project, check=False).returncode == 0
    run(["git", "init", "-q"], cwd=project)
    run([str(BIN / "dvc"), "init", "-q"], cwd=project)
    dvc = dvc_dag(project, "probe")
    assert {j[0] for j in dvc} == {"code", "prepare", "stress_train", "evaluate", "probe_train", "probe"}
    assert len([j for j in dvc if j[0] != "code"]) == 1 + 2 + 2 * 2 + 2 + 1
    assert dvc == snakemake_dag(project, "probe")
    default = snakemake_dag(project, "all")  # plain runs leave the probe out
    assert not any(j[0].startswith("probe") for j in default) and not [s for s in root_stages_text(project) if "probe" in s]
    run([str(BIN / "dvc"), "repro", "pipelines/probe/dvc.yaml"], cwd=project)
    text = (project / "reports/probe/probe.md").read_text()
    assert "(distillation α = 0.5, T = 4)" in text and "## Answer" in text
    assert "| 6-12-192-16 kernel-sparse | kernel-sparse, 46.2 % of its kernels | 36 | 4,132 |" in text
    status = run([str(BIN / "dvc"), "status", "pipelines/probe/dvc.yaml"], cwd=project).stdout
    assert "changed" not in status and "modified" not in status, status
    # each training's model goes to DVC's cache and its small files to git, so that trainings run on
    # different machines leave the report everything it reads
    stage = yaml.safe_load((project / "pipelines/probe/dvc.yaml").read_text())["stages"]["probe_train-w4_8_16_s1"]
    assert stage["outs"][0] == "results/probe/w4_8_16_s1/model.pt"
    assert [list(o.values()) for o in stage["outs"][1:]] == [[{"cache": False}]] * 3, stage["outs"]
    assert (project / "results/probe/w4_8_16_s1/.gitignore").read_text().split() == ["/model.pt"]


@pytest.mark.slow
def test_snakemake_runs_the_probe_end_to_end(tmp_path):
    from evosynth import figures

    project = make_project(tmp_path / "p", _probe_params(distill=0.5), git=False)
    run([str(BIN / "snakemake"), "-c2", "probe"], cwd=project)
    rows = list(csv.DictReader((project / "reports/probe/probe.csv").open()))
    assert [r["widths"] for r in rows] == ["20-50-500", "4-8-16"] and {r["seeds"] for r in rows} == {"2"}
    assert [r["meets_targets"] for r in rows] == ["False", "True"]
    metrics = [json.loads((project / f"results/probe/w4_8_16_s{s}/metrics.json").read_text()) for s in (0, 1)]
    assert metrics[0]["accuracy"] != metrics[1]["accuracy"]  # the seed changes initialisation and data order
    assert metrics[0]["kernels"] == 36 and metrics[0]["test_images"] == 200
    panels = figures.read_axes(project / "reports/probe/probe.png")
    assert [p["xlabel"] for p in panels] == ["test accuracy (%)", "synapses (log scale)", "conv kernels (log scale)"]
    assert {p["ylabel"] for p in panels} == {"architecture (widths)"}


def test_the_probe_steps_reproduce_the_ancestor_and_load_back(tmp_path):
    """Widths 20-50-500, seed 0, the reference's training: the reference's ancestor, bit for bit."""
    from evosynth.artifacts import read_json
    from evosynth.pipeline.steps.common import load_network

    params = _probe_params()
    commands = [s.cmd for s in build_plan(validate_params(params))
                if (s.step in ("stress_train", "evaluate") and s.generation == 0)
                or s.step in ("prepare", "probe_train", "probe")]
    folder = _run(tmp_path / "run", ROOT / "src", params, commands)
    ancestor = torch.load(folder / "results/tiny/gen0/model.pt", weights_only=True)
    probed = torch.load(folder / "results/probe/w20_50_500_s0/model.pt", weights_only=True)
    assert ancestor["state_dict"].keys() == probed["state_dict"].keys()
    assert all(torch.equal(ancestor["state_dict"][k], probed["state_dict"][k]) for k in ancestor["state_dict"])
    reference = read_json(folder / "results/tiny/gen0/metrics.json")
    mine = read_json(folder / "results/probe/w20_50_500_s0/metrics.json")
    assert mine["accuracy"] == reference["accuracy"] and mine["synapses"] == reference["synapses"]
    model, _, ckpt = load_network(folder / "results/probe/w4_8_16_s1/model.pt")  # built at its widths
    assert ckpt["widths"] == [4, 8, 16] and model.fc1.out_features == 16
    text = (folder / "reports/probe/probe.md").read_text()
    assert "| 20-50-800-500 | dense | 1,020 | 430,500 |" in text and "no distillation" in text
    assert f"accuracy **{100 * reference['accuracy']:.2f} %** on 200 test images" in text


# --- the committed probe -----------------------------------------------------------------------------------


def test_the_committed_probe_asks_the_issues_question_at_the_picks_training():
    from evosynth.pipeline.params import load_params

    params = load_params(ROOT / "params.yaml")
    probe = params["probe"]
    pick = params["experiments"][probe["reference"]]
    assert pick.get("family", probe["reference"]) == "pick" and pick["data"] == {"train_size": None, "test_size": None}
    assert len(probe["seeds"]) >= 3 and [20, 50, 500] in probe["widths"]
    for key in ("batch_size", "lr", "momentum", "weight_decay", "schedule", "distill"):
        assert probe["train"][key] == pick["train"][key], key
    assert probe["train"]["epochs"] >= pick["train"]["ancestor_epochs"]
    # the line is drawn from the reference's metrics as the current code writes them: trained on the training
    # images less the validation split, like every probe network (the pick set's run predates the split)
    line = json.loads((ROOT / "results" / probe["reference"] / "gen0" / "metrics.json").read_text())
    assert "val_accuracy" in line and "val_accuracy" in json.loads(
        (ROOT / "results/probe/w20_50_500_s0/metrics.json").read_text())
    build = lambda w: build_model("lenet5", SHAPE, 10, widths=tuple(w))
    both = [w for w in probe["widths"] if sum(p.numel() for n, p in build(w).named_parameters()
                                              if n.endswith("weight")) <= 4_305
            and w[0] + w[0] * w[1] <= 37]
    assert len(both) >= 3  # several ways to spend the budget of 27x kernels and 100x synapses
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        from probe_cost import epoch_model, plan_cost
    finally:
        sys.path.pop(0)
    cost = plan_cost(params, *epoch_model())
    recipes = len(probe["recipes"]) * len(probe["recipe_widths"])
    sparse = len(probe["kernel_sparse"]["widths"]) * (1 + len(probe["recipes"]))
    assert cost["networks"] == (len(probe["widths"]) + recipes + sparse) * len(probe["seeds"])
    # a seed's trainings are a group one session runs and commits (docs/pickset.md)
    assert cost["sparse_networks"] == sparse * len(probe["seeds"]) and cost["probe_s"] / len(probe["seeds"]) <= 2.5 * 3600
    # the kernel-sparse networks have the target's kernel count and meet both targets at wider conv widths
    from evosynth.pipeline.steps.probe_train import network_counts, probe_masks

    for w in probe["kernel_sparse"]["widths"]:
        model = build(w)
        counts = network_counts(model, SHAPE, probe_masks(model, tuple(w), 0, probe["kernel_sparse"]["kernels"]))
        assert counts["kernels"] <= 37 and counts["synapses"] <= 4_305 and w[0] * w[1] + w[0] > 37, w
    # a lower bound, not one recipe: more epochs and another learning rate for every width meeting both targets
    assert sorted(map(list, probe["recipe_widths"])) == sorted(both)
    assert {k for r in probe["recipes"].values() for k in r} >= {"epochs", "lr"}
    assert max(r.get("epochs", 0) for r in probe["recipes"].values()) >= 3 * probe["train"]["epochs"]


def test_recipes_train_the_named_widths_as_rows_of_their_own():
    params = _probe_params()
    params["probe"].update(recipes={"e3": {"epochs": 3}, "fast": {"lr": 0.05, "schedule": "cosine"}},
                           recipe_widths=[[4, 8, 16]])
    steps = {s.name: s for s in build_plan(validate_params(params))}
    assert sorted(n for n in steps if n.startswith("probe_train-w4_8_16")) == [
        "probe_train-w4_8_16_e3_s0", "probe_train-w4_8_16_e3_s1", "probe_train-w4_8_16_fast_s0",
        "probe_train-w4_8_16_fast_s1", "probe_train-w4_8_16_s0", "probe_train-w4_8_16_s1"]
    assert not any(n.startswith("probe_train-w20_50_500_e3") for n in steps)  # only the recipe widths
    fast = steps["probe_train-w4_8_16_fast_s1"]
    assert " --seed 1 --recipe fast " in fast.cmd and fast.cmd.endswith("--out-dir results/probe/w4_8_16_fast_s1")
    assert "probe.recipes.fast" in fast.params and "probe.recipes.e3" not in fast.params
    assert "results/probe/w4_8_16_fast_s1/metrics.json" in steps["probe"].deps
    from evosynth.pipeline.probe import recipe_train

    train = recipe_train(validate_params(params)["probe"], "fast")
    assert (train["lr"], train["schedule"], train["epochs"], train["batch_size"]) == (0.05, "cosine", 1, 64)
    # the report keeps every (width, recipe) apart and says the recipes give a lower bound
    runs = (_runs((4, 8, 16), [80.0, 81.0, 82.0], 3_108, 36)
            + [{**r, "recipe": "e3"} for r in _runs((4, 8, 16), [89.5, 89.6, 89.4], 3_108, 36)])
    rows = summarise(runs, REFERENCE, 0.01, TARGETS)
    assert [(r["widths"], r["recipe"], r["verdict"]) for r in rows] == [("4-8-16", "train", "below"),
                                                                       ("4-8-16", "e3", "above")]
    assert answer(rows)[0] == "reached by these recipes" and rows[1]["architecture"].endswith("(e3)")


def test_the_step_refuses_a_recipe_outside_the_probe_in_one_line(tmp_path):
    params = _probe_params()
    params["probe"].update(recipes={"e3": {"epochs": 3}}, recipe_widths=[[4, 8, 16]])
    step_refusals(tmp_path, params, (
        (["--widths", "4", "8", "16", "--seed", "0", "--recipe", "e9"],
         "--recipe: 'e9' is not a key of probe.recipes; allowed: e3"),
        (["--widths", "20", "50", "500", "--seed", "0", "--recipe", "e3"],
         "--widths: 20 50 500 is not an entry of probe.recipe_widths; allowed: 4 8 16")))
