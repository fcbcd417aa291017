"""Snakemake on a real SLURM cluster (one node on localhost, see slurm_cluster.py).

The SLURM profile gives the same artifacts as a local run, and a job cancelled
mid-training fails the run without costing the steps that had completed.
Skipped where SLURM cannot be installed or started (not root, no apt-get).
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import re
import shutil
import subprocess
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest
import torch
from conftest import BIN, TINY_PARAMS, engine_env, make_project, run
from slurm_cluster import SlurmCluster, SlurmJob, SlurmUnavailable, slurm_cluster

SNAKEMAKE = str(BIN / "snakemake")
PROFILE = "workflow/profiles/slurm"
#: The profile first checks a job's status 10 s after the last one finished, then
#: 20, 30, ... s later, as suits a real cluster. These jobs take 8-12 s: checks
#: at 2 s and 14 s find most of them done at the second. Only the waiting changes.
FAST_CHECKS = ["--slurm-init-seconds-before-status-checks", "2"]
TRAINING = {"stress_train", "retrain"}
#: Offspring epochs: about 3 s of training, time enough to cancel a retrain job halfway.
EPOCHS = 15


def one_generation() -> dict:
    """The tiny experiment with a single offspring generation (8 jobs) of EPOCHS epochs."""
    params = copy.deepcopy(TINY_PARAMS)
    params["experiments"]["tiny"]["generations"] = 1
    params["experiments"]["tiny"]["train"]["epochs"] = EPOCHS
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
def local_run(tmp_path_factory) -> tuple[Path, dict[str, int]]:
    """The experiment run locally with ``snakemake -c2``, and its job counts per rule."""
    project = make_project(tmp_path_factory.mktemp("local") / "p", one_generation(), git=False)
    result = run([SNAKEMAKE, "-c2"], cwd=project)
    return project, _job_counts(result.stdout + result.stderr)


@pytest.fixture(scope="module")
def slurm_run(cluster, tmp_path_factory) -> tuple[Path, str]:
    """The same experiment run through the SLURM profile, and Snakemake's output."""
    project = make_project(tmp_path_factory.mktemp("slurm") / "p", one_generation(), git=False)
    result = run([SNAKEMAKE, "--profile", PROFILE, *FAST_CHECKS], cwd=project)
    return project, result.stdout + result.stderr


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
    files = sorted(p for part in ("data", "results") for p in (project / part).rglob("*") if p.is_file())
    return {str(p.relative_to(project)): (p.stat().st_ino, p.stat().st_mtime_ns,
                                          hashlib.sha256(p.read_bytes()).hexdigest()) for p in files}


def _processes_in(project: Path) -> list[int]:
    """PIDs of the processes whose working directory lies inside ``project``."""
    pids = []
    for proc in Path("/proc").iterdir():
        try:
            if proc.name.isdigit() and Path(os.readlink(proc / "cwd")).is_relative_to(project):
                pids.append(int(proc.name))
        except OSError:
            continue  # gone meanwhile, or not ours to read
    return pids


def _resources(dry_run: str) -> dict[str, str]:
    """rule -> its 'resources:' line in a dry run."""
    return dict(re.findall(r"^rule (\w+):\n(?:    .*\n)*?    resources: (.*)$", dry_run, re.M))


@pytest.mark.parametrize("profile, training", [("slurm", "cpus_per_task=2"),
                                               ("slurm-gpu", "cpus_per_task=4, gpu=1")])
def test_slurm_profiles_parse_and_give_training_more(tmp_path, profile, training):
    project = make_project(tmp_path / "p", one_generation(), git=False)
    dry = run([SNAKEMAKE, "--profile", f"workflow/profiles/{profile}", "-n"], cwd=project)
    resources = _resources(dry.stdout + dry.stderr)
    assert TRAINING | {"prepare", "evaluate", "report"} <= resources.keys()
    for rule, line in resources.items():
        if rule in TRAINING:
            assert training in line and "runtime=120" in line, (rule, line)
        else:
            assert "cpus_per_task=1" in line and "runtime=15" in line and "gpu" not in line, (rule, line)


