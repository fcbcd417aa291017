"""The two engines: dvc.yaml is fresh, DVC and Snakemake agree, and both really run."""

from __future__ import annotations

import copy
import json
import re
import sys
from pathlib import Path

import pytest
import torch
import yaml
from conftest import BIN, ROOT, TINY_PARAMS, TINY_REPORTS, make_project, run, write_params

from evosynth.pipeline.stage import param_values

SNAKEMAKE = str(BIN / "snakemake")
DVC = str(BIN / "dvc")


def _three_experiments() -> dict:
    params = copy.deepcopy(TINY_PARAMS)
    other = copy.deepcopy(params["experiments"]["tiny"])
    other.update(generations=1, init="scratch", environment={"factor": 0.8, "mode": "literal"}, ancestor="tiny")
    sexual = copy.deepcopy(params["experiments"]["tiny"])
    sexual.update(generations=2, method="sexual", population={"size": 2})
    params["experiments"].update(other=other, sexual=sexual)
    params["baselines"] = {"pruned": {"follow": "tiny", "method": "l1_filter"}}
    return params


def dvc_dag(project: Path, root: str | None = None) -> set[tuple]:
    """(step, cmd, deps, outs) of every stage (or of stage ``root`` and all it depends on), as DVC reads dvc.yaml.

    Two parts are DVC's only, checked here, then left out: the code stages' dependency on
    params.yaml (it makes them validate the file before any other stage runs;
    render_dvc.DVC_ONLY_DEPS), and each dvc.yaml's params slice (render_dvc._slice_params):
    a stage that copies the file's keys from params.yaml into its params.json (beside a file under
    pipelines/, pipelines/params.json for the root file), which the file's stages track their keys
    in, exactly their own keys, each holding params.yaml's value.
    """
    import networkx as nx
    from dvc.dependency.param import ParamsDependency
    from dvc.repo import Repo

    with Repo(str(project)) as repo:
        graph = repo.index.graph  # edges point from a stage to the stages it depends on
        stages = list(graph)
        if root is not None:
            (top,) = [s for s in stages if s.name == root]
            stages = [top, *nx.descendants(graph, top)]
        jobs = set()
        raw = yaml.safe_load((project / "params.yaml").read_text())
        for stage in stages:
            files = [d.def_path for d in stage.deps if not isinstance(d, ParamsDependency)]
            slicer = stage.name.startswith("params-")
            assert ("params.yaml" in files) == stage.name.startswith(("code-", "params-")), stage.name
            assert all(o.persist == stage.name.startswith(("code-", "params-")) for o in stage.outs), stage.name
            for dep in (d for d in stage.deps if isinstance(d, ParamsDependency)):
                root = stage.path_in_repo == "dvc.yaml"
                folder = "pipelines" if root else stage.path_in_repo.rsplit("/", 1)[0]
                assert dep.def_path == f"{folder}/params.json", stage
                # the slice holds the params.yaml values of the stage's keys
                sliced = json.loads((project / dep.def_path).read_text()) if (project / dep.def_path).exists() else None
                keys = tuple(dep.params)
                assert sliced is None or param_values(sliced, keys) == param_values(raw, keys), stage
                assert len(param_values(raw, keys)) == len(keys), stage
                slicer_name = "params-root" if root else f"params-{stage.path_in_repo.split('/')[1]}"
                assert slicer_name in {s.name for s in graph.successors(stage)}, stage
            if not slicer:
                jobs.add((stage.name.split("-")[0], stage.cmd,
                          frozenset(files) - {"params.yaml"}, frozenset(o.def_path for o in stage.outs)))
        return jobs


def without_raw(dag: set[tuple], root: str) -> set[tuple]:
    """A DAG with a dataset's raw folder left out of the deps: DVC lists the folder, Snakemake the files in
    it (``workflow/rules/common.smk: _files``); the rest must agree."""
    inside = lambda dep: dep == root or dep.startswith(root.rstrip("/") + "/")  # noqa: E731
    return {(step, cmd, frozenset(d for d in deps if not inside(d)), outs) for step, cmd, deps, outs in dag}


#: Rules that only name a set of files (no command): targets, not jobs of the DAG.
TARGET_RULES = ("all", "pickset")


