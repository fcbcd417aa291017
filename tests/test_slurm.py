"""Snakemake on a real SLURM cluster (one node on localhost, see slurm_cluster.py).

The SLURM profile gives the same artifacts as a local run, and a job cancelled
mid-training fails the run without costing the steps that had completed.
Skipped where SLURM cannot be installed or started (not root, no apt-get).
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
import subprocess
import time
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest
import torch

from conftest import BIN, TINY_PARAMS, engine_env, make_project, run
from slurm_cluster import SlurmCluster, SlurmJob, SlurmUnavailable, slurm_cluster

SNAKEMAKE = str(BIN / "snakemake")
PROFILE = "workflow/profiles/slurm"
#: The profile waits 10 s before its first status check, as suits a real cluster;
#: these jobs take about 8 s, so look sooner. Only the waiting changes.
FAST_CHECKS = ["--slurm-init-seconds-before-status-checks", "2"]
TRAINING = {"stress_train", "retrain"}
RULES = {"prepare", "stress_train", "evaluate", "encode", "synthesize", "retrain", "report"}


def one_generation(epochs: int = 1) -> dict:
    """The tiny experiment with a single offspring generation (8 jobs)."""
    params = copy.deepcopy(TINY_PARAMS)
    params["experiments"]["tiny"]["generations"] = 1
    params["experiments"]["tiny"]["train"]["epochs"] = epochs
    return params


@pytest.fixture(scope="module")
def cluster() -> Iterator[SlurmCluster]:
    stack = ExitStack()
    try:
        running = stack.enter_context(slurm_cluster())
    except SlurmUnavailable as exc:
        pytest.skip(f"no SLURM cluster here: {exc}")
    with stack:
        yield running


@pytest.fixture(scope="module")
def local_project(tmp_path_factory) -> Path:
    project = make_project(tmp_path_factory.mktemp("local") / "p", one_generation(), git=False)
    run([SNAKEMAKE, "-c2"], cwd=project)
    return project


def _rule(job: SlurmJob) -> str:
    return job.comment.removeprefix("rule_").split("_wildcards_")[0]


def _submitted(cluster: SlurmCluster, output: str) -> list[SlurmJob]:
    """The SLURM jobs of one Snakemake run, found by the ids it printed."""
    ids = set(re.findall(r"submitted with SLURM jobid (\d+)", output))
    return [job for job in cluster.jobs() if job.id in ids]


def _job_counts(output: str) -> dict[str, int]:
    """Snakemake's 'Job stats' table: how many jobs of each rule a run planned."""
    table = output.split("Job stats:", 1)[1].split("\n\n", 1)[0]
    return {rule: int(n) for rule, n in re.findall(r"^(\w+)\s+(\d+)$", table, re.M) if rule != "total"}


def _snapshot(project: Path) -> dict[str, tuple[int, int, str]]:
    """Inode, mtime and sha256 of every file under data/ and results/."""
    files = sorted(p for pattern in ("data/**/*", "results/**/*") for p in project.glob(pattern) if p.is_file())
    return {str(p.relative_to(project)): (p.stat().st_ino, p.stat().st_mtime_ns,
                                          hashlib.sha256(p.read_bytes()).hexdigest()) for p in files}


def _resources(dry_run: str) -> dict[str, str]:
    """rule -> its 'resources:' line in a dry run."""
    return dict(re.findall(r"^rule (\w+):\n(?:    .*\n)*?    resources: (.*)$", dry_run, re.M))


@pytest.mark.parametrize("profile, training", [("slurm", "cpus_per_task=2"), ("slurm-gpu", "cpus_per_task=4, gpu=1")])
def test_slurm_profiles_parse_and_give_training_more(tmp_path, profile, training):
    project = make_project(tmp_path / "p", one_generation(), git=False)
    dry = run([SNAKEMAKE, "--profile", f"workflow/profiles/{profile}", "-n"], cwd=project)
    resources = _resources(dry.stdout + dry.stderr)
    assert set(resources) == RULES | {"all"}
    for rule, line in resources.items():
        if rule in TRAINING:
            assert training in line and "runtime=120" in line, (rule, line)
        else:
            assert "cpus_per_task=1" in line and "runtime=15" in line and "gpu" not in line, (rule, line)


