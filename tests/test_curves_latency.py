"""The trade-off curves' third axis: batch-1 latency of every network a curve point stands on, one timing per chain."""

from __future__ import annotations

import json
import math

import pytest
import torch
from conftest import BIN, make_project, record, run
from test_curves import _curves, _rendered, _searched, _write_chains, write_timings
from test_workflow import dvc_dag, snakemake_dag

from evosynth.artifacts import save_checkpoint
from evosynth.errors import ArtifactError, ParamsError
from evosynth.nets.architectures import LeNet5
from evosynth.nets.masks import full_masks
from evosynth.pipeline import numerics
from evosynth.pipeline.curves_steps import timed_networks
from evosynth.pipeline.params import validate_params
from evosynth.pipeline.plan import build_plan
from evosynth.pipeline.stage import param_values
from evosynth.pipeline.steps.common import network_payload
from evosynth.pipeline.steps.curves import run_curves
from evosynth.pipeline.steps.latency import run_latency
from evosynth.reporting.curves_latency import control_lines, geometric, latency_rows


def _small() -> dict:
    """The curves with one baseline and one control: pk's chain times 3 networks and a control, small settings."""
    params = _curves()
    params["baselines"] = {"pk_magnitude": params["baselines"]["pk_magnitude"]}
    params["curves"].update(baselines=["pk_magnitude"], scratch={"chains": ["pk"], "generations": [1]})
    params["runtime"] = {"experiments": [], "repeats": 6, "rounds": 2, "warmup": 1}
    return params


def test_one_timing_per_chain_reads_its_networks_and_controls_and_no_other_chains_with_native_numerics():
    params = validate_params(_curves())
    steps = {s.name: s for s in build_plan(params) if s.step == "latency"}
    assert sorted(steps) == sorted(f"latency-{run}_s{seed}" for run in ("pk", "pk_magnitude", "pk_random",
                                                                        "pk_l1_filter") for seed in (0, 1))
    step = steps["latency-pk_magnitude_s1"]
    models = set(step.deps) - {"results/.code/latency.json"}
    assert models == {f"{f}/model.pt" for f in timed_networks(params, "pk_magnitude_s1")}
    # its seed's ancestor, its own 3 steps, its control; no other chain's network, no other seed's
    assert models == {"results/pk_s1/gen0/model.pt", *(f"results/pk_magnitude_s1/gen{g}/model.pt" for g in (1, 2, 3)),
                      "results/scratch/pk_magnitude_s1/gen2/model.pt"}
    assert timed_networks(params, "pk_random_s0")[0] == "results/pk_s0/gen0"  # the ancestor first: the reference
    assert step.cmd.endswith("latency --params params.yaml --chain pk_magnitude_s1 --out-dir"
                             " results/latency/pk_magnitude_s1")
    assert step.outs == ("results/latency/pk_magnitude_s1/latency.json",
                         "results/latency/pk_magnitude_s1/latency.provenance.json")
    assert not step.default and "numerics" not in step.params and "runtime.repeats" in step.params
    assert numerics.mode_of({"numerics": "portable"}, "latency") == "native"  # it times what users run
    curves = next(s for s in build_plan(params) if s.step == "curves")
    assert {f"{s.folder}/latency.json" for s in steps.values()} <= set(curves.deps)


def test_a_chains_timing_stays_as_it_is_when_other_runs_and_controls_join_the_curves():
    """A chain timed in one session is not timed again because the search or the controls grew elsewhere."""
    def timing(params: dict, chain: str) -> tuple:
        raw = validate_params(params)
        step = next(s for s in build_plan(raw) if s.step == "latency" and s.unit == chain)
        return step.cmd, step.deps, param_values(raw, step.params)

    before = _curves()
    after = _searched()  # two candidates join the search
    after["curves"]["scratch"]["chains"].append("pk_l1_filter")  # and another baseline gets its controls
    for chain in ("pk_s1", "pk_magnitude_s0", "pk_random_s1"):
        assert timing(before, chain) == timing(after, chain), chain
    gained = timing(after, "pk_l1_filter_s1")  # the chain given controls times them too
    assert set(gained[1]) - set(timing(before, "pk_l1_filter_s1")[1]) == {"results/scratch/pk_l1_filter_s1/gen2/model.pt"}
    longer = _curves()
    longer["baselines"]["pk_random"]["schedule"]["generations"] += 1  # its own run's course: read, and timed again
    assert timing(longer, "pk_random_s1")[2] != timing(before, "pk_random_s1")[2]


def _network(path, keep: float, seed: int) -> None:
    """A LeNet5 whose conv filters and fc1 neurons beyond ``keep`` of them are dead (a smaller compacted net)."""
    torch.manual_seed(seed)
    model = LeNet5()
    masks = full_masks(model)
    for name, mask in masks.items():
        if mask.dim() > 1 and mask.shape[0] > 10:  # not the output layer
            mask[int(keep * mask.shape[0]):] = False
    like = {"architecture": "lenet5", "input_shape": [1, 28, 28], "num_classes": 10, "experiment": "pk"}
    path.parent.mkdir(parents=True, exist_ok=True)
    save_checkpoint(path, "model", network_payload(model, masks, like, generation=0))
    record(path)


