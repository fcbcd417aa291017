"""What a DVC or Snakemake user meets: a shareable project, small metrics, readable figures and reports."""

from __future__ import annotations

import copy
import json
import re
import shutil
import sys

import pytest
import yaml
from conftest import BIN, ROOT, TINY_PARAMS, TINY_REPORTS, make_project, run

from evosynth import figures
from evosynth.analysis import runtime
from evosynth.errors import ArtifactError
from evosynth.reporting import summary

DVC, SNAKEMAKE = str(BIN / "dvc"), str(BIN / "snakemake")


def _rows(accuracies, synapses, member=None):
    return [{"generation": g, "member": member, "accuracy": a, "val_accuracy": a, "synapses": s, "macs": 1000 - 10 * g,
             "synaptic_efficiency": synapses[0] / s, "cluster_efficiency": 1.0 + g / 10, "mac_reduction": 1000 / (1000 - 10 * g)}
            for g, (a, s) in enumerate(zip(accuracies, synapses))]


def test_summary_picks_the_last_generation_within_the_tolerance():
    rows = _rows([0.90, 0.905, 0.895, 0.87], [1000, 500, 250, 125])
    s = summary.summary(rows, tolerance=0.01)
    assert s == {"gen": 3, "accuracy": 87.0, "pick": 2, "pick_accuracy": 89.5, "A-E": 4.0,
                 "C-E": 1.2, "MACs": 980, "MAC_x": 1.02}
    assert summary.summary(rows, tolerance=0.05)["pick"] == 3


