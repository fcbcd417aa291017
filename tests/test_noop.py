"""A quiet no-op ``dvc repro`` (workflow/scripts/repro.py) and the side-by-side no-op benchmark, on small DVC projects."""

from __future__ import annotations

import sys

import pytest
import yaml
from conftest import BIN, ROOT, run

sys.path.insert(0, str(ROOT / "benchmarks"))
import noop_cost

DVC = str(BIN / "dvc")
QUIET = [sys.executable, str(ROOT / "workflow" / "scripts" / "repro.py")]
#: Two pipeline files as the project has them: the root dvc.yaml and one under pipelines/.
FILES = {"dvc.yaml": [(1, 1, 0)] * 3, "pipelines/a/dvc.yaml": [(3, 2, 2)] * 4}


@pytest.fixture(scope="module")
def twin(tmp_path_factory):
    return noop_cost.build_twin(tmp_path_factory.mktemp("noop") / "project", FILES, same_shape=True)


def test_the_twin_has_the_layout_it_was_built_from(twin):
    shapes = noop_cost.layout(twin)
    assert shapes["pipelines/a/dvc.yaml"] == FILES["pipelines/a/dvc.yaml"]
    assert shapes["dvc.yaml"] == [(2, 1, 0), *FILES["dvc.yaml"][1:]]  # its first stage also reads the other file


@pytest.mark.slow
def test_a_no_op_prints_one_line_for_the_unchanged_stages(twin):
    plain = run([DVC, "repro"], cwd=twin).stdout
    assert plain.count("didn't change, skipping") == 7  # what DVC prints itself: one line per stage
    quiet = run(QUIET, cwd=twin)
    assert "didn't change" not in quiet.stdout + quiet.stderr
    assert quiet.stdout.splitlines() == ["Data and pipelines are up to date.",
                                         "7 unchanged stages skipped in 2 pipeline files"]


@pytest.mark.slow
def test_stages_that_run_and_errors_still_print(twin):
    (twin / "in" / "0.txt").write_text("changed\n")  # the first stage of each file reads it
    out = run(QUIET, cwd=twin).stdout
    assert "Running stage 'pipelines/a/dvc.yaml:s0'" in out and "Running stage 's0'" in out
    assert "didn't change" not in out and out.rstrip().endswith("unchanged stages skipped in 2 pipeline files")
    dvc_yaml = twin / "pipelines" / "a" / "dvc.yaml"
    stages = yaml.safe_load(dvc_yaml.read_text())
    stages["stages"]["s3"]["cmd"] = "exit 3"
    dvc_yaml.write_text(yaml.safe_dump(stages, sort_keys=False))
    failed = run(QUIET, cwd=twin, check=False)
    assert failed.returncode != 0
    assert "failed to reproduce 'pipelines/a/dvc.yaml:s3'" in failed.stderr  # dvc repro -q would print nothing
    assert failed.stdout.splitlines()[-1] == "3 unchanged stages skipped in 1 pipeline file"  # s0-s2, before s3


@pytest.mark.slow
def test_the_benchmark_times_a_project_beside_its_twins(tmp_path, capsys):
    project = noop_cost.build_twin(tmp_path / "project", FILES, same_shape=False)
    assert noop_cost.main(["--project", str(project), "--repeats", "1"]) == 0
    out = capsys.readouterr().out
    for label in ("project: dvc repro", "project: workflow/scripts/repro.py", "trivial twin: dvc repro",
                  "same-shape twin: dvc repro", "project: dvc status"):
        assert f"| {label} |" in out
    assert "7 stages in 2 pipeline files" in out
    rows = {line.split(" | ")[0][2:]: line.split(" | ") for line in out.splitlines() if line.startswith("| project")}
    assert rows["project: dvc repro"][5].rstrip(" |") == "8"  # 7 skip lines and "up to date"
    assert rows["project: workflow/scripts/repro.py"][5].rstrip(" |") == "2"