def snakemake_dag(project: Path, *targets: str) -> set[tuple]:
    """(rule, shell command, inputs, outputs) of every job of a forced dry run (of ``targets``, default all)."""
    out = run([SNAKEMAKE, "-n", "--forceall", "-c1", *targets], cwd=project).stdout
    jobs = set()
    for block in re.split(r"\n(?=\[.*\]\nrule |rule )", out):
        match = re.search(r"^rule (\w+):", block, re.M)
        if not match or match.group(1) in TARGET_RULES:
            continue
        fields = dict(re.findall(r"^    (input|output): (.*)$", block, re.M))
        # Snakemake hands each job's threads to torch; the command after it is dvc.yaml's
        threads, shell = re.search(r"^Shell command: EVOSYNTH_THREADS=(\d+) (.*?)(?: 2> \S+)?$", block, re.M).groups()
        assert threads == "1", block  # -c1 caps every job's threads at 1
        split = lambda key: frozenset(fields.get(key, "").split(", ")) - {""}  # noqa: E731
        jobs.add((match.group(1), shell, split("input"), split("output")))
    return jobs


def test_snakemake_threads_reach_torch_and_the_timing_rule_has_the_machine_to_itself(tmp_path):
    project = make_project(tmp_path / "p", {**copy.deepcopy(TINY_PARAMS), **copy.deepcopy(TINY_REPORTS)}, git=False)
    out = run([SNAKEMAKE, "-n", "--forceall", "-c2"], cwd=project).stdout
    threads = {}
    for block in re.split(r"\n(?=\[.*\]\nrule |rule )", out):
        rule = re.search(r"^rule (\w+):", block, re.M)
        shell = re.search(r"^Shell command: EVOSYNTH_THREADS=(\d+) evosynth ", block, re.M)
        if rule and rule.group(1) != "all":
            assert shell, block
            threads.setdefault(rule.group(1), set()).add(int(shell.group(1)))
    for timing in ("runtime", "picks"):  # every core of -c2: no job runs beside the timings
        assert threads.pop(timing) == {2}, timing
    assert set().union(*threads.values()) == {1}


def test_committed_dvc_yaml_is_fresh():
    result = run([sys.executable, "workflow/scripts/render_dvc.py", "--check"], cwd=ROOT, check=False)
    assert result.returncode == 0, result.stderr


def test_dvc_and_snakemake_dags_agree(tmp_path):
    project = make_project(tmp_path / "p", _three_experiments(), git=False)
    run(["git", "init", "-q"], cwd=project)
    run([DVC, "init", "-q"], cwd=project)
    dvc, snake = dvc_dag(project), snakemake_dag(project)
    # one code stage per step module (prepare, train, encode, synthesize, evaluate, report, prune) + prepare
    # + tiny (2 generations) + other (1, from tiny's ancestor) + sexual (1 ancestor, 2 generations
    # of 2 members) + a baseline following tiny (2 generations of prune, retrain, evaluate; report)
    assert len(dvc) == 7 + 1 + (1 + 1 + 2 * 4 + 1) + (4 + 1) + (1 + 1 + 2 * 2 * 4 + 1) + (2 * 3 + 1)
    other_encode = [j for j in dvc if j[0] == "encode" and "results/other/gen1/genome.pt" in j[3]]
    assert "results/tiny/gen0/model.pt" in other_encode[0][2]
    sexual_encode = [j for j in dvc if j[0] == "encode" and "results/sexual/gen2/m1/genome.pt" in j[3]]
    assert len(sexual_encode) == 1 and {
        "results/sexual/gen1/m0/model.pt", "results/sexual/gen1/m1/model.pt", "results/sexual/gen1/m1/metrics.json"
    } <= sexual_encode[0][2]
    assert {j[0] for j in dvc} == {
        "code", "prepare", "stress_train", "encode", "synthesize", "retrain", "evaluate", "report", "prune"
    }
    assert dvc == snake


def _upstream_of_root(project: Path) -> set[str]:
    """Names of the stages plain `dvc repro` runs: the root dvc.yaml's and everything they depend on."""
    import networkx as nx
    from dvc.repo import Repo

    with Repo(str(project)) as repo:
        graph = repo.index.graph  # edges point from a stage to the stages it depends on
        roots = [stage for stage in graph if stage.path_in_repo == "dvc.yaml"]
        return {stage.name for root in roots for stage in {root, *nx.descendants(graph, root)}}


