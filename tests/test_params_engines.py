"""A bad value in params.yaml stops either engine before it deletes anything.

DVC removes a stage's outputs before it runs the stage, so the check must come
first: every stage depends on a code stage, and in dvc.yaml the code stages
depend on params.yaml (their records persist), so they rerun, validate and fail
before any other stage of a changed params file. Snakemake validates when it
parses the workflow. The outputs here are placeholders committed as if a run
had made them: nothing trains.
"""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path

import pytest
import yaml
from conftest import BIN, TINY_PARAMS, make_project, run

from evosynth.pipeline.params import validate_params
from evosynth.pipeline.plan import build_plan

DVC, SNAKEMAKE = str(BIN / "dvc"), str(BIN / "snakemake")
BASE = yaml.safe_dump(TINY_PARAMS, sort_keys=False)

#: (id, params.yaml text, what the one-line error says)
BAD = [
    ("F NaN", BASE.replace("factor: 0.5", "factor: .nan"), "experiments.tiny.environment.factor: nan is not a finite number"),
    ("generations 2.0", BASE.replace("generations: 2", "generations: 2.0"), "experiments.tiny.generations: expected integer"),
    ("experiment named by a number", BASE + "  7:\n    dataset: digits\n",
     "experiments: 7 is not a valid name"),
    ("duplicate key", BASE.replace("lr: 0.01", "lr: 0.01\n      lr: 0.1"), "duplicate key"),
]


def _placeholders(project: Path, with_code: bool) -> dict[str, bytes]:
    """Write every output of the tiny plan (the code records excepted unless ``with_code``)."""
    written = {}
    for step in build_plan(validate_params(copy.deepcopy(TINY_PARAMS))):
        if step.step == "code" and not with_code:
            continue
        for out in step.outs:
            path = project / out
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(f"placeholder of {out}\n".encode())
            written[out] = path.read_bytes()
    return written


def _slices(project: Path) -> list[str]:
    """Run the params slice stage of every dvc.yaml (DVC's copy of the keys its stages track)."""
    ran = []
    for path in [project / "dvc.yaml", *sorted(project.glob("pipelines/*/dvc.yaml"))]:
        name = "params-root" if path.parent == project else f"params-{path.parent.name}"
        if name in yaml.safe_load(path.read_text())["stages"]:
            run([DVC, "repro", "-s", f"{path.relative_to(project).as_posix()}:{name}"], cwd=project)
            ran.append(name)
    return ran


def _outputs(project: Path) -> dict[str, bytes]:
    """Every output of the tiny plan that exists, with its bytes."""
    steps = build_plan(validate_params(copy.deepcopy(TINY_PARAMS)))
    return {out: (project / out).read_bytes() for step in steps for out in step.outs if (project / out).exists()}


@pytest.fixture(scope="module")
def dvc_project(tmp_path_factory) -> Path:
    """The tiny project with real code records and placeholder outputs, all committed to dvc.lock."""
    project = make_project(tmp_path_factory.mktemp("contract") / "p")
    run([DVC, "repro", "pipelines/code/dvc.yaml"], cwd=project)
    _slices(project)
    _placeholders(project, with_code=False)
    run([DVC, "commit", "-f"], cwd=project)
    assert "up to date" in run([DVC, "status"], cwd=project).stdout
    run(["git", "add", "-A"], cwd=project)
    run(["git", "commit", "-qm", "placeholders"], cwd=project)
    return project


def _running(stdout: str) -> list[str]:
    return re.findall(r"Running stage '(?:[^']*:)?([^']+)'", stdout)


