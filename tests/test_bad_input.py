"""Bad input stops before any compute with one line naming the key, leaving artifacts untouched."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from conftest import TINY_PARAMS, engine_env

# Runs the real CLI in a fresh interpreter and reports whether torch was imported,
# i.e. whether anything was computed before the error.
PROBE = """
import json, sys
from evosynth.pipeline.cli import main
code = main(sys.argv[1:])
print(json.dumps({"code": code, "torch": "torch" in sys.modules}))
"""


def _set(params: dict, dotted: str, value) -> dict:
    params = copy.deepcopy(params)
    node = params
    *parents, last = dotted.split(".")
    for part in parents:
        node = node[part]
    if value is DELETE:
        del node[last]
    else:
        node[last] = value
    return params


DELETE = object()
EXP = "experiments.tiny"

CASES = [
    # (id, params change, expected key in the message, expected words)
    ("unknown dataset", (f"{EXP}.dataset", "imagenet"), f"{EXP}.dataset", "allowed: digits"),
    ("unknown architecture", (f"{EXP}.architecture", "vgg99"), f"{EXP}.architecture", "allowed: lenet5"),
    ("unknown method", (f"{EXP}.method", "darwin"), f"{EXP}.method", "allowed: evonet"),
    ("F zero", (f"{EXP}.environment.factor", 0), f"{EXP}.environment.factor", "0 < value <= 1"),
    ("F negative", (f"{EXP}.environment.factor", -0.3), f"{EXP}.environment.factor", "0 < value <= 1"),
    ("F above one", (f"{EXP}.environment.factor", 1.5), f"{EXP}.environment.factor", "0 < value <= 1"),
    ("F not a number", (f"{EXP}.environment.factor", "high"), f"{EXP}.environment.factor", "expected number"),
    ("zero generations", (f"{EXP}.generations", 0), f"{EXP}.generations", "1 <= value"),
    ("generations not an integer", (f"{EXP}.generations", 2.5), f"{EXP}.generations", "expected integer"),
    ("unknown mode", (f"{EXP}.environment.mode", "greedy"), f"{EXP}.environment.mode", "allowed: budget, literal"),
    ("unknown init", (f"{EXP}.init", "random"), f"{EXP}.init", "allowed: inherit, scratch"),
    ("typo in a key", (f"{EXP}.environment.facter", 0.5), f"{EXP}.environment", "did you mean 'factor'"),
    ("missing key", (f"{EXP}.train", DELETE), EXP, "missing key 'train'"),
    ("zero batch size", (f"{EXP}.train.batch_size", 0), f"{EXP}.train.batch_size", "1 <= value"),
    ("negative lr", (f"{EXP}.train.lr", -1.0), f"{EXP}.train.lr", "0 < value"),
    ("momentum one", (f"{EXP}.train.momentum", 1.0), f"{EXP}.train.momentum", "value < 1"),
    ("unknown top-level key", ("experimentz", {}), "(top level)", "did you mean 'experiments'"),
    ("unknown source", ("datasets.digits.source", "kaggle"), "datasets.digits.source", "allowed: fashion_mnist"),
    ("no experiments", ("experiments", {}), "experiments", "at least one"),
    ("bad experiment name", ("experiments.bad-name", TINY_PARAMS["experiments"]["tiny"]), "experiments", "not a valid name"),
]


def _run(tmp_path: Path, args: list[str]) -> tuple[dict, str]:
    result = subprocess.run(
        [sys.executable, "-c", PROBE, *args], cwd=tmp_path, env=engine_env(), capture_output=True, text=True
    )
    return json.loads(result.stdout.strip().splitlines()[-1]), result.stderr.strip()


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    out = tmp_path / "results" / "tiny" / "gen0"
    out.mkdir(parents=True)
    (out / "model.pt").write_bytes(b"an existing artifact")
    return tmp_path


TRAIN = ["train", "--experiment", "tiny", "--generation", "0", "--data", "data/prepared/digits.npz",
         "--out-dir", "results/tiny/gen0"]


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_bad_params_fail_before_compute_with_one_line(workspace: Path, case):
    _, (key, value), expected_key, words = case
    (workspace / "params.yaml").write_text(yaml.safe_dump(_set(TINY_PARAMS, key, value)))
    outcome, stderr = _run(workspace, TRAIN)
    assert outcome == {"code": 2, "torch": False}
    assert "\n" not in stderr, stderr
    assert f"{expected_key}:" in stderr and words in stderr, stderr
    assert (workspace / "results/tiny/gen0/model.pt").read_bytes() == b"an existing artifact"


def test_malformed_yaml(workspace: Path):
    (workspace / "params.yaml").write_text("experiments:\n  tiny: [unclosed\n")
    outcome, stderr = _run(workspace, TRAIN)
    assert outcome == {"code": 2, "torch": False}
    assert "params.yaml: not valid YAML at line" in stderr and "\n" not in stderr


def test_missing_params_file(workspace: Path):
    outcome, stderr = _run(workspace, TRAIN)
    assert outcome["code"] == 2 and "params file not found" in stderr


def test_missing_dataset_file_stops_prepare(workspace: Path):
    params = _set(TINY_PARAMS, "datasets.mine", {"source": "npz", "root": "nowhere/mine.npz"})
    (workspace / "params.yaml").write_text(yaml.safe_dump(params))
    outcome, stderr = _run(workspace, ["prepare", "--dataset", "mine", "--out-dir", "data/prepared"])
    assert outcome == {"code": 2, "torch": False}
    assert stderr.endswith("datasets.mine.root: nowhere/mine.npz: no such .npz file"), stderr
    assert not (workspace / "data").exists()


def test_missing_idx_files_say_where_to_put_them(workspace: Path):
    params = _set(TINY_PARAMS, "datasets.fm", {"source": "fashion_mnist", "root": "raw/fm"})
    (workspace / "params.yaml").write_text(yaml.safe_dump(params))
    outcome, stderr = _run(workspace, ["check"])
    assert outcome["code"] == 2
    assert "datasets.fm.root" in stderr and "train-images-idx3-ubyte[.gz]" in stderr
    assert "raw/fm/FashionMNIST/raw/" in stderr and "dataset-fashion-mnist" in stderr


@pytest.mark.parametrize("args, words", [
    (["--experiment", "nope", "--generation", "0"], "--experiment: 'nope' is not in params.yaml; allowed: tiny"),
    (["--experiment", "tiny", "--generation", "3"], "--generation: 3 is outside 0..2"),
])
def test_bad_targets(workspace: Path, args, words):
    (workspace / "params.yaml").write_text(yaml.safe_dump(TINY_PARAMS))
    outcome, stderr = _run(workspace, ["encode", *args, "--parent", "x.pt", "--out-dir", "out"])
    assert outcome == {"code": 2, "torch": False}
    assert words in stderr


def test_missing_prepared_data_is_reported_not_traced(workspace: Path):
    (workspace / "params.yaml").write_text(yaml.safe_dump(TINY_PARAMS))
    outcome, stderr = _run(workspace, TRAIN)
    assert outcome["code"] == 2  # a DataError is bad input
    assert stderr == "evosynth train: error: data/prepared/digits.npz: prepared dataset missing (run the prepare step)"
    assert (workspace / "results/tiny/gen0/model.pt").read_bytes() == b"an existing artifact"


def test_committed_params_files_are_valid():
    from conftest import ROOT

    from evosynth.pipeline.params import load_params

    for name in ("params.yaml", "params-paper.yaml"):
        params = load_params(ROOT / name)
        assert "fmnist_evonet" in params["experiments"]


def _with_second(**changes) -> dict:
    """TINY_PARAMS plus an experiment ``second`` that starts from tiny's ancestor, with ``changes``."""
    params = copy.deepcopy(TINY_PARAMS)
    second = copy.deepcopy(params["experiments"]["tiny"])
    second.update(ancestor="tiny", environment={"factor": 0.8})
    params["experiments"]["second"] = second
    for dotted, value in changes.items():
        params = _set(params, f"experiments.second.{dotted}", value)
    return params


