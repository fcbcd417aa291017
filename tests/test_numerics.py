"""Portable numerics: pinned before torch loads in every `evosynth` process, switched off by `numerics: native`."""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml
from conftest import BIN, TINY_PARAMS, engine_env

from evosynth.artifacts import provenance, sha256
from evosynth.host import ISA_ENV
from evosynth.pipeline import numerics, warm
from evosynth.pipeline.params import validate_params
from evosynth.pipeline.plan import build_plan
from evosynth.pipeline.stage import NUMERICS

EVOSYNTH = str(BIN / "evosynth")
PREPARE = ["prepare", "--dataset", "digits", "--out-dir"]
TRAIN = ["train", "--experiment", "tiny", "--generation", "0", "--data", "data/prepared/digits.npz", "--out-dir"]


def _native_capability() -> str:
    """What torch picks on this CPU when nothing is pinned (a fresh interpreter)."""
    env = {k: v for k, v in os.environ.items() if k not in ISA_ENV}
    code = "import torch; print(torch.backends.cpu.get_cpu_capability())"
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stdout.strip()


def _env(**extra: str) -> dict[str, str]:
    """The engines' environment without any pin inherited from this test process."""
    env = {k: v for k, v in engine_env().items() if k not in (*ISA_ENV, numerics.MARKER)}
    return env | extra


def _project(path: Path, mode: str | None) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    params = copy.deepcopy(TINY_PARAMS)
    params["experiments"]["tiny"]["data"]["train_size"] = 300
    if mode is not None:
        params["numerics"] = mode
    (path / "params.yaml").write_text(yaml.safe_dump(params))
    return path


def _step(project: Path, args: list[str], **env: str) -> subprocess.CompletedProcess:
    done = subprocess.run([EVOSYNTH, *args], cwd=project, env=_env(**env), capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr
    return done


@pytest.mark.parametrize("warm_on", ["0", "1"])
def test_a_fresh_evosynth_process_computes_with_the_pinned_kernels_and_threads(tmp_path, warm_on):
    # asked for 2 threads (as Snakemake passes its rule's threads): portable numerics pins 1
    env = {"EVOSYNTH_WARM": warm_on, "EVOSYNTH_THREADS": "2", "TORCH_HOME": str(tmp_path)}  # its own warm server
    portable, native = _project(tmp_path / "portable", None), _project(tmp_path / "native", "native")
    _step(portable, [*PREPARE, "out"], EVOSYNTH_LIMITS_RECORD=str(tmp_path / "p.json"), **env)
    _step(native, [*PREPARE, "out"], EVOSYNTH_LIMITS_RECORD=str(tmp_path / "n.json"), **env)
    p, n = (json.loads((tmp_path / f).read_text()) for f in ("p.json", "n.json"))
    assert p["capability"] == numerics.PORTABLE["capability"] == "DEFAULT"
    assert p["threads"] == numerics.PORTABLE["threads"] == 2 and p["onednn"] is numerics.PORTABLE["onednn"] is False
    assert n["capability"] == _native_capability() != "DEFAULT"  # the switch turns the pins off
    assert n["threads"] == 2 and n["onednn"] is True
    record = json.loads((portable / "out/digits.provenance.json").read_text())["cpu"]
    assert record["numerics"] == "portable" and record["aten_cpu_capability"] == "DEFAULT" and not record["onednn"]
    assert record["env"] == numerics.PORTABLE["env"] and "flags" not in record  # the same bytes on any CPU
    assert json.loads((portable / "out/digits.run.json").read_text())["cpu_flags"]  # the flags go to the run record
    record = json.loads((native / "out/digits.provenance.json").read_text())["cpu"]
    assert record["numerics"] == "native" and record["env"] == {} and "flags" in record
    if warm_on == "1":
        assert p["pid"] != n["pid"] and p["ppid"] != n["ppid"], "both modes ran in one warm server"


def test_the_timing_steps_run_native_and_every_other_stage_tracks_the_mode():
    params = validate_params({**copy.deepcopy(TINY_PARAMS), "runtime": {"experiments": ["tiny"]}})
    assert numerics.mode_of(params, "train") == "portable" and numerics.mode_of(params, "runtime") == "native"
    assert numerics.mode_of({**params, "numerics": "native"}, "train") == "native"
    plan = build_plan(params)
    assert {s.step for s in plan if NUMERICS not in s.params} == {"runtime", "code"}  # code stages only hash files
    assert {"stress_train", "retrain", "evaluate", "prepare", "export"} <= {s.step for s in plan if NUMERICS in s.params}


def test_a_numerics_mode_outside_the_two_is_refused():
    with pytest.raises(Exception, match="numerics"):
        validate_params({**copy.deepcopy(TINY_PARAMS), "numerics": "fast"})
    with pytest.raises(ValueError, match="numerics"):
        numerics.apply("fast", {})


def test_pins_that_come_too_late_are_not_claimed():
    """In a process that imported torch before (this one), the pins cannot act: the step is recorded native."""
    environ: dict[str, str] = {}
    mode = numerics.apply("portable", environ)
    pinned = torch.backends.cpu.get_cpu_capability() == numerics.PORTABLE["capability"]
    assert environ[numerics.MARKER] == mode == ("portable" if pinned else "native")
    environ = {}
    assert numerics.apply("native", environ) == "native" and environ == {numerics.MARKER: "native"}


def test_the_warm_servers_key_covers_the_numerics(tmp_path):
    assert set(numerics.PORTABLE["env"]) <= set(ISA_ENV)  # what is pinned is what provenance records
    key = warm.server_key(warm.PACKAGE, {}, paths=[])
    for name, value in {**numerics.PORTABLE["env"], numerics.MARKER: "portable"}.items():
        assert warm.server_key(warm.PACKAGE, {name: value}, paths=[]) != key, name
    for name, value in {"GOMP_SPINCOUNT": "1000", "OMP_WAIT_POLICY": "passive"}.items():  # read as torch loads
        assert warm.server_key(warm.PACKAGE, {name: value}, paths=[]) != key, name


def test_provenance_records_the_mode_in_effect(monkeypatch):
    monkeypatch.setenv(numerics.MARKER, "portable")
    assert provenance("s", {}, [])["cpu"]["numerics"] == "portable"
    monkeypatch.setenv(numerics.MARKER, "native")
    cpu = provenance("s", {}, [])["cpu"]
    assert cpu["numerics"] == "native" and isinstance(cpu["flags"], list)


@pytest.mark.slow
def test_a_chain_writes_the_same_bytes_twice_and_native_kernels_write_others(tmp_path):
    runs = {}
    for name, mode in (("a", None), ("b", None), ("native", "native")):
        project = _project(tmp_path / name, mode)
        _step(project, [*PREPARE, "data/prepared"], EVOSYNTH_WARM="0")
        _step(project, [*TRAIN, "gen0"], EVOSYNTH_WARM="0", EVOSYNTH_THREADS="2")
        runs[name] = {f: sha256(project / f) for f in ("data/prepared/digits.npz", "gen0/model.pt",
                                                       "gen0/train_log.json", "gen0/stress_train.provenance.json")}
    assert runs["a"] == runs["b"]
    assert runs["native"]["gen0/model.pt"] != runs["a"]["gen0/model.pt"]  # the pins change what is computed
