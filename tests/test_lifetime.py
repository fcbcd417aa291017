"""A step dies with the engine that started it and writes nothing after: the engine is killed ALONE.

``tests/test_kills.py`` kills an engine's whole process group; here only the
engine's own process gets SIGKILL (``kill -9 <pid>``, the out-of-memory
killer), which orphans its shell and its step. The step must end at once
(with its warm-server fork, if it runs in one), and the engine's next run,
once it has recorded the retrained outputs, must find them untouched.
"""

from __future__ import annotations

import copy
import json
import os
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import BIN, TINY_PARAMS, engine_env, make_project, run

from evosynth.pipeline import lifetime

DVC = str(BIN / "dvc")
SNAKEMAKE = str(BIN / "snakemake")
PRINT_KEEPERS = ("import json; from evosynth.pipeline.lifetime import keepers;"
                 " print(json.dumps([vars(k) for k in keepers()]))")


def _keepers(cmd: list[str], cwd: Path) -> list[dict]:
    result = subprocess.run(cmd, cwd=cwd, env=engine_env(), capture_output=True, text=True, check=True)
    return json.loads(result.stdout)


def test_the_keepers_are_the_command_shells_up_to_the_engine_and_no_terminal(tmp_path):
    python = [sys.executable, "-c", PRINT_KEEPERS]
    assert [k["pid"] for k in _keepers(python, tmp_path)] == [os.getpid()]  # started by a program: that program
    # as Snakemake runs a job (bash 5 execs a last command, but not one with a redirection): a shell between
    # the step and the engine, watched too
    shell = _keepers(["bash", "-c", f"set -euo pipefail;  {shlex.join(python)} 2> err.log"], tmp_path)
    assert [k["name"] for k in shell[:1]] == ["bash"] and [k["pid"] for k in shell[1:]] == [os.getpid()]
    timed = _keepers(["timeout", "600", "bash", "-c", f"set -euo pipefail;  {shlex.join(python)} 2> err.log"],
                     tmp_path)  # `timeout` waits for its command as the shell does: passed, watched
    assert [k["name"] for k in timed[:2]] == ["bash", "timeout"] and [k["pid"] for k in timed[2:]] == [os.getpid()]
    # a script (as a terminal) is no engine: a command run from it lives by its hang-up signal, nohup works
    (tmp_path / "run.sh").write_text(shlex.join(python) + "\n")
    assert _keepers(["bash", "run.sh"], tmp_path) == []


def test_a_keeper_is_known_by_its_start_time_not_only_its_pid():
    me = lifetime.Keeper.of(os.getpid(), "me")
    assert me is not None and me.alive()
    assert not lifetime.Keeper(me.pid, me.start + 1, "a reused pid").alive()
    child = subprocess.Popen(["sleep", "60"])
    keeper = lifetime.Keeper.of(child.pid, "sleep")
    child.kill()
    deadline = time.monotonic() + 10
    while Path(f"/proc/{child.pid}/stat").read_text().split(") ")[1][0] != "Z" and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not keeper.alive()  # killed, not reaped yet: a zombie engine is a dead engine
    child.wait()
    assert not keeper.alive()


#: A stand-in for an engine: it runs a step the way Snakemake does (bash -c 'set -euo pipefail;  … 2> log').
ENGINE = "import subprocess, sys; subprocess.run(['bash', '-c', f'set -euo pipefail;  {sys.argv[1]} 2> stderr'])"
STEP = ("import os, sys, time; from evosynth.pipeline import lifetime; sys.argv = ['evosynth', 'train'];"
        " lifetime.hold(); open('step.pid', 'w').write(str(os.getpid())); time.sleep(300)")