ANCESTOR_CASES = [
    ("unknown", {"ancestor": "nowhere"}, "is not an experiment that trains its own ancestor; allowed: tiny"),
    ("itself", {"ancestor": "second"}, "is not an experiment that trains its own ancestor; allowed: tiny"),
    ("other seed", {"seed": 1}, "'tiny' trains its ancestor with another seed (0, here 1); allowed: equal seed"),
    ("other epochs", {"train.ancestor_epochs": 2}, "trains its ancestor with another train"),
    ("other data", {"data.train_size": 300}, "trains its ancestor with another data"),
]


@pytest.mark.parametrize("case", ANCESTOR_CASES, ids=[c[0] for c in ANCESTOR_CASES])
def test_a_shared_ancestor_must_be_the_one_the_experiment_would_train(case):
    from evosynth.errors import ParamsError
    from evosynth.pipeline.params import validate_params

    _, changes, words = case
    with pytest.raises(ParamsError, match="experiments.second.ancestor: ") as error:
        validate_params(_with_second(**changes))
    assert words in str(error.value)
    validate_params(_with_second())  # the same ancestor settings are fine


def test_the_default_target_cannot_lean_on_a_named_experiment():
    from evosynth.errors import ParamsError
    from evosynth.pipeline.params import validate_params

    params = _with_second()
    params["experiments"]["tiny"]["default"] = False
    with pytest.raises(ParamsError, match="experiments.second.ancestor: 'tiny' is not in the default target"):
        validate_params(params)
    params["experiments"]["second"]["default"] = False
    params["runtime"] = {"experiments": ["tiny"]}
    with pytest.raises(ParamsError, match="runtime.experiments: 'tiny' is not an experiment of the default target"):
        validate_params(params)


