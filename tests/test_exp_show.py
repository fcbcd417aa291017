"""The readable experiment view (workflow/scripts/exp_show.py) on a tiny DVC project with one variant."""

from __future__ import annotations

import sys

import pytest
from conftest import BIN, ROOT, run

sys.path.insert(0, str(ROOT / "workflow" / "scripts"))
import exp_show

DVC = str(BIN / "dvc")
SCRIPT = [sys.executable, str(ROOT / "workflow" / "scripts" / "exp_show.py")]

PARAMS = """\
experiments:
  alpha:
    environment: {factor: 0.7, mode: budget}
    seed: 0
  beta:
    environment: {factor: 0.5, mode: budget}
    seed: 1
runtime: {repeats: 30}
"""
#: Writes each experiment's summary.json from its factor (alpha 0.7 -> accuracy 83, A-E 2.92).
STEP = """\
import json, os, yaml
params = yaml.safe_load(open("params.yaml"))
for name, spec in params["experiments"].items():
    os.makedirs(f"reports/{name}", exist_ok=True)
    f = spec["environment"]["factor"]
    summary = {"gen": 3, "accuracy": round(90 - 10 * f, 2), "A-E": round(f ** -3, 2), "MACs": 1000}
    json.dump(summary, open(f"reports/{name}/summary.json", "w"))
"""
PIPELINE = """\
stages:
  report:
    cmd: python step.py
    deps: [step.py]
    params: [experiments]
metrics:
- reports/alpha/summary.json
- reports/beta/summary.json
"""


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    path = tmp_path_factory.mktemp("exp") / "p"
    path.mkdir()
    for name, text in (("params.yaml", PARAMS), ("step.py", STEP), ("dvc.yaml", PIPELINE)):
        (path / name).write_text(text)
    run(["git", "init", "-q"], cwd=path)
    run([DVC, "init", "-q"], cwd=path)
    run([DVC, "repro", "-q"], cwd=path)
    run(["git", "add", "-A"], cwd=path)
    run(["git", "commit", "-qm", "base"], cwd=path)
    run([DVC, "exp", "run", "-q", "-n", "f045", "-S", "experiments.alpha.environment.factor=0.45"], cwd=path)
    run(["git", "checkout", "-q", "--", "."], cwd=path)  # the workspace back at the commit
    run([DVC, "checkout", "-q"], cwd=path)
    return path


@pytest.mark.slow
def test_the_view_shows_the_changed_param_and_the_metrics_it_moved(project):
    out = run(SCRIPT, cwd=project).stdout
    lines = out.splitlines()
    assert max(len(line) for line in lines) <= 100 and len(lines) <= 12, out
    header = lines[0].split()
    assert header[0] == "workspace" and header[-1] == "f045" and len(header) == 3
    rows = {line.split()[0]: line.split()[1:] for line in lines[1:]}
    assert rows["experiments.alpha.environment.factor"] == ["0.7", "0.7", "0.45"]
    assert "experiments.beta.seed" not in rows and "runtime.repeats" not in rows  # unchanged keys stay out
    assert "reports/alpha/summary.json" in rows and "reports/beta/summary.json" not in rows
    assert rows["accuracy"] == ["83", "83", "85.5"] and rows["A-E"] == ["2.92", "2.92", "10.97"]
    assert "MACs" not in rows and "gen" not in rows  # headline metrics only


@pytest.mark.slow
def test_an_asked_experiment_and_bad_input(project):
    out = run([*SCRIPT, "--experiment", "beta"], cwd=project).stdout
    assert "reports/beta/summary.json" in out and "reports/alpha/summary.json" in out
    bad = run([*SCRIPT, "--experiment", "gamma"], cwd=project, check=False)
    assert bad.returncode == 2 and bad.stdout == ""
    assert bad.stderr.strip() == "exp_show: error: --experiment: gamma not in params.yaml; allowed: alpha, beta"
    outside = run(SCRIPT, cwd=project.parent, check=False)
    assert outside.returncode == 2 and len(outside.stderr.strip().splitlines()) == 1, outside.stderr


def test_many_revisions_and_long_keys_stay_within_the_width():
    key = "experiments.a_very_long_experiment_name_indeed.training.schedule.rewind_epochs_at_each_generation"
    cols = [exp_show.Column(f"rev{i:02d}", {key: i, "experiments.x.seed": 0},
                            {"reports/x/summary.json": {"accuracy": 90.0 + i / 3, "speedup": 1.0}}) for i in range(12)]
    text = exp_show.render(cols, width=100)
    lines = text.splitlines()
    assert max(len(line) for line in lines) <= 100
    assert lines[-1].startswith("not shown (11, too wide): rev01, rev02") and lines[-1].endswith("…")
    assert lines[0].split() == ["rev00"]
    assert any(line.lstrip().startswith("…") and "rewind_epochs_at_each_generation" in line for line in lines)
    assert "experiments.x.seed" not in text  # the same everywhere
    assert exp_show.chosen(cols, [key], []) == ["a_very_long_experiment_name_indeed", "x"]  # a changed key, changed metrics
    same = [exp_show.Column(c.label, {"experiments.first.seed": 0, "experiments.second.seed": 1}, {}) for c in cols[:2]]
    assert exp_show.chosen(same, [], []) == ["first"]  # nothing differs: the first (default) experiment
