"""Two checkouts, one environment: a step runs only its own checkout's code, and records the files it loaded.

The environment's package (here: ``PYTHONPATH``, as an editable install would)
points at clone A; the steps run in clone B, whose training code differs. Real
``evosynth`` processes and a real ``dvc repro``.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
from pathlib import Path

import pytest
from conftest import BIN, TINY_PARAMS, engine_env, make_project, write_params

EVOSYNTH = str(BIN / "evosynth")
DVC = str(BIN / "dvc")
TRAIN = ["train", "--experiment", "tiny", "--generation", "0", "--data", "data/prepared/digits.npz",
         "--out-dir", "results/tiny/gen0"]
PREPARE = ["prepare", "--dataset", "digits", "--out-dir", "data/prepared"]
EDITED = "src/evosynth/training.py"


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _run(cmd: list[str], cwd: Path, package: Path, warm: bool = False) -> subprocess.CompletedProcess:
    """``cmd`` in ``cwd`` with the evosynth package of checkout ``package`` on the path (one shared venv)."""
    env = engine_env() | {"PYTHONPATH": str(package / "src"), "EVOSYNTH_WARM": "1" if warm else "0"}
    return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=900, check=False)


def _clone(source: Path, target: Path) -> Path:
    subprocess.run(["git", "clone", "-q", str(source), str(target)], check=True, env=engine_env())
    return target


@pytest.fixture(scope="module")
def clones(tmp_path_factory) -> tuple[Path, Path, Path]:
    """Clone A (the package the environment imports), B (its training code edited), C (A's code, unedited)."""
    root = tmp_path_factory.mktemp("clones")
    a = make_project(root / "a")
    b, c = _clone(a, root / "b"), _clone(a, root / "c")
    edited = b / EDITED
    edited.write_text(edited.read_text() + "\n# clone B's training\n")
    subprocess.run(["git", "commit", "-qam", "B's training"], cwd=b, check=True, env=engine_env())
    return a, b, c


@pytest.mark.parametrize("warm", [False, True], ids=["cold", "warm"])
def test_a_step_refuses_to_run_another_checkouts_code(clones, warm):
    a, b, _ = clones
    result = _run([EVOSYNTH, *TRAIN], b, package=a, warm=warm)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr  # one line, no traceback
    assert f"evosynth package in {(a / 'src/evosynth').resolve()}, not this checkout's" in lines[0]
    assert f"its {EDITED} differs from {b.resolve()}'s" in lines[0]
    assert not (b / "results/tiny/gen0").exists()


@pytest.mark.slow
def test_dvc_repro_in_the_other_checkout_stops_at_its_first_step(clones):
    a, b, _ = clones
    result = _run([DVC, "repro"], b, package=a)
    assert result.returncode != 0
    assert f"its {EDITED} differs from {b.resolve()}'s" in result.stdout + result.stderr
    assert not (b / "data/prepared/digits.npz").exists()  # preparing the data (its first step) did not run


def test_in_a_checkout_with_the_same_code_the_records_name_the_files_that_ran_and_where(clones):
    a, _, c = clones
    assert _run([EVOSYNTH, "code", "--params", "params.yaml", "--module", "prepare", "--out-dir", "results/.code"],
                c, package=a).returncode == 0
    result = _run([EVOSYNTH, *PREPARE], c, package=a)
    assert result.returncode == 0, result.stderr
    ran = json.loads((c / "data/prepared/digits.provenance.json").read_text())["code"]
    record = json.loads((c / "results/.code/prepare.json").read_text())["files"]
    assert "src/evosynth/data/sources.py" in ran and ran.items() <= record.items()
    where = json.loads((c / "data/prepared/digits.run.json").read_text())["code"]
    assert where == {"package": str((a / "src/evosynth").resolve()), "checkout": str(c.resolve())}


@pytest.mark.slow
def test_outside_a_checkout_the_records_hash_the_imported_files(clones, tmp_path):
    """A user's project that uses the installed package: it runs, and its records say which package ran."""
    _, b, _ = clones
    project = tmp_path / "user"
    project.mkdir()
    write_params(project / "params.yaml", TINY_PARAMS)
    for step in (PREPARE, TRAIN):
        result = _run([EVOSYNTH, *step], project, package=b)
        assert result.returncode == 0, result.stderr
    ran = json.loads((project / "results/tiny/gen0/stress_train.provenance.json").read_text())["code"]
    assert ran[EDITED] == _sha(b / EDITED)  # B's training, the one imported
    assert all(name.startswith("src/evosynth/") for name in ran)
    where = json.loads((project / "results/tiny/gen0/stress_train.run.json").read_text())["code"]
    assert where == {"package": str((b / "src/evosynth").resolve()), "checkout": None}