def test_each_experiment_has_its_own_lock_and_named_targets_stay_out_of_the_default(tmp_path):
    params = _three_experiments()
    params["datasets"]["cifar"] = {"source": "cifar10", "root": str(tmp_path / "absent")}
    params["experiments"]["named"] = {**copy.deepcopy(params["experiments"]["tiny"]), "dataset": "cifar",
                                      "default": False}
    project = make_project(tmp_path / "p", params, git=False)
    run(["git", "init", "-q"], cwd=project)
    run([DVC, "init", "-q"], cwd=project)
    files = sorted(p.relative_to(project).as_posix() for p in project.glob("**/dvc.yaml"))
    # an experiment with default: false is not rendered until asked for: DVC collects every dvc.yaml
    assert files == ["dvc.yaml", *(f"pipelines/{n}/dvc.yaml" for n in ("code", "other", "pruned", "sexual", "tiny"))]
    default = {j for j in dvc_dag(project)}
    upstream = {name for name in _upstream_of_root(project) if not name.startswith("params-")}  # DVC's slices
    assert len(default) == len(upstream) and not any("named" in j[1] or "cifar" in j[1] for j in default)
    status = run([DVC, "status"], cwd=project).stdout
    stages = [line for line in status.splitlines() if line and not line[0].isspace()]  # "<stage>:" lines
    assert stages and not any("named" in s or "-cifar" in s for s in stages)
    # Snakemake's default target is the same set of jobs (the CIFAR-10 files are absent, and not needed)
    assert snakemake_dag(project) == default
    wrong = run([sys.executable, "workflow/scripts/render_dvc.py", "--with", "tiny"], cwd=project, check=False)
    assert wrong.returncode == 2 and ("--with tiny: not an experiment with default: false, evidence, pickset, probe nor curves;"
                                      " allowed: named") in wrong.stderr
    run([sys.executable, "workflow/scripts/render_dvc.py", "--with", "named"], cwd=project)
    everything = {j for j in dvc_dag(project)}
    assert len(everything) == len(default) + (1 + 1 + 1 + 2 * 4 + 1)  # named's prepare, chain and report
    assert (project / "pipelines/named/dvc.yaml").is_file() and (project / "pipelines/data/dvc.yaml").is_file()
    assert not any("named" in name or "cifar" in name for name in _upstream_of_root(project))
    check = run([sys.executable, "workflow/scripts/render_dvc.py", "--check"], cwd=project, check=False)
    assert check.returncode == 0, check.stderr  # once rendered, it stays rendered (and checked)
    params["experiments"].pop("named")
    write_params(project / "params.yaml", params)
    check = run([sys.executable, "workflow/scripts/render_dvc.py", "--check"], cwd=project, check=False)
    assert check.returncode == 1 and "pipelines/named/dvc.yaml is stale" in check.stderr
    run([sys.executable, "workflow/scripts/render_dvc.py"], cwd=project)
    assert not (project / "pipelines/named/dvc.yaml").exists()


