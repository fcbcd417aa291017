"""Two checkouts, one environment: a step runs only its own checkout's code, and records the files it loaded.

The environment's package (here: ``PYTHONPATH``, as an editable install would)
points at clone A; the steps run in clone B, whose training code differs. Real
``evosynth`` processes and a real ``dvc repro``.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import BIN, ROOT, TINY_PARAMS, engine_env, make_project, write_params

from evosynth.errors import CodeError
from evosynth.pipeline import checkout

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
    assert f"not this checkout's: {EDITED} differs from {b.resolve()}'s" in lines[0]
    assert not (b / "results/tiny/gen0").exists()


@pytest.mark.slow
def test_dvc_repro_in_the_other_checkout_stops_at_its_first_step(clones):
    a, b, _ = clones
    result = _run([DVC, "repro"], b, package=a)
    assert result.returncode != 0
    assert f"not this checkout's: {EDITED} differs from {b.resolve()}'s" in result.stdout + result.stderr
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


def test_every_source_file_and_the_schema_count_and_a_folder_without_src_is_not_a_checkout(tmp_path):
    checkout.check(tmp_path)  # no src/evosynth: a user's project on the installed package
    package = tmp_path / "src" / "evosynth"
    shutil.copytree(ROOT / "src" / "evosynth", package, ignore=shutil.ignore_patterns("__pycache__"))
    checkout.check(tmp_path)  # a byte-equal copy runs the same code
    (package / "reporting" / "extra.py").write_text("X = 1\n")
    with pytest.raises(CodeError, match="src/evosynth/reporting/extra.py is only in"):
        checkout.check(tmp_path)
    (package / "reporting" / "extra.py").unlink()
    (package / "nets" / "masks.py").unlink()
    with pytest.raises(CodeError, match="src/evosynth/nets/masks.py is missing from"):
        checkout.check(tmp_path)
    shutil.copy(ROOT / "src/evosynth/nets/masks.py", package / "nets" / "masks.py")
    schema = package / "pipeline" / "params.schema.json"
    schema.write_text(schema.read_text().replace("{", "{ ", 1))
    with pytest.raises(CodeError, match="params.schema.json differs from"):
        checkout.check(tmp_path)
