"""The engines hand over (docs/engines.md): a project DVC finished is finished for Snakemake, and back.

End to end on the tiny project, from a fresh clone: every file carries clone-time
(or pull-time) modification times and Snakemake has no metadata, so without the
hand-over Snakemake would rerun the DAG DVC has just run.
"""

from __future__ import annotations

import copy
import json
import re

import pytest
import yaml
from conftest import BIN, TINY_PARAMS, make_project, run, write_params

DVC, SNAKEMAKE, EVOSYNTH = str(BIN / "dvc"), str(BIN / "snakemake"), str(BIN / "evosynth")
SLURM = ["--profile", "workflow/profiles/slurm"]


def _params() -> dict:
    params = copy.deepcopy(TINY_PARAMS)
    params["experiments"]["tiny"]["environment"]["factor"] = 0.6  # asymmetric: not the default 0.5
    return params


def _planned(project, *options: str) -> dict[str, int]:
    """Jobs per rule a dry run of the default target plans (empty: nothing to do)."""
    out = run([SNAKEMAKE, "-n", *options], cwd=project)
    text = out.stdout + out.stderr
    if "Nothing to be done" in text:
        return {}
    table = text.split("Job stats:", 1)[1].split("\n\n", 1)[0]
    return {rule: int(n) for rule, n in re.findall(r"^(\w+)\s+(\d+)$", table, re.M) if rule != "total"}


@pytest.fixture(scope="module")
def clone(tmp_path_factory):
    """A fresh clone of a project DVC ran and pushed, its cached files pulled: DVC has nothing to do."""
    parent = tmp_path_factory.mktemp("handover")
    origin = make_project(parent / "origin", _params())
    run([DVC, "repro"], cwd=origin)
    run(["git", "add", "-A"], cwd=origin)
    run(["git", "commit", "-qm", "run"], cwd=origin)
    run([DVC, "push"], cwd=origin)
    project = parent / "clone"  # beside origin: the default remote (../../evosynth-dvc-remote) is shared
    run(["git", "clone", "-q", str(origin), str(project)], cwd=parent)
    run([DVC, "pull"], cwd=project)
    assert "Running stage" not in run([DVC, "repro"], cwd=project).stdout  # a complete `dvc repro`
    return project


@pytest.mark.slow
def test_after_dvc_the_handover_leaves_snakemake_nothing_to_do_locally_and_on_slurm(clone):
    before = _planned(clone)
    # the failure the hand-over removes: the records in git are older than src/ in a fresh clone
    assert before.get("code") and before.get("stress_train") == 1, before
    refused = run([EVOSYNTH, "handover", "--to", "dvc"], cwd=clone, check=False)  # Snakemake has not finished
    assert refused.returncode == 1 and "Snakemake has not finished" in refused.stderr, refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1
    models = {p: p.read_bytes() for p in clone.glob("results/**/model.pt")}
    run([EVOSYNTH, "handover", "--to", "snakemake"], cwd=clone)
    assert _planned(clone) == {} and _planned(clone, *SLURM) == {}
    ran = run([SNAKEMAKE, "-c1"], cwd=clone)
    assert "Nothing to be done" in ran.stdout + ran.stderr
    assert {p: p.read_bytes() for p in clone.glob("results/**/model.pt")} == models
    # a model rewritten with the same bytes (dvc checkout): its checksum, recorded up to the profile's 1 GB, clears it
    model = clone / "results/tiny/gen0/model.pt"
    assert model.stat().st_size > 1_000_000  # beyond Snakemake's own 1 MB
    model.write_bytes(model.read_bytes())
    assert _planned(clone) == {}
    assert json.loads(run([DVC, "status", "--json"], cwd=clone).stdout) == {}


@pytest.mark.slow
def test_after_snakemake_the_handover_leaves_dvc_nothing_to_do(clone):
    run([EVOSYNTH, "handover", "--to", "snakemake"], cwd=clone)  # (again: the order of the tests is free)
    params = _params()
    params["experiments"]["tiny"]["environment"]["factor"] = 0.7
    write_params(clone / "params.yaml", params)
    planned = _planned(clone)  # Snakemake's params trigger, from the metadata the hand-over wrote
    assert planned.get("synthesize") == 2 and "stress_train" not in planned and "code" not in planned, planned
    refused = run([EVOSYNTH, "handover", "--to", "snakemake"], cwd=clone, check=False)  # DVC has not run it
    assert refused.returncode == 1 and "DVC has not finished" in refused.stderr, refused.stderr
    run([SNAKEMAKE, "-c2"], cwd=clone)
    assert json.loads(run([DVC, "status", "--json"], cwd=clone).stdout)  # dvc.lock names the old files
    run([EVOSYNTH, "handover", "--to", "dvc"], cwd=clone)
    assert json.loads(run([DVC, "status", "--json"], cwd=clone).stdout) == {}
    # DVC's params slice follows params.yaml, and its lock records what Snakemake wrote
    assert json.loads((clone / "pipelines/tiny/params.json").read_text())["experiments"]["tiny"]["environment"][
        "factor"] == 0.7
    lock = yaml.safe_load((clone / "pipelines/tiny/dvc.lock").read_text())["stages"]["evaluate-tiny-gen1"]
    metrics = next(o for o in lock["outs"] if o["path"] == "results/tiny/gen1/metrics.json")
    import hashlib

    assert metrics["md5"] == hashlib.md5((clone / "results/tiny/gen1/metrics.json").read_bytes()).hexdigest()
    assert json.loads((clone / "results/tiny/gen1/metrics.json").read_text())["factor"] == 0.7
    assert "Running stage" not in run([DVC, "repro"], cwd=clone).stdout
    assert _planned(clone) == {}