def test_the_latency_step_times_every_network_beside_a_copy_of_the_ancestor(tmp_path):
    params = validate_params(_small())
    folders = timed_networks(params, "pk_s1")
    assert folders == ["results/pk_s1/gen0", "results/pk_s1/gen1", "results/pk_s1/gen2", "results/scratch/pk_s1/gen1"]
    for i, folder in enumerate(folders):
        _network(tmp_path / folder / "model.pt", 1.0 if i == 0 else 0.3, i)
    record_ = run_latency(params, "pk_s1", tmp_path / "out", root=tmp_path)
    written = json.loads((tmp_path / "out/latency.json").read_text())
    assert written == json.loads(json.dumps(record_))
    assert sorted(written["networks"]) == sorted(folders) and written["configuration"] == "onnxruntime_1thread"
    assert (written["chain"], written["seed"]) == ("pk_s1", 1)
    ancestor = written["networks"][folders[0]]
    assert ancestor["speedup"]["median"] == 1.0  # against itself, round by round
    assert len(ancestor["rounds_ms"]) == 2 and all(len(r) == 3 for r in ancestor["rounds_ms"])  # 6 runs, 2 rounds
    assert written["control"]["copy_of"] == folders[0] and "within_spread" in written["control"]
    for folder in folders[1:]:  # the ratio of the medians of each round, against the ancestor's
        net = written["networks"][folder]
        ratios = sorted(_median(a) / _median(b) for a, b in zip(ancestor["rounds_ms"], net["rounds_ms"], strict=True))
        assert net["speedup"]["median"] == pytest.approx((ratios[0] + ratios[1]) / 2)
    provenance = json.loads((tmp_path / "out/latency.provenance.json").read_text())
    assert provenance["params"]["networks"] == folders and provenance["params"]["runtime"]["repeats"] == 6
    with pytest.raises(ParamsError, match=r"^--chain: 'pk_s7' is not a chain of the curves; allowed: pk_s0, pk_s1,"
                                          r" pk_magnitude_s0, pk_magnitude_s1$"):
        run_latency(params, "pk_s7", tmp_path / "bad", root=tmp_path)


