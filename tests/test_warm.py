"""The warm server: a step run in a fork of it equals the step run in its own process, and dies with its caller."""

from __future__ import annotations

import copy
import json
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest
import torch
import yaml
from conftest import BIN, TINY_PARAMS, engine_env

from evosynth.pipeline import warm

EVOSYNTH = str(BIN / "evosynth")


def _evosynth(project: Path, args: list[str], warm_on: bool) -> subprocess.CompletedProcess:
    env = engine_env() | {"EVOSYNTH_WARM": "1" if warm_on else "0"}
    return subprocess.run([EVOSYNTH, *args], cwd=project, env=env, capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("warm")
    params = copy.deepcopy(TINY_PARAMS)
    params["experiments"]["tiny"]["train"]["ancestor_epochs"] = 2
    (path / "params.yaml").write_text(yaml.safe_dump(params))
    prepared = _evosynth(path, ["prepare", "--dataset", "digits", "--out-dir", "data/prepared"], warm_on=False)
    assert prepared.returncode == 0, prepared.stderr
    return path


def test_switched_off_by_the_environment_and_inside_slurm_jobs():
    assert warm.enabled({})
    assert not warm.enabled({"EVOSYNTH_WARM": "0"}) and not warm.enabled({"EVOSYNTH_WARM": "off"})
    assert not warm.enabled({"SLURM_JOB_ID": "42"})


def test_the_server_key_follows_the_code_and_the_import_time_environment(tmp_path):
    package = tmp_path / "evosynth"
    shutil.copytree(warm.PACKAGE, package, ignore=shutil.ignore_patterns("__pycache__"))
    key = warm.server_key(package, {})
    assert warm.server_key(package, {"UNRELATED": "1"}) == key
    assert warm.server_key(package, {"OMP_NUM_THREADS": "1"}) != key
    (package / "evolution" / "synthesis.py").write_text((package / "evolution" / "synthesis.py").read_text() + "\n# edited\n")
    assert warm.server_key(package, {}) != key
    other = tmp_path / "checkout2" / "evosynth"  # the same code in another checkout: its own server
    shutil.copytree(package, other)
    assert warm.server_key(other, {}) != warm.server_key(package, {})
    assert warm.server_key(package, {"ATEN_CPU_CAPABILITY": "default"}) != warm.server_key(package, {})


TRAIN = ["train", "--experiment", "tiny", "--generation", "0", "--data", "data/prepared/digits.npz"]


def _load(path: Path) -> dict:
    return torch.load(path, weights_only=True)


def test_a_step_in_the_warm_server_equals_the_step_in_its_own_process(project):
    cold = _evosynth(project, [*TRAIN, "--out-dir", "cold"], warm_on=False)
    hot = _evosynth(project, [*TRAIN, "--out-dir", "hot"], warm_on=True)
    assert cold.returncode == hot.returncode == 0, hot.stderr
    assert hot.stdout == cold.stdout
    a, b = _load(project / "cold/model.pt"), _load(project / "hot/model.pt")
    assert a.keys() == b.keys()
    for key in ("state_dict", "masks"):
        assert all(torch.equal(a[key][name], b[key][name]) for name in a[key]), key
    # the same code files recorded as loaded: the server imports nothing a step's own process would not
    ran = [json.loads((project / d / "stress_train.provenance.json").read_text())["code"] for d in ("cold", "hot")]
    assert ran[0] == ran[1] and "src/evosynth/training.py" in ran[0]
    logs = [yaml.safe_load((project / d / "train_log.json").read_text())["epochs"] for d in ("cold", "hot")]
    assert [{k: v for k, v in e.items() if k != "seconds"} for e in logs[0]] == [
        {k: v for k, v in e.items() if k != "seconds"} for e in logs[1]
    ]
    # a failing step: the same message on the caller's stderr, the same exit status
    args = ["train", "--experiment", "tiny", "--generation", "0", "--data", "missing.npz", "--out-dir", "x"]
    cold, hot = _evosynth(project, args, warm_on=False), _evosynth(project, args, warm_on=True)
    assert hot.returncode == cold.returncode == 2  # bad input (a DataError)
    assert hot.stderr == cold.stderr and "missing.npz" in hot.stderr


def _processes_in(folder: Path) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if Path(os.readlink(entry / "cwd")) == folder:
                    pids.append(int(entry.name))
            except OSError:
                continue
    return pids


@pytest.mark.skipif(not Path("/proc/self/cwd").exists(), reason="needs /proc")
def test_killing_the_caller_kills_the_step(project):
    params = yaml.safe_load((project / "params.yaml").read_text())
    params["experiments"]["tiny"]["train"]["ancestor_epochs"] = 200  # minutes of work: it must not finish
    (project / "params-long.yaml").write_text(yaml.safe_dump(params))
    work = project.resolve()
    env = engine_env() | {"EVOSYNTH_WARM": "1"}
    caller = subprocess.Popen(
        [EVOSYNTH, "train", "--params", "params-long.yaml", *TRAIN[1:], "--out-dir", "killed"],
        cwd=project, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )
    try:
        for line in caller.stderr:  # the fork writes straight into the caller's stderr
            if "epoch 1/200:" in line:
                break
        steps = [pid for pid in _processes_in(work) if pid != caller.pid]
        assert steps, "the step is not running in a fork of the warm server"
    finally:
        caller.send_signal(signal.SIGKILL)
        caller.wait()
    deadline = time.monotonic() + 10
    while _processes_in(work) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _processes_in(work) == []
    assert not (project / "killed/model.pt").exists()


PREPARE = ["prepare", "--dataset", "digits", "--out-dir"]


def _limited(project: Path, prefix: list[str], record: str, env: dict[str, str]) -> tuple[int, dict]:
    """Run a step under ``prefix`` (nice, taskset) through the warm server; (caller pid, the step's own record)."""
    env = env | {"EVOSYNTH_WARM": "1", "EVOSYNTH_LIMITS_RECORD": str(project / record)}
    env.pop("EVOSYNTH_THREADS")  # the thread budget must follow the CPUs (native numerics: portable pins it)
    (project / "params-native.yaml").write_text((project / "params.yaml").read_text() + "numerics: native\n")
    caller = subprocess.Popen([*prefix, EVOSYNTH, *PREPARE, f"prep-{record}", "--params", "params-native.yaml"],
                              cwd=project, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    _, err = caller.communicate(timeout=600)
    assert caller.returncode == 0, err
    return caller.pid, yaml.safe_load((project / record).read_text())


@pytest.mark.skipif(not hasattr(os, "sched_getaffinity") or len(os.sched_getaffinity(0)) < 2,
                    reason="needs Linux and two CPUs")
def test_a_step_keeps_the_callers_nice_value_cpus_cgroup_and_thread_budget(project, tmp_path):
    env = engine_env() | {"TORCH_HOME": str(tmp_path)}  # a server of this test's own (its key)
    base, cpu = os.getpriority(os.PRIO_PROCESS, 0), min(os.sched_getaffinity(0))
    free_pid, free = _limited(project, [], "free.json", env)  # starts the server, unrestricted
    assert free["pid"] != free_pid, "the step did not run in a fork of the warm server"
    pid, step = _limited(project, ["nice", "-n", "10", "taskset", "-c", str(cpu)], "limited.json", env)
    assert step["pid"] != pid, "the limited step did not run in a fork of the warm server"
    assert step["nice"] == min(base + 10, 19) and step["affinity"] == [cpu] and step["threads"] == 1
    assert step["cgroup"] == free["cgroup"] == warm.limits()["cgroup"]
    assert free["nice"] == base and len(free["affinity"]) >= 2


def test_a_fork_refuses_limits_it_cannot_take(monkeypatch):
    here = warm.limits()
    assert warm.take_limits(here)  # its own limits: nothing to change
    assert not warm.take_limits(here | {"cgroup": "0::/evosynth-no-such-cgroup\n"})

    def refuse(*_args):
        raise PermissionError("lowering a nice value needs CAP_SYS_NICE")

    monkeypatch.setattr(os, "setpriority", refuse)
    assert not warm.take_limits(here | {"nice": here["nice"] - 1})


@pytest.mark.skipif(os.getpriority(os.PRIO_PROCESS, 0) > 14 or os.geteuid() == 0,
                    reason="needs room to raise the nice value, and no privilege to lower it")
def test_a_server_that_cannot_give_the_callers_priority_refuses_and_the_step_runs_itself(project, tmp_path):
    env = engine_env() | {"TORCH_HOME": str(tmp_path)}
    base = os.getpriority(os.PRIO_PROCESS, 0)
    niced_pid, niced = _limited(project, ["nice", "-n", "5"], "niced.json", env)  # the server runs at +5
    assert niced["pid"] != niced_pid and niced["nice"] == base + 5
    pid, step = _limited(project, [], "plain.json", env)  # it cannot lower a fork's nice value
    assert step["pid"] == pid and step["nice"] == base  # so the caller ran the step in its own process


def test_progress_streams_from_the_warm_server_as_it_happens(project):
    """Epoch lines reach the caller while the step runs, not when it ends: the fork's streams are
    pipes here, which Python would block-buffer (40 short lines fit in one buffer, so with block
    buffering the first line would arrive only at exit, with the trained model already written)."""
    params = yaml.safe_load((project / "params.yaml").read_text())
    params["experiments"]["tiny"]["train"]["ancestor_epochs"] = 40
    (project / "params-progress.yaml").write_text(yaml.safe_dump(params))
    env = engine_env() | {"EVOSYNTH_WARM": "1"}
    caller = subprocess.Popen(
        [EVOSYNTH, "train", "--params", "params-progress.yaml", *TRAIN[1:], "--out-dir", "progress"],
        cwd=project, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        lines = []
        for line in caller.stderr:
            lines.append(line)
            if "epoch 1/40:" in line:
                break
        assert any("epoch 1/40:" in line for line in lines), lines
        assert caller.poll() is None, "the first epoch line arrived only when the step ended"
        assert not (project / "progress/model.pt").exists()
        second = caller.stderr.readline()
        assert "epoch 2/40:" in second and caller.poll() is None, second
    finally:
        caller.send_signal(signal.SIGKILL)
        caller.wait()