# Values the schema let through and a step, the DVC renderer or Snakemake then
# crashed on. Each must be refused by `check` (and every step) in one line.
NAN, INF = float("nan"), float("inf")
TINY = TINY_PARAMS["experiments"]["tiny"]
CONTRACT_CASES = [
    ("F NaN", (f"{EXP}.environment.factor", NAN), f"{EXP}.environment.factor", "nan is not a finite number"),
    ("F infinite", (f"{EXP}.environment.factor", INF), f"{EXP}.environment.factor", "inf is not a finite number"),
    ("lr infinite", (f"{EXP}.train.lr", INF), f"{EXP}.train.lr", "inf is not a finite number"),
    ("temperature NaN", (f"{EXP}.population", {"temperature": NAN}), f"{EXP}.population.temperature", "not a finite number"),
    ("Fs NaN (null allowed)", (f"{EXP}.environment.synapse_factor", NAN), f"{EXP}.environment.synapse_factor",
     "not a finite number"),
    ("stress NaN", (f"{EXP}.train.stress", NAN), f"{EXP}.train.stress", "not a finite number"),
    ("generations 2.0", (f"{EXP}.generations", 2.0), f"{EXP}.generations", "expected integer, got float 2.0"),
    ("batch size 64.0", (f"{EXP}.train.batch_size", 64.0), f"{EXP}.train.batch_size", "expected integer, got float"),
    ("train size 100.0", (f"{EXP}.data.train_size", 100.0), f"{EXP}.data.train_size", "expected integer or null"),
    ("population 1.0", (f"{EXP}.population", {"size": 1.0}), f"{EXP}.population.size", "expected integer"),
    ("repeats 30.0", ("runtime", {"repeats": 30.0}), "runtime.repeats", "expected integer"),
    ("seed true", (f"{EXP}.seed", True), f"{EXP}.seed", "expected integer, got bool True"),
    ("seed beyond 2^32", (f"{EXP}.seed", 2**32), f"{EXP}.seed", "0 <= value <= 4294967295"),
    ("image size 28.0", ("datasets.digits.image_size", 28.0), "datasets.digits.image_size", "expected integer"),
    ("root with NUL", ("datasets.digits.root", "raw\0digits"), "datasets.digits.root", "control character"),
    ("root with newline", ("datasets.digits.root", "raw\n"), "datasets.digits.root", "control character"),
    ("root beyond PATH_MAX", ("datasets.digits.root", "r" * 5000), "datasets.digits.root", "at most 4096"),
    ("experiment named by a number", ("experiments", {1: TINY}), "experiments", "1 is not a valid name"),
    ("experiment named yes", ("experiments", {True: TINY}), "experiments", "True is not a valid name"),
    ("experiment named null", ("experiments", {None: TINY}), "experiments", "None is not a valid name"),
    ("name with a final newline", ("experiments", {"tiny\n": TINY}), "experiments", "'tiny\\n' is not a valid name"),
    ("name too long for a folder", ("experiments", {"t" * 300: TINY}), "experiments", "at most 64 characters"),
    ("dataset named by a number", ("datasets", {7: {"source": "digits"}}), "datasets", "7 is not a valid name"),
    ("baseline named by a number", ("baselines", {3: {"follow": "tiny", "method": "magnitude"}}), "baselines",
     "3 is not a valid name"),
    ("numbers as unknown keys", (f"{EXP}.environment", {"factor": 0.5, 1: 2, 2: 3}), f"{EXP}.environment",
     "unknown key 1"),
]