def _timed(generation, macs, ort_rounds):
    """A runtime.json generation: ORT 1 thread timed in rounds (ms), the other configurations by FPS only."""
    flat = sorted(x for r in ort_rounds for x in r)
    others = {runtime.config_key(e, t): {"fps": 1e3 * (1 + i + generation)} for i, (e, t) in enumerate(runtime.CONFIGS)}
    return {"generation": generation, "accuracy": 0.9 - generation / 100, "macs": macs, "size_mb": 1.0,
            "architecture": f"a{generation}", **others,
            "onnxruntime_1thread": {"fps": 1e3 / flat[len(flat) // 2], "rounds_ms": ort_rounds}}


#: Generation 0 and 1 timed in the same rounds; round 3 was slow for generation 0 only (load), so the
#: ratio of the overall medians (1.23) and the median of the per-round ratios (1.00) differ.
TIMED = [_timed(0, 1000, [[1.0, 1.0], [1.0, 1.0], [1.3, 1.3], [1.3, 1.3], [1.3, 1.3]]),
         _timed(1, 900, [[1.0, 1.0], [1.0, 1.0], [1.3, 1.3], [1.3, 1.3], [1.06, 1.06]])]


def ort_speedup(runtime_md: str, generation: int) -> str:
    """The "speed-up (ORT 1 thread)" cell of ``generation``'s row of a runtime.md table."""
    lines = runtime_md.splitlines()
    header = next(line for line in lines if line.startswith("| generation |")).split(" | ")
    row = next(line for line in lines if line.startswith(f"| {generation} |")).split(" | ")
    return row[header.index("speed-up (ORT 1 thread)")]


def test_the_summary_speedup_is_the_one_runtime_md_prints():
    rows = runtime.runtime_rows(TIMED)
    table = runtime.markdown(rows, {"hostname": "h", "cpu": "c", "cores": 2, "system": "s", "libraries": {}})
    ort = ort_speedup(table, 1)
    assert ort.startswith("1.00× [")
    quoted = summary.speedup(TIMED)["speedup"]
    assert ort.startswith(f"{quoted:.2f}×"), (ort, quoted)
    assert quoted == round(rows[-1]["onnxruntime_1thread_speedup"], 2) != round(
        TIMED[1]["onnxruntime_1thread"]["fps"] / TIMED[0]["onnxruntime_1thread"]["fps"], 2)


def test_the_committed_runtime_report_and_the_summary_speedup_agree():
    """On the committed measurements of the timed experiment: what summary.json would say is runtime.md's number."""
    report = ROOT / "reports" / "fmnist_evonet"
    generations = json.loads((report / "runtime.json").read_text())["generations"]
    quoted = summary.speedup(generations)["speedup"]
    assert ort_speedup((report / "runtime.md").read_text(), generations[-1]["generation"]).startswith(f"{quoted:.2f}×")


def test_plot_data_keeps_the_members_of_a_population_apart():
    ancestor = _rows([0.9], [1000])
    m0 = [r for r in _rows([0.9, 0.8, 0.7], [1000, 500, 250], member=0) if r["generation"]]
    m1 = [r for r in _rows([0.9, 0.85, 0.75], [1000, 400, 200], member=1) if r["generation"]]
    rows = summary.plot_rows(ancestor + m0 + m1)
    assert [r["generation"] for r in rows] == [0, 1, 2]
    assert rows[0]["accuracy_percent_m0"] == rows[0]["accuracy_percent_m1"] == 90.0  # both lines start at the ancestor
    assert (rows[1]["accuracy_percent_m0"], rows[1]["accuracy_percent_m1"]) == (80.0, 85.0)
    assert rows[2]["synaptic_efficiency_m1"] == 5.0 and "accuracy_percent" not in rows[2]
    assert set(summary.plot_rows(_rows([0.9, 0.8], [10, 5]))[1]) == {"generation", "accuracy_percent", *summary.RATIOS}


def test_a_figure_without_axis_titles_is_refused(tmp_path):
    plt = figures.pyplot()
    fig, ax = plt.subplots()
    ax.plot([0, 1], [1, 2])
    ax.set(xlabel="generation")
    with pytest.raises(ArtifactError, match="an axis without a title"):
        figures.save_figure(fig, tmp_path / "f.png")
    assert not (tmp_path / "f.png").exists()
    fig, ax = plt.subplots()
    ax.plot([1.0, 1.02, 1.05], [0.95, 1.0, 1.04])
    assert not figures.readable_log(ax, "x", [1.0, 1.05])  # a count over a narrow range stays linear
    assert figures.readable_log(ax, "y", [1.0, 21.0])
    ax.set(xlabel="MAC reduction (×)", ylabel="speed-up (×)")
    figures.log_axis(ax, "x", [1.0, 1.05])  # a ratio goes on a log axis whatever its range
    figures.save_figure(fig, tmp_path / "g.png")
    assert figures.read_axes(tmp_path / "g.png") == [{"title": "", "xlabel": "MAC reduction (×)", "ylabel": "speed-up (×)",
                                                      "xscale": "log", "yscale": "log"}]


def test_mac_count_agrees_with_torch_pruning_on_conv_and_linear_layers():
    import torch
    import torch_pruning as tp
    from torch import nn

    from evosynth.analysis.metrics import dense_macs

    # without biases, pooling or normalisation, Torch-Pruning counts exactly the conv and linear MACs
    model = nn.Sequential(nn.Conv2d(1, 4, 5, bias=False), nn.Conv2d(4, 6, 3, stride=2, bias=False),
                          nn.Flatten(), nn.Linear(6 * 9 * 9, 7, bias=False))
    ops, _ = tp.utils.count_ops_and_params(model, torch.zeros(1, 1, 24, 24))
    assert dense_macs(model, (1, 24, 24)) == int(ops) == 4 * 25 * 20 * 20 + 6 * 4 * 9 * 9 * 9 + 486 * 7


@pytest.fixture(scope="module")
def shared(tmp_path_factory):
    """The tiny project with every report, run, committed and pushed to its default remote."""
    parent = tmp_path_factory.mktemp("share")
    project = make_project(parent / "p", {**copy.deepcopy(TINY_PARAMS), **copy.deepcopy(TINY_REPORTS)})
    run([DVC, "repro"], cwd=project)
    run(["git", "add", "-A"], cwd=project)
    run(["git", "commit", "-qm", "run"], cwd=project)
    run([DVC, "push"], cwd=project)
    return project


@pytest.mark.slow
def test_push_fresh_clone_pull_is_clean_and_runs_nothing(shared):
    clone = shared.parent / "clone"  # beside the project: the default remote (../../evosynth-dvc-remote) is shared
    run(["git", "clone", "-q", str(shared), str(clone)], cwd=shared.parent)
    # small reports live in git: readable before any pull
    for path in ("reports/index.md", "reports/papers/pareto.png", "reports/papers/stressednets_table1.md",
                 "reports/tiny/summary.json", "reports/tiny/generations.png"):
        assert (clone / path).stat().st_size > 0, path
    assert not (clone / "results/tiny/gen2/model.pt").exists()  # models come from the remote
    run([DVC, "pull"], cwd=clone)
    assert (clone / "results/tiny/gen2/model.pt").read_bytes() == (shared / "results/tiny/gen2/model.pt").read_bytes()
    status = run([DVC, "status"], cwd=clone).stdout
    assert "Data and pipelines are up to date." in status, status
    repro = run([DVC, "repro"], cwd=clone).stdout
    assert "Running stage" not in repro, repro
    shutil.rmtree(clone)


@pytest.mark.slow
def test_every_figure_a_stage_writes_has_labelled_axes(shared):
    pngs = sorted(shared.glob("reports/**/*.png"))
    assert {p.relative_to(shared).as_posix() for p in pngs} >= {
        "reports/tiny/generations.png", "reports/tiny/runtime.png", "reports/tiny_l1/generations.png",
        "reports/papers/pareto.png", "reports/papers/factor_sweep.png", "reports/papers/sexual_vs_asexual.png",
        "reports/papers/features_tsne.png"}
    for png in pngs:
        panels = figures.read_axes(png)
        assert panels, f"{png}: written without save_figure"
        for panel in panels:
            assert panel["xlabel"] and panel["ylabel"], f"{png}: {panel}"
            assert panel["ylabel"] != "y"


@pytest.mark.slow
def test_metrics_are_one_summary_per_experiment_and_plots_are_labelled(shared):
    metrics = json.loads(run([DVC, "metrics", "show", "--json"], cwd=shared).stdout)
    (workspace,) = metrics.values()
    assert set(workspace["data"]) == {"reports/tiny/summary.json", "reports/tiny_l1/summary.json"}
    speedup = workspace["data"]["reports/tiny/summary.json"]["data"]["speedup"]  # timed: its speed-up too
    ort = ort_speedup((shared / "reports/tiny/runtime.md").read_text(), 2)
    assert ort.startswith(f"{speedup:.2f}×"), (ort, speedup)  # the same number as runtime.md's last row, ORT 1 thread
    table = run([DVC, "metrics", "show"], cwd=shared).stdout
    assert max(len(line) for line in table.splitlines()) <= 120
    assert all("-" not in line.split()[:-1] for line in table.splitlines())  # a dash only for speed not measured
    plots = json.loads(run([DVC, "plots", "show", "--json"], cwd=shared).stdout)["data"]
    images = [name for name, items in plots.items() if items and items[0]["type"] == "image"]
    assert "reports/tiny/generations.png" in images and "reports/papers/pareto.png" in images
    accuracy = plots["tiny: accuracy"][0]["content"]
    assert accuracy["encoding"]["y"]["title"] == "test accuracy (%)"
    assert accuracy["encoding"]["x"]["title"] == "generation" and accuracy["encoding"]["x"]["axis"]["tickMinStep"] == 1
    assert all(1 < float(d["accuracy_percent"]) <= 100 for d in accuracy["data"]["values"])  # percent, as in the PNGs
    efficiency = plots["tiny: efficiency"][0]["content"]
    assert efficiency["encoding"]["color"]["field"] == "series"  # one colour per line, named in words
    lines = {(d.get("field") or "") for d in efficiency["data"]["values"]}
    assert lines == {"synaptic_efficiency", "cluster_efficiency", "mac_reduction"}


@pytest.mark.slow
def test_snakemake_report_holds_the_tables_and_figures(shared):
    result = run([SNAKEMAKE, "--report", "report.html", "-c1"], cwd=shared, timeout=900)
    html = (shared / "report.html").read_text()
    for name in ("generations.png", "generations.csv", "summary.json", "runtime.png", "pareto.png",
                 "stressednets_table1.csv", "features_tsne.png"):
        assert name in html, name
    for caption in ("synthesized network", "Measured inference speed", "Pareto front"):
        assert caption in html, caption
    assert "Traceback" not in result.stderr


def test_a_mistyped_target_is_one_line(tmp_path):
    project = make_project(tmp_path / "p", git=False)
    for target in ("reports/tny/generations.md", "results/tiny/gen9/model.pt"):
        result = run([SNAKEMAKE, "-n", "-c1", target], cwd=project, check=False)
        out = result.stdout + result.stderr
        assert result.returncode != 0 and "InputFunctionException" not in out and "Traceback" not in out, out
        assert re.search(rf"No rule to produce {re.escape(target)}", out), out


def test_the_repository_declares_a_default_remote_and_keeps_reports_in_git():
    config = (ROOT / ".dvc" / "config").read_text()
    assert re.search(r"remote = local", config) and "url = ../../evosynth-dvc-remote" in config
    outs = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]["papers"]["outs"]
    assert outs and all(isinstance(o, dict) and list(o.values())[0] == {"cache": False} for o in outs)
    assert "reports/index.md" in [next(iter(o)) for o in outs]


def test_a_paper_experiment_is_rendered_on_request(tmp_path):
    render = [sys.executable, str(ROOT / "workflow/scripts/render_dvc.py"), "--params", str(ROOT / "params.yaml"),
              "--root", str(tmp_path)]
    run([*render, "--with", "cluster_alexnet_cifar10"], cwd=ROOT)
    stages = yaml.safe_load((tmp_path / "pipelines/cluster_alexnet_cifar10/dvc.yaml").read_text())["stages"]
    assert "report-cluster_alexnet_cifar10" in stages and "stress_train-cluster_alexnet_cifar10-gen0" in stages
    # its dataset's preparation (after DVC's params slice of that file)
    assert list(yaml.safe_load((tmp_path / "pipelines/data/dvc.yaml").read_text())["stages"]) == [
        "params-data", "prepare-cifar10"]
    assert not (tmp_path / "pipelines/cluster_resnet56_cifar10").exists()  # only what was asked for
    root = yaml.safe_load((tmp_path / "dvc.yaml").read_text())
    assert root == yaml.safe_load((ROOT / "dvc.yaml").read_text())  # the default target is unchanged