@pytest.mark.slow
@pytest.mark.slurm
def test_slurm_run_gives_the_artifacts_of_a_local_run(cluster, local_project, tmp_path):
    project = make_project(tmp_path / "p", one_generation(), git=False)
    result = run([SNAKEMAKE, "--profile", PROFILE, *FAST_CHECKS], cwd=project)
    jobs = _submitted(cluster, result.stdout + result.stderr)
    assert sorted(_rule(job) for job in jobs) == sorted([*RULES, "evaluate"])  # evaluate: gen0 and gen1
    assert all(job.state == "COMPLETED" for job in jobs), jobs
    assert all(job.cpus == (2 if _rule(job) in TRAINING else 1) for job in jobs), jobs
    for g in (0, 1):
        gen, local = project / f"results/tiny/gen{g}", local_project / f"results/tiny/gen{g}"
        assert json.loads((gen / "metrics.json").read_text()) == json.loads((local / "metrics.json").read_text())
        masks = torch.load(gen / "model.pt", weights_only=True)["masks"]
        local_masks = torch.load(local / "model.pt", weights_only=True)["masks"]
        assert masks.keys() == local_masks.keys()
        assert all(torch.equal(masks[k], local_masks[k]) for k in masks)


def _wait_for_training(cluster: SlurmCluster, log: Path, snakemake: subprocess.Popen, out: Path,
                       epochs: int) -> SlurmJob:
    """The running retrain job, once its log shows the first of its epochs done."""
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and snakemake.poll() is None:
        running = [job for job in cluster.jobs() if job.state == "RUNNING" and _rule(job) == "retrain"]
        if running and log.is_file() and f"epoch 1/{epochs}:" in log.read_text():
            return running[0]
        time.sleep(0.2)
    raise AssertionError(f"retrain never seen training under SLURM (snakemake exit: {snakemake.poll()}):\n"
                         f"{out.read_text()[-3000:]}\n{cluster.jobs()}")


@pytest.mark.slow
@pytest.mark.slurm
def test_cancelled_training_fails_the_run_and_a_rerun_keeps_completed_steps(cluster, tmp_path):
    epochs = 40  # about 8 s of training: time to cancel it halfway
    project = make_project(tmp_path / "p", one_generation(epochs), git=False)
    log, out = project / "logs/tiny/gen1/retrain.log", tmp_path / "first_run.log"
    with open(out, "w") as sink:
        first = subprocess.Popen([SNAKEMAKE, "--profile", PROFILE, *FAST_CHECKS], cwd=project, env=engine_env(),
                                 stdout=sink, stderr=subprocess.STDOUT)
    try:
        job = _wait_for_training(cluster, log, first, out, epochs)
        subprocess.run(["scancel", job.id], check=True, timeout=30)
        first.wait(timeout=300)
    finally:
        if first.poll() is None:
            first.kill()
            first.wait()
    output = out.read_text()
    assert first.returncode != 0, output
    assert f"SLURM-job '{job.id}' failed, SLURM status is: 'CANCELLED'" in output
    assert f"epoch {epochs}/{epochs}" not in log.read_text()  # stopped mid-training
    gen1 = project / "results/tiny/gen1"
    assert not [name for name in ("model.pt", "train_log.json", "retrain.provenance.json") if (gen1 / name).exists()]
    assert not list(project.glob("results/**/.*.tmp"))  # no half-written file either

    completed = _snapshot(project)
    assert {"results/tiny/gen0/model.pt", "results/tiny/gen1/offspring.pt"} <= completed.keys()
    rerun = run([SNAKEMAKE, "--profile", PROFILE, *FAST_CHECKS], cwd=project)
    counts = _job_counts(rerun.stdout + rerun.stderr)
    assert counts["retrain"] == 1 and not {"prepare", "stress_train", "encode", "synthesize"} & counts.keys(), counts
    after = _snapshot(project)
    assert {path: after[path] for path in completed} == completed  # not one completed artifact rewritten
    assert (gen1 / "model.pt").is_file() and (project / "reports/tiny/generations.md").is_file()