@pytest.mark.parametrize("case", CONTRACT_CASES, ids=[c[0] for c in CONTRACT_CASES])
def test_values_the_steps_cannot_run_are_refused(workspace: Path, case):
    test_bad_params_fail_before_compute_with_one_line(workspace, case)


def test_a_long_path_component_is_one_line(workspace: Path):
    """A root under PATH_MAX whose folder name the file system refuses (ENAMETOOLONG)."""
    params = _set(TINY_PARAMS, "datasets.mine", {"source": "npz", "root": "r" * 300 + "/mine.npz"})
    (workspace / "params.yaml").write_text(yaml.safe_dump(params))
    outcome, stderr = _run(workspace, ["check"])
    assert outcome == {"code": 2, "torch": False}
    assert "datasets.mine.root: " in stderr and "\n" not in stderr, stderr


# Duplicate keys and oversized files: the file as text. Each is one line, exit 2.
BASE = yaml.safe_dump(TINY_PARAMS, sort_keys=False)
TEXT_CASES = [
    ("duplicate key", BASE.replace("factor: 0.5", "factor: 0.5\n      factor: 0.9"),
     "params.yaml: line 15: duplicate key 'factor' (first at line 14)"),
    ("duplicate experiment", BASE + "experiments: {}\n", "duplicate key 'experiments' (first at line 5)"),
    ("duplicate key in a flow mapping", BASE.replace("digits:\n", "digits: {source: digits, source: npz}\n  old:\n"),
     "params.yaml: line 2: duplicate key 'source' (first at line 2)"),
    ("larger than 256 kB", BASE + "#" + "x" * 1_100_000 + "\n", "1,075 kB is too large for a params file; allowed: at most 256 kB"),
    ("50 MB (the issue's example)", BASE + "#" * 50_000_000, "kB is too large for a params file; allowed: at most 256 kB"),
    ("alias bomb", "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join([f'*{chr(97 + i)}'] * 10)}]\n" for i in range(6)) + BASE,
     "holds more than 100,000 keys and values (aliases expanded); allowed: at most 100,000"),
    ("nested too deeply", "x: " + "[" * 5000 + "]" * 5000 + "\n" + BASE, "nested more than 32 levels deep at line 1"),
    ("nested deep enough to crash libyaml", "x: " + "[" * 30_000 + "]" * 30_000 + "\n" + BASE,  # 60 kB: a segfault
     "nested more than 32 levels deep at line 1"),
    ("nested by indentation", "".join(" " * i + "a:\n" for i in range(40)) + BASE, "levels deep at line 33"),
    ("not UTF-8", BASE.replace("tiny:", "t\xe9:").encode("latin-1"), "not UTF-8 text at line 6"),
    ("a list as a key", BASE + "? [a, b]\n: 1\n", "not valid YAML at line"),
    ("two documents", BASE + "---\n" + BASE, "not valid YAML at line"),
    ("a Python tag", BASE.replace("factor: 0.5", "factor: !!python/name:os.system"), "not valid YAML at line"),
]


@pytest.mark.parametrize("case", TEXT_CASES, ids=[c[0] for c in TEXT_CASES])
def test_params_files_every_engine_reads_alike_or_refuses(workspace: Path, case):
    _, text, words = case
    path = workspace / "params.yaml"
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    outcome, stderr = _run(workspace, TRAIN)
    assert outcome == {"code": 2, "torch": False}
    assert stderr.startswith("evosynth: error: params.yaml: ") and words in stderr and "\n" not in stderr, stderr
    assert (workspace / "results/tiny/gen0/model.pt").read_bytes() == b"an existing artifact"


def test_merge_keys_and_aliases_are_not_duplicates(tmp_path: Path):
    """``<<: *tiny`` then ``seed: 1`` overrides a merged key: YAML's merge, not a key written twice."""
    from evosynth.pipeline.params import load_params

    text = BASE.replace("  tiny:\n", "  tiny: &tiny\n") + "  second:\n    <<: *tiny\n    seed: 1\n"
    (tmp_path / "params.yaml").write_text(text)
    params = load_params(tmp_path / "params.yaml")
    assert params["experiments"]["second"]["seed"] == 1
    assert params["experiments"]["second"]["train"] == params["experiments"]["tiny"]["train"]


def test_the_c_loader_is_used_where_libyaml_is_installed():
    from evosynth.pipeline import paramsfile

    assert yaml.__with_libyaml__ and issubclass(paramsfile.StrictLoader, yaml.CSafeLoader)
