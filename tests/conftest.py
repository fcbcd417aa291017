"""Shared fixtures: tiny params, a tiny project in a temporary git repository."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

# ``pytest -n 2`` runs two modules at a time, each starting steps of two torch threads: with libgomp's default
# spin (300,000) idle threads spin out each other's time slices (docs/numerics.md, benchmarks/spin_cost.py).
# Set before torch loads here; the steps the tests start inherit it.
os.environ.setdefault("GOMP_SPINCOUNT", "1000")

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent

#: A tiny experiment: digits, small subsets, 2 generations of 1 epoch.
TINY_PARAMS = {
    "datasets": {"digits": {"source": "digits", "image_size": 28}},
    "experiments": {
        "tiny": {
            "dataset": "digits",
            "architecture": "lenet5",
            "method": "evonet",
            "generations": 2,
            "seed": 0,
            "init": "inherit",
            "environment": {"factor": 0.5, "mode": "budget"},
            "train": {"ancestor_epochs": 1, "epochs": 1, "batch_size": 64, "lr": 0.01,
                      "momentum": 0.9, "weight_decay": 0.0005},
            "data": {"train_size": 400, "test_size": 200},
        }
    },
}


#: The report stages on the tiny experiment: runtime, a baseline, the feature analysis and the papers.
TINY_REPORTS = {
    "runtime": {"experiments": ["tiny"], "repeats": 5, "warmup": 1, "picks": ["tiny", "tiny_l1"]},
    "baselines": {"tiny_l1": {"follow": "tiny", "method": "l1_filter"}},
    "papers": {
        "table1": ["tiny"], "cluster_tables": ["tiny"], "sexual": {"asexual": "tiny", "sexual": "tiny"},
        "sweep": ["tiny"], "baselines": {"evolved": "tiny", "against": ["tiny_l1"]}, "features": "tiny",
        "runtime": "tiny",
    },
}


def engine_env() -> dict[str, str]:
    """Environment for subprocesses: this interpreter's bin first, fixed threads."""
    env = dict(os.environ)
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    env["EVOSYNTH_THREADS"] = "1"
    env["DVC_NO_ANALYTICS"] = "1"
    env.setdefault("GIT_AUTHOR_NAME", "evosynth tests")
    env.setdefault("GIT_AUTHOR_EMAIL", "tests@evosynth.invalid")
    env.setdefault("GIT_COMMITTER_NAME", "evosynth tests")
    env.setdefault("GIT_COMMITTER_EMAIL", "tests@evosynth.invalid")
    return env


def run(cmd: list[str], cwd: Path, check: bool = True, timeout: float = 600) -> subprocess.CompletedProcess:
    result = subprocess.run(cmd, cwd=cwd, env=engine_env(), capture_output=True, text=True, timeout=timeout)
    if check and result.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    return result


def write_params(path: Path, params: dict) -> None:
    path.write_text(yaml.safe_dump(params, sort_keys=False))


def make_project(path: Path, params: dict = TINY_PARAMS, git: bool = True) -> Path:
    """A copy of the project's workflow around ``params``, rendered and committed."""
    path.mkdir(parents=True, exist_ok=True)
    shutil.copytree(ROOT / "workflow", path / "workflow", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(ROOT / "src" / "evosynth", path / "src" / "evosynth", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / ".dvcignore", path / ".dvcignore")
    write_params(path / "params.yaml", params)
    run([sys.executable, "workflow/scripts/render_dvc.py"], cwd=path)
    if git:
        run(["git", "init", "-q"], cwd=path)
        run([str(BIN / "dvc"), "init", "-q"], cwd=path)
        copy_dvc_settings(path)
        run(["git", "add", "-A"], cwd=path)
        run(["git", "commit", "-qm", "tiny project"], cwd=path)
    return path


def copy_dvc_settings(path: Path) -> None:
    """The project's DVC config (its default remote) and plot templates, into an initialised project."""
    shutil.copy(ROOT / ".dvc" / "config", path / ".dvc" / "config")
    shutil.copytree(ROOT / ".dvc" / "plots", path / ".dvc" / "plots", dirs_exist_ok=True)


def record(*paths: Path) -> None:
    """Write the provenance record a step leaves beside its outputs ``paths`` (artifacts are loaded only with one)."""
    from evosynth.artifacts import provenance, write_json

    first = Path(paths[0])
    write_json(first.with_name(f"{first.stem}.provenance.json"), provenance("test", {}, list(paths)))


def benchmark_module(name: str):
    """A script of benchmarks/ imported as a module (for a fixture: ``yield from benchmark_module(name)``)."""
    import importlib

    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        yield importlib.import_module(name)
    finally:
        sys.path.remove(str(ROOT / "benchmarks"))


@pytest.fixture
def tiny_params() -> dict:
    import copy

    return copy.deepcopy(TINY_PARAMS)


def assert_params_refused(params: dict, message: str) -> None:
    """validate_params refuses ``params`` with a ParamsError matching ``message``, in one line."""
    from evosynth.errors import ParamsError
    from evosynth.pipeline.params import validate_params

    with pytest.raises(ParamsError, match=message) as caught:
        validate_params(params)
    assert "\n" not in str(caught.value)


def root_stages_text(project: Path) -> list[str]:
    """Each stage of the root dvc.yaml as "name command outputs" (its params slice's code deps left out)."""
    stages = yaml.safe_load((project / "dvc.yaml").read_text())["stages"]
    return [f"{name} {stage['cmd']} {' '.join(str(o) for o in stage.get('outs', []))}" for name, stage in stages.items()]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Modules with the most end-to-end runs first (SLURM's first of all), the order kept within a module.

    ``pytest -n 2 --dist loadfile`` hands whole modules to its two workers in this order: a long module
    handed out last would run alone at the end while the other worker idles.
    """
    weight: dict[Path, tuple[bool, int]] = {}
    for item in items:
        slurm, slow = weight.get(item.path, (False, 0))
        weight[item.path] = (slurm or item.get_closest_marker("slurm") is not None,
                             slow + (item.get_closest_marker("slow") is not None))
    items.sort(key=lambda item: weight[item.path], reverse=True)