def _median(values: list[float]) -> float:
    s = sorted(values)
    return (s[(len(s) - 1) // 2] + s[len(s) // 2]) / 2


def test_the_latency_table_averages_speed_ups_geometrically_and_flags_a_control_off_one():
    g = geometric([2.0, 8.0], 0.95)
    assert g["n"] == 2 and g["mean"] == pytest.approx(4.0) and g["low"] < 4.0 < g["high"]
    assert math.isnan(geometric([3.0], 0.95)["low"])
    methods = {"ev": {s: {0: {"latency_speedup": 1.0, "latency_ms": 0.2},
                          1: {"latency_speedup": [2.0, 8.0][s], "latency_ms": [0.1, 0.025][s]}} for s in range(2)},
               "b": {s: {0: {"latency_speedup": 1.0, "latency_ms": 0.2 + 0.1 * s}} for s in range(2)}}
    rows = latency_rows(methods, 0.95)
    assert [r["generation"] for r in rows] == [0, 1]
    assert rows[1]["ev"]["mean"] == pytest.approx(4.0) and rows[1]["ev"]["latency_ms"] == pytest.approx(0.0625)
    assert rows[1]["b"]["n"] == 0 and rows[0]["b"]["latency_ms"] == pytest.approx(0.25)
    good = {"copy_of": "results/a/gen0", "speedup": {"median": 1.004, "p10": 0.98, "p90": 1.02}, "within_spread": True}
    bad = {**good, "speedup": {"median": 1.2, "p10": 1.1, "p90": 1.3}, "within_spread": False}
    lines = control_lines({"a_s0": good, "b_s0": bad})
    assert lines[0].startswith("- a_s0: a second copy of results/a/gen0 reads 1.004× [0.980–1.020] (1.00× within")
    assert lines[1].startswith("- b_s0:") and "NOT 1.00× within the spread" in lines[1]


def test_the_curves_report_draws_accuracy_against_measured_speed_up_and_tables_it(tmp_path):
    params = validate_params(_curves())
    _write_chains(tmp_path, params)
    write_timings(tmp_path, params, speed=lambda folder, seed: (3.0 if "scratch" in folder else 1.5) + seed)
    out = tmp_path / "reports/curves"
    rows = run_curves(params, out, root=tmp_path)["rows"]
    text = (out / "curves.md").read_text()
    assert "## At fixed latency speedup" in text and "## Measured batch-1 latency" in text
    assert "- pk_random_s1: a second copy of results/pk_s1/gen0 reads 1.001×" in text
    # every later network of seed s reads 1.5 + s: over seeds 0 and 1, the geometric mean of 1.5 and 2.5
    assert f"| 1 | {math.sqrt(1.5 * 2.5):.2f}× [" in text
    at2 = next(r for r in rows if r["axis"] == "latency_speedup" and r["point"] == 2)
    assert at2["methods"]["pk"]["reached"] == 1  # seed 0 reaches 1.5x only
    from evosynth.figures import read_axes

    (panel,) = read_axes(out / "curves_latency.png")
    assert "measured batch-1 speed-up" in panel["xlabel"] and "log scale" in panel["xlabel"]
    assert "accuracy,latency_speedup,2," in (out / "curves.csv").read_text()


def test_a_control_stands_at_its_own_measured_speed_up_and_at_its_networks_counted_ratios():
    from evosynth.reporting.curves import scratch_rows

    network = {g: {"generation": g, "accuracy": 0.9, "synaptic_efficiency": 1 + 3 * g, "mac_reduction": 1 + g,
                   "latency_speedup": 1 + 0.5 * g} for g in range(3)}
    controls = {"ev": {2: {s: {"accuracy": 0.85, "latency_speedup": 2.2 + 0.2 * s} for s in range(2)}}}
    (row,) = scratch_rows({"ev": {0: network, 1: network}}, controls, 0.95)
    assert row["latency_speedup"] == pytest.approx(2.3)  # its own: 2.2 and 2.4, not its network's 2.0
    assert row["mac_reduction"] == 3 and row["synaptic_efficiency"] == 7


def test_a_network_missing_from_its_chains_timing_is_refused_in_one_line(tmp_path):
    params = validate_params(_curves())
    _write_chains(tmp_path, params)
    write_timings(tmp_path, params)
    path = tmp_path / "results/latency/pk_random_s1/latency.json"
    timing = json.loads(path.read_text())
    del timing["networks"]["results/pk_random_s1/gen2"]
    path.write_text(json.dumps(timing))
    record(path)
    with pytest.raises(ArtifactError, match=r"^pk_random_s1: results/pk_random_s1/gen2 is not in the latency record"
                                            r" of pk_random_s1; allowed: "):
        run_curves(params, tmp_path / "out", root=tmp_path)


def test_the_timings_dag_is_identical_in_dvc_and_snakemake_and_its_record_stays_in_git(tmp_path):
    """With the search's candidates, one distilled from the ancestor: the same jobs in both engines."""
    params = _searched(distill={"alpha": 0.5, "temperature": 2.0, "teacher": "ancestor"})
    project = _rendered(tmp_path, "curves", params)
    dvc = dvc_dag(project, "latency-pk_e2_s1")
    assert dvc == snakemake_dag(project, "results/latency/pk_e2_s1/latency.json")
    (latency,) = [j for j in dvc if j[0] == "latency"]
    assert "evosynth latency --params params.yaml --chain pk_e2_s1" in latency[1]
    # upstream: the seed's ancestor and pk_e2's 2 generations, no other chain; pk_e2 learns from pk_s1's
    # ancestor in both engines
    assert len([j for j in dvc if j[0] in ("stress_train", "retrain")]) == 1 + 2
    (e2,) = [j for j in dvc if j[0] == "retrain" and "--experiment pk_e2_s1 --generation 2" in j[1]]
    assert "--teacher results/pk_s1/gen0/model.pt" in e2[1]
    assert not [j for j in dvc if j[0] == "scratch"]  # pk_e2 has no controls
    assert snakemake_dag(project, "results/latency/pk_s1/latency.json") == dvc_dag(project, "latency-pk_s1")
    assert len([j for j in dvc_dag(project, "latency-pk_s1") if j[0] == "scratch"]) == 1  # pk's own control
    import yaml

    stages = yaml.safe_load((project / "pipelines/curves/dvc.yaml").read_text())["stages"]
    assert stages["latency-pk_e2_s1"]["outs"][0] == {"results/latency/pk_e2_s1/latency.json": {"cache": False}}


def test_a_timing_runs_through_the_cli_with_native_kernels(tmp_path):
    params = _small()
    params["numerics"] = "portable"
    project = make_project(tmp_path / "p", params, git=False)
    checked = validate_params(params)
    for i, folder in enumerate(timed_networks(checked, "pk_s0")):
        _network(project / folder / "model.pt", 1.0 if i == 0 else 0.5, i)
    out = run([str(BIN / "evosynth"), "latency", "--chain", "pk_s0", "--out-dir", "results/latency/pk_s0"],
              cwd=project)
    assert "pk_s0: 4 networks timed; control (a copy of results/pk_s0/gen0)" in out.stdout
    provenance = json.loads((project / "results/latency/pk_s0/latency.provenance.json").read_text())
    assert '"numerics": "native"' in json.dumps(provenance)  # portable params: the timing runs native anyway
    bad = run([str(BIN / "evosynth"), "latency", "--chain", "pk_s5", "--out-dir", "x"], cwd=project, check=False)
    assert bad.returncode == 2 and "Traceback" not in bad.stderr
    assert bad.stderr.strip().endswith("allowed: pk_s0, pk_s1, pk_magnitude_s0, pk_magnitude_s1")