@pytest.mark.slow
@pytest.mark.slurm
def test_slurm_run_gives_the_artifacts_of_a_local_run(cluster, local_run, slurm_run):
    (local, local_counts), (project, output) = local_run, slurm_run
    jobs = _submitted(cluster, output)
    steps = {rule: n for rule, n in local_counts.items() if rule != "all"}
    assert Counter(_rule(job) for job in jobs) == steps  # every step a SLURM job
    assert all(job.state == "COMPLETED" for job in jobs), jobs
    assert all(job.cpus == (2 if _rule(job) in TRAINING else 1) for job in jobs), jobs
    for g in (0, 1):
        here, there = project / f"results/tiny/gen{g}", local / f"results/tiny/gen{g}"
        metrics = [json.loads((gen / "metrics.json").read_text()) for gen in (here, there)]
        assert metrics[0] == metrics[1]
        masks = torch.load(here / "model.pt", weights_only=True)["masks"]
        local_masks = torch.load(there / "model.pt", weights_only=True)["masks"]
        assert masks.keys() == local_masks.keys()
        assert all(torch.equal(masks[k], local_masks[k]) for k in masks)


def _wait_for_training(cluster: SlurmCluster, log: Path, snakemake: subprocess.Popen, out: Path) -> SlurmJob:
    """The running retrain job, once its log shows the first of its epochs done."""
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and snakemake.poll() is None:
        running = [job for job in cluster.jobs() if job.state == "RUNNING" and _rule(job) == "retrain"]
        if running and log.is_file() and f"epoch 1/{EPOCHS}:" in log.read_text():
            return running[0]
        time.sleep(0.2)
    raise AssertionError(f"retrain never seen training under SLURM (snakemake exit: {snakemake.poll()}):\n"
                         f"{out.read_text()[-3000:]}\n{cluster.jobs()}")


@pytest.mark.slow
@pytest.mark.slurm
def test_cancelled_training_fails_the_run_and_a_rerun_keeps_completed_steps(cluster, slurm_run, tmp_path):
    project = shutil.copytree(slurm_run[0], tmp_path / "p", symlinks=True)  # every step done, under SLURM
    log, out = project / "logs/tiny/gen1/retrain.log", tmp_path / "first_run.log"
    log.unlink()  # the finished run's: the forced rerun writes its own
    metrics = json.loads((project / "results/tiny/gen1/metrics.json").read_text())
    with open(out, "w") as sink:
        first = subprocess.Popen([SNAKEMAKE, "--profile", PROFILE, *FAST_CHECKS, "--forcerun", "retrain"],
                                 cwd=project, env=engine_env(), stdout=sink, stderr=subprocess.STDOUT)
    try:
        job = _wait_for_training(cluster, log, first, out)
        subprocess.run(["scancel", job.id], check=True, timeout=30)
        first.wait(timeout=300)
    finally:
        if first.poll() is None:
            first.kill()
            first.wait()
    output = out.read_text()
    assert first.returncode != 0, output
    assert f"SLURM-job '{job.id}' failed, SLURM status is: 'CANCELLED'" in output
    assert f"epoch {EPOCHS}/{EPOCHS}" not in log.read_text()  # stopped mid-training
    deadline = time.monotonic() + 30
    while _processes_in(project) and time.monotonic() < deadline:
        time.sleep(1)
    assert not _processes_in(project)  # nothing of the job lives on
    gen1 = project / "results/tiny/gen1"
    retrain_outputs = ("model.pt", "train_log.json", "retrain.provenance.json")
    assert not [name for name in retrain_outputs if (gen1 / name).exists()]
    assert not list(project.glob("results/**/.*.tmp"))  # no half-written file either

    kept = _snapshot(project)
    rerun = run([SNAKEMAKE, "--profile", PROFILE, *FAST_CHECKS], cwd=project)
    counts = _job_counts(rerun.stdout + rerun.stderr)
    assert counts["retrain"] == 1, counts
    assert not {"prepare", "stress_train", "encode", "synthesize"} & counts.keys(), counts
    after = _snapshot(project)
    # (a step's <step>.run.json holds its timings: rewritten by every run, hashed by no engine)
    rewritten = {path for path, state in kept.items() if after[path] != state and not path.endswith(".run.json")}
    assert rewritten == {"results/tiny/gen1/metrics.json", "results/tiny/gen1/evaluate.provenance.json"}
    assert {"results/tiny/gen0/model.pt", "results/tiny/gen1/offspring.pt"} <= kept.keys()  # untouched
    assert json.loads((gen1 / "metrics.json").read_text()) == metrics  # the same result as without the fault