def test_snakemake_lint_is_clean(tmp_path):
    project = make_project(tmp_path / "p", git=False)
    result = run([SNAKEMAKE, "--lint"], cwd=project, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def test_snakemake_refuses_bad_params_with_the_key(tmp_path):
    project = make_project(tmp_path / "p", git=False)
    params = copy.deepcopy(TINY_PARAMS)
    params["experiments"]["tiny"]["environment"]["factor"] = 2
    write_params(project / "params.yaml", params)
    result = run([SNAKEMAKE, "-n", "-c1"], cwd=project, check=False)
    assert result.returncode != 0
    assert "experiments.tiny.environment.factor: 2 is out of range; allowed: 0 < value <= 1" in result.stdout + result.stderr


def _masks(path: Path) -> dict[str, torch.Tensor]:
    return torch.load(path, weights_only=True)["masks"]


def _metrics(project: Path, gens: int = 2) -> list[dict]:
    return [json.loads((project / f"results/tiny/gen{g}/metrics.json").read_text()) for g in range(gens + 1)]


def _tiny_with_reports() -> dict:
    return {**copy.deepcopy(TINY_PARAMS), **copy.deepcopy(TINY_REPORTS)}


@pytest.fixture(scope="module")
def dvc_project(tmp_path_factory) -> Path:
    project = make_project(tmp_path_factory.mktemp("dvc") / "p", _tiny_with_reports())
    run([DVC, "repro"], cwd=project)
    return project


@pytest.mark.slow
def test_dvc_repro_runs_every_generation(dvc_project):
    metrics = _metrics(dvc_project)
    assert [m["generation"] for m in metrics] == [0, 1, 2]
    assert metrics[0]["synaptic_efficiency"] == 1.0
    assert metrics[2]["synaptic_efficiency"] > 3.0  # F = 0.5 twice: about 4x
    for g, m in enumerate(metrics[1:], start=1):
        synthesis = json.loads((dvc_project / f"results/tiny/gen{g}/synthesis.json").read_text())
        # budget mode: F delivered as measured after keep_minimum and compaction (docs/method.md §3)
        assert abs(synthesis["realised_ratio"] - 0.5) <= 0.02 * 0.5
        # compaction then removes the synapses of filters and neurons left with no input or no output
        assert 0.4 < m["synapse_ratio_vs_parent"] <= 0.51
    for g in (1, 2):  # synthesis never revives what the parent lost
        child, parent = _masks(dvc_project / f"results/tiny/gen{g}/model.pt"), _masks(dvc_project / f"results/tiny/gen{g-1}/model.pt")
        assert all(not (child[k] & ~parent[k]).any() for k in child)
    report = (dvc_project / "reports/tiny/generations.md").read_text()
    assert "| 2 |" in report and (dvc_project / "reports/tiny/generations.png").stat().st_size > 1000
    status = run([DVC, "status"], cwd=dvc_project).stdout
    assert "up to date" in status


@pytest.mark.slow
def test_report_stages_run_end_to_end(dvc_project):
    reports = dvc_project / "reports"
    index = (reports / "index.md").read_text()
    for target in ("papers/stressednets_table1.md", "papers/pareto.png", "papers/features_tsne.png", "tiny/runtime.png"):
        assert target in index and (reports / target).stat().st_size > 200
    table1 = (reports / "papers/stressednets_table1.csv").read_text().splitlines()
    assert sum(",quoted," in line for line in table1) == 8
    assert any(",measured," in line and line.startswith("tiny (generation") for line in table1)
    assert (dvc_project / "results/tiny/gen2/model.onnx").stat().st_size > 1000
    runtime = json.loads((reports / "tiny/runtime.json").read_text())
    assert [g["generation"] for g in runtime["generations"]] == [0, 1, 2] and runtime["host"]["cores"]
    timing = runtime["generations"][2]["onnxruntime_1thread"]  # interleaved in rounds, the samples kept
    assert timing["rounds"] == 10 and len(timing["rounds_ms"]) == 10
    assert "onnxruntime_1thread_b256" in runtime["generations"][0]
    picks = (reports / "picks/runtime.md").read_text()  # each run's pick beside its ancestor, one process
    assert "| tiny |" in picks and "| tiny_l1 |" in picks and "batch-256" in picks
    baseline = json.loads((dvc_project / "results/tiny_l1/gen2/metrics.json").read_text())
    followed = json.loads((dvc_project / "results/tiny/gen2/metrics.json").read_text())
    assert abs(baseline["synapses"] - followed["synapses"]) < 0.05 * followed["synapses"]


@pytest.mark.slow
def test_snakemake_produces_the_same_artifacts(dvc_project, tmp_path):
    project = make_project(tmp_path / "snake", _tiny_with_reports(), git=False)
    run([SNAKEMAKE, "-c2"], cwd=project)
    assert _metrics(project) == _metrics(dvc_project)
    for g in range(3):
        a, b = _masks(project / f"results/tiny/gen{g}/model.pt"), _masks(dvc_project / f"results/tiny/gen{g}/model.pt")
        assert all(torch.equal(a[k], b[k]) for k in a)
    assert (project / "reports/tiny/generations.csv").read_text() == (dvc_project / "reports/tiny/generations.csv").read_text()


@pytest.mark.slow
def test_dvc_metrics_diff_across_commits_shows_a_factor_change(dvc_project):
    run(["git", "add", "-A"], cwd=dvc_project)
    run(["git", "commit", "-qm", "F = 0.5"], cwd=dvc_project)
    params = yaml.safe_load((dvc_project / "params.yaml").read_text())
    params["experiments"]["tiny"]["environment"]["factor"] = 0.3
    write_params(dvc_project / "params.yaml", params)
    repro = run([DVC, "repro"], cwd=dvc_project).stdout
    assert "Stage 'pipelines/tiny/dvc.yaml:stress_train-tiny-gen0' didn't change, skipping" in repro  # only what F touches reruns
    summaries = json.loads(run([DVC, "metrics", "diff", "HEAD", "--json"], cwd=dvc_project).stdout)
    assert set(summaries) <= {"reports/tiny/summary.json", "reports/tiny_l1/summary.json"}
    assert "reports/tiny/summary.json" in summaries  # the experiment's one metrics file changed
    # a generation's own metrics file is plot data, not a declared metric: diff it by name
    gens = [f"results/tiny/gen{g}/metrics.json" for g in (1, 2)]
    diff = json.loads(run([DVC, "metrics", "diff", "HEAD", "--json", "--targets", *gens], cwd=dvc_project).stdout)
    gen2 = diff["results/tiny/gen2/metrics.json"]
    assert gen2["synapses"]["new"] < gen2["synapses"]["old"]
    assert gen2["synaptic_efficiency"]["new"] > gen2["synaptic_efficiency"]["old"]
    assert diff["results/tiny/gen1/metrics.json"]["factor"] == {"old": 0.5, "new": 0.3, "diff": pytest.approx(-0.2)}
    plots = run([DVC, "plots", "diff", "HEAD", "--json"], cwd=dvc_project).stdout
    assert "tiny: efficiency" in plots