def test_a_valid_edit_reruns_only_the_code_stages(dvc_project: Path):
    before = _outputs(dvc_project)
    assert len(before) == sum(len(s.outs) for s in build_plan(validate_params(copy.deepcopy(TINY_PARAMS))))
    (dvc_project / "params.yaml").write_text(BASE + "# a comment changes the file, not one value\n")
    repro = run([DVC, "repro"], cwd=dvc_project)
    ran = _running(repro.stdout)
    # the code stages and the params slices (params.yaml is a whole-file dependency of both), nothing else
    assert ran and all(name.startswith(("code-", "params-")) for name in ran), repro.stdout
    assert {n for n in ran if n.startswith("params-")} == {"params-root", "params-tiny"}, repro.stdout
    assert _outputs(dvc_project) == before  # the records are rewritten byte for byte
    assert "up to date" in run([DVC, "status"], cwd=dvc_project).stdout


def test_a_value_edit_makes_exactly_the_stages_tracking_it_stale(dvc_project: Path):
    """Stages track their keys in their file's params slice: a changed value reaches exactly its readers."""
    key = "experiments.tiny.train.lr"
    plan = build_plan(validate_params(copy.deepcopy(TINY_PARAMS)))
    readers = {s.name for s in plan if any(key == k or key.startswith(k + ".") for k in s.params)}
    assert readers and len(readers) < len([s for s in plan if s.step != "code"])
    try:
        (dvc_project / "params.yaml").write_text(BASE.replace("lr: 0.01", "lr: 0.02"))
        run([DVC, "repro", "pipelines/code/dvc.yaml"], cwd=dvc_project)
        assert _slices(dvc_project) == ["params-root", "params-tiny"]
        stale = json.loads(run([DVC, "status", "--json"], cwd=dvc_project).stdout)
        assert {name.rsplit(":", 1)[1] for name in stale} == readers
    finally:
        (dvc_project / "params.yaml").write_text(BASE)
        run([DVC, "repro", "pipelines/code/dvc.yaml"], cwd=dvc_project)
        _slices(dvc_project)
    assert "up to date" in run([DVC, "status"], cwd=dvc_project).stdout


@pytest.mark.parametrize("case", BAD, ids=[c[0] for c in BAD])
def test_dvc_repro_with_a_bad_value_deletes_nothing(dvc_project: Path, case):
    _, text, words = case
    before = _outputs(dvc_project)
    slices = {p: p.read_bytes() for p in dvc_project.glob("pipelines/**/params.json")}
    assert len(slices) == 2  # the root file's and the tiny experiment's
    (dvc_project / "params.yaml").write_text(text)
    try:
        result = run([DVC, "repro", "report-tiny"], cwd=dvc_project, check=False)
        assert result.returncode != 0
        assert words in result.stdout + result.stderr, result.stdout + result.stderr
        # only the stages that validate the file before any other may start: the code records, the slices
        assert not [n for n in _running(result.stdout) if not n.startswith(("code-", "params-"))], result.stdout
        assert _outputs(dvc_project) == before
        assert {p: p.read_bytes() for p in slices} == slices
    finally:
        (dvc_project / "params.yaml").write_text(BASE)


@pytest.mark.parametrize("case", BAD, ids=[c[0] for c in BAD])
def test_snakemake_with_a_bad_value_deletes_nothing(tmp_path: Path, case):
    _, text, words = case
    project = make_project(tmp_path / "p", git=False)
    before = _placeholders(project, with_code=True)
    (project / "params.yaml").write_text(text)
    result = run([SNAKEMAKE, "-c1", "--forceall"], cwd=project, check=False)
    assert result.returncode != 0
    assert words in result.stdout + result.stderr, result.stdout + result.stderr
    assert _outputs(project) == before


def test_snakemake_runs_only_what_params_yaml_says(tmp_path: Path):
    """The steps read params.yaml: a --config that would change Snakemake's view of it is refused."""
    project = make_project(tmp_path / "p", git=False)
    result = run([SNAKEMAKE, "-n", "-c1", "--config", "runtime={}"], cwd=project, check=False)
    assert result.returncode != 0
    assert "Snakemake's config differs from the file" in result.stdout + result.stderr