def _gone(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ")[1][0] in "ZX"
    except OSError:
        return True


def _wait_for(condition, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.05)


def test_a_step_ends_the_moment_its_engine_is_killed_alone(tmp_path):
    engine = subprocess.Popen([sys.executable, "-c", ENGINE, shlex.join([sys.executable, "-c", STEP])],
                              cwd=tmp_path, env=engine_env(), start_new_session=True)
    try:
        _wait_for(lambda: (tmp_path / "step.pid").is_file() and (tmp_path / "step.pid").read_text(), 120,
                  "the step did not start")
        step = int((tmp_path / "step.pid").read_text())
        os.kill(engine.pid, signal.SIGKILL)
        engine.wait()
        _wait_for(lambda: _gone(step), 5, "the step outlived its engine")
        assert f"evosynth train: stopped: python (pid {engine.pid}), which started this step, has exited" in (
            tmp_path / "stderr").read_text()
    finally:
        try:
            os.killpg(engine.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


#: A step whose engine dies between two writes of the same artifact (the watching thread not started:
#: the write's own check must stop it).
GUARDED_WRITE = """
import subprocess, sys, time
from evosynth import artifacts
from evosynth.guards import guard_writes
from evosynth.pipeline import lifetime
engine = subprocess.Popen(["sleep", "300"])
watch = lifetime._Watch([lifetime.Keeper.of(engine.pid, "sleep")], say=True)
guard_writes(watch.check)
artifacts.write_text("out.txt", "before")
artifacts.write_json("step.provenance.json", {"outputs": {"out.txt": artifacts.sha256("out.txt")}})
engine.kill()
time.sleep(0.5)  # a zombie: not reaped
artifacts.write_text("out.txt", "after")
print("written after the engine died")
"""


def test_no_artifact_is_written_after_the_engine_died(tmp_path):
    result = subprocess.run([sys.executable, "-c", GUARDED_WRITE], cwd=tmp_path, env=engine_env(),
                            capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == -signal.SIGKILL, result.stderr
    assert "written" not in result.stdout and "stopped: sleep (pid" in result.stderr
    assert (tmp_path / "out.txt").read_text() == "before"
    assert (tmp_path / "step.provenance.json").is_file()  # the record vouching for it is not removed either


# ---------------------------------------------------------------- real engines, killed alone mid-training
LONG = copy.deepcopy(TINY_PARAMS)
LONG["experiments"]["tiny"]["train"]["ancestor_epochs"] = 20  # tens of seconds: an orphan would be seen
EPOCH_1 = "tiny gen0 stress_train epoch 1/20:"


def _processes_under(folder: Path) -> list[tuple[int, str]]:
    """(pid, command line) of every live process working in ``folder`` or below (steps, shells, warm forks)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or _gone(int(entry.name)):
            continue
        try:
            cwd = Path(os.readlink(entry / "cwd"))
            argv = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if cwd == folder or folder in cwd.parents:
            found.append((int(entry.name), argv))
    return found


def _snapshot(folder: Path) -> dict[str, tuple[int, int]]:
    """Name, mtime and size of every file in ``folder`` (temporary files included)."""
    if not folder.is_dir():
        return {}
    return {p.name: (p.stat().st_mtime_ns, p.stat().st_size) for p in sorted(folder.iterdir())}


@pytest.fixture
def warm_servers(tmp_path):
    """Warm servers of this test's own (TORCH_HOME is part of their key); stopped afterwards."""
    yield {"TORCH_HOME": str(tmp_path / "torch")}
    for entry in Path("/proc").iterdir():
        try:
            argv = (entry / "cmdline").read_bytes()
            environ = (entry / "environ").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"evosynth.pipeline.serve" in argv and f"TORCH_HOME={tmp_path / 'torch'}".encode() in environ:
            os.kill(int(entry.name), signal.SIGKILL)


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/cwd").exists(), reason="needs /proc")
@pytest.mark.parametrize("warm", [False, True], ids=["cold", "warm"])
@pytest.mark.parametrize("engine", ["dvc", "snakemake"])
def test_killing_the_engine_alone_ends_its_step_and_nothing_is_written_after_its_next_run(
        tmp_path, engine, warm, warm_servers):
    project = make_project(tmp_path / "p", LONG, git=engine == "dvc").resolve()
    env = engine_env() | warm_servers | {"EVOSYNTH_WARM": "1" if warm else "0"}
    engine_log = tmp_path / "engine.log"
    watched = engine_log if engine == "dvc" else project / "logs/tiny/gen0/stress_train.log"
    with open(engine_log, "w") as out:
        proc = subprocess.Popen([DVC, "repro"] if engine == "dvc" else [SNAKEMAKE, "-c1"], cwd=project, env=env,
                                stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        _wait_for(lambda: proc.poll() is None and watched.is_file() and EPOCH_1 in watched.read_text(), 900,
                  f"{engine} did not reach the first epoch:\n{engine_log.read_text()[-2000:]}")
        running = _processes_under(project)
        assert any(" train " in argv for _, argv in running), running
        if warm:  # the step runs in a fork of the warm server (the caller waits for it)
            assert any("evosynth.pipeline.serve" in argv for _, argv in running), running
        folder = project / "results/tiny/gen0"
        os.kill(proc.pid, signal.SIGKILL)  # the engine alone, not its process group
        proc.wait()
        at_kill = _snapshot(folder)
        deadline = time.monotonic() + 15
        while _processes_under(project) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _processes_under(project) == [], "processes outlived their engine"
        time.sleep(2)
        assert _snapshot(folder) == at_kill and "model.pt" not in at_kill  # nothing written after the kill
        assert f"stopped: {engine} (pid {proc.pid}), which started this step, has exited" in watched.read_text()
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    # the engine's next run trains the ancestor again and records it; nothing touches it afterwards
    if engine == "dvc":
        target = "pipelines/tiny/dvc.yaml:stress_train-tiny-gen0"
        run([DVC, "repro", target], cwd=project)
    else:
        run([SNAKEMAKE, "--unlock"], cwd=project)
        run([SNAKEMAKE, "-c1", "--rerun-incomplete", "results/tiny/gen0/model.pt"], cwd=project)
    recorded = _snapshot(folder)
    time.sleep(5)
    assert _snapshot(folder) == recorded
    assert _processes_under(project) == []
    if engine == "dvc":
        assert "up to date" in run([DVC, "status", target], cwd=project).stdout
    else:
        dry = run([SNAKEMAKE, "-n", "-c1", "results/tiny/gen0/model.pt"], cwd=project)
        assert "Nothing to be done" in dry.stdout + dry.stderr
