"""A user's dataset file or folder is a dependency of its prepare stage in both engines (docs/user-data.md).

The documented example (an .npz inside the project) runs end to end with DVC
and with Snakemake; replacing the file at the same path prepares the data again
and reruns what was trained on it. An IDX folder outside the project (an absolute
root) is a dependency too: a file edited in place, the folder's own time left as
it was, re-prepares it in both engines. A dataset without its path is refused in
one line by `check` and by `prepare`.
"""

from __future__ import annotations

import copy
import gzip
import json
import os
import re
import struct
from pathlib import Path

import numpy as np
import pytest
import yaml
from conftest import BIN, ROOT, TINY_PARAMS, make_project, run, write_params

DVC, SNAKEMAKE, EVOSYNTH = str(BIN / "dvc"), str(BIN / "snakemake"), str(BIN / "evosynth")


def doc_example() -> dict:
    """The YAML block docs/user-data.md shows as the complete user-dataset example."""
    text = (ROOT / "docs/user-data.md").read_text()
    block = re.search(r"<!-- user-dataset-example -->\n```yaml\n(.*?)```", text, re.S)
    assert block, "docs/user-data.md lost its example"
    return yaml.safe_load(block.group(1))


def _images(seed: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    """``n`` 8×8 images of 3 classes whose mean brightness tells the class (learnable), seeded."""
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % 3
    x = rng.integers(0, 60, (n, 8, 8)) + 80 * labels[:, None, None]
    return x.astype(np.uint8), labels.astype(np.uint8)


def write_npz(path: Path, seed: int) -> None:
    x, y = _images(seed, 90)
    xt, yt = _images(seed + 100, 30)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as handle:
        np.savez(handle, x_train=x, y_train=y, x_test=xt, y_test=yt)


def write_idx(folder: Path, seed: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    x, y = _images(seed, 60)
    xt, yt = _images(seed + 100, 30)
    for stem, a in {"train-images-idx3-ubyte": x, "train-labels-idx1-ubyte": y,
                    "t10k-images-idx3-ubyte": xt, "t10k-labels-idx1-ubyte": yt}.items():
        header = struct.pack(">BBBB", 0, 0, 0x08, a.ndim) + struct.pack(f">{a.ndim}I", *a.shape)
        (folder / f"{stem}.gz").write_bytes(gzip.compress(header + a.tobytes(), mtime=0))


def edit_in_place(folder: Path) -> None:
    """Rewrite one file of ``folder`` with other test images, keeping the folder's own times."""
    times = os.stat(folder)
    xt, _ = _images(7, 30)
    header = struct.pack(">BBBB", 0, 0, 0x08, 3) + struct.pack(">3I", *xt.shape)
    with open(folder / "t10k-images-idx3-ubyte.gz", "r+b") as handle:  # same inode, same folder entry
        handle.write(gzip.compress(header + xt.tobytes(), mtime=0))
        handle.truncate()
    os.utime(folder, ns=(times.st_atime_ns, times.st_mtime_ns))


def _ran(output: str) -> set[str]:
    """Stage names DVC ran."""
    return set(re.findall(r"Running stage '(?:[^':]*:)?([^']+)'", output))


def _planned(project: Path, *targets: str) -> dict[str, int]:
    out = run([SNAKEMAKE, "-n", *targets], cwd=project)
    text = out.stdout + out.stderr
    if "Nothing to be done" in text:
        return {}
    table = text.split("Job stats:", 1)[1].split("\n\n", 1)[0]
    return {rule: int(n) for rule, n in re.findall(r"^(\w+)\s+(\d+)$", table, re.M) if rule not in ("total", "all")}


def _outside_params(folder: Path) -> dict:
    """The tiny experiment on an IDX folder outside the project (absolute root)."""
    params = copy.deepcopy(TINY_PARAMS)
    params["datasets"] = {"mine": {"source": "idx", "root": str(folder), "image_size": 28}}
    params["experiments"]["tiny"]["dataset"] = "mine"
    return params


def test_the_plan_derives_each_prepare_stage_s_raw_dependencies(tmp_path):
    from evosynth.pipeline.params import validate_params
    from evosynth.pipeline.plan import build_plan

    params = copy.deepcopy(doc_example())
    params["datasets"].update(
        kitti={"source": "kitti", "root": "/data/kitti", "val_list": "lists/val.txt"},
        cifar={"source": "cifar10"}, fetched={"source": "mnist", "download": True},
        digits={"source": "digits", "image_size": 28},
        msra={"source": "msra_b", "root": "data/raw/msra_b"}, stl={"source": "stl10", "root": "/srv/stl10"})
    architecture = {"kitti": "yolov2", "msra": "vgg16_saliency"}  # each task's network
    for name in params["datasets"]:
        params["experiments"][f"on_{name}"] = {**params["experiments"]["my_evonet"], "dataset": name, "default": False,
                                               "architecture": architecture.get(name, "lenet5")}
    deps = {s.dataset: s.deps[1:] for s in build_plan(validate_params(params)) if s.step == "prepare"}
    assert deps == {"my_digits": ("data/raw/my_digits.npz",), "kitti": ("/data/kitti", "lists/val.txt"),
                    "cifar": ("data/raw/cifar10",), "fetched": (), "digits": (), "msra": ("data/raw/msra_b",),
                    "stl": ("/srv/stl10",)}


@pytest.mark.slow
def test_the_documented_example_runs_and_a_replaced_file_reruns_it_in_dvc(tmp_path):
    project = make_project(tmp_path / "p", doc_example())
    write_npz(project / "data/raw/my_digits.npz", seed=1)
    assert run([EVOSYNTH, "check"], cwd=project).returncode == 0
    first = run([DVC, "repro"], cwd=project).stdout
    assert {"prepare-my_digits", "stress_train-my_evonet-gen0", "report-my_evonet"} <= _ran(first)
    lock = yaml.safe_load((project / "dvc.lock").read_text())["stages"]["prepare-my_digits"]
    assert "data/raw/my_digits.npz" in [d["path"] for d in lock["deps"]]
    assert "Running stage" not in run([DVC, "repro"], cwd=project).stdout
    card = json.loads((project / "data/prepared/my_digits.card.json").read_text())
    write_npz(project / "data/raw/my_digits.npz", seed=2)  # the same path, other images
    assert "prepare-my_digits" in run([DVC, "status"], cwd=project).stdout
    second = run([DVC, "repro"], cwd=project).stdout
    assert {"prepare-my_digits", "stress_train-my_evonet-gen0", "retrain-my_evonet-gen2"} <= _ran(second), second
    again = json.loads((project / "data/prepared/my_digits.card.json").read_text())
    assert again["sha256"]["x_train"] != card["sha256"]["x_train"]
    assert again["train"]["count"] + again["validation"]["count"] == 90  # the validation part is held out


@pytest.mark.slow
def test_the_documented_example_runs_and_a_replaced_file_reruns_it_in_snakemake(tmp_path):
    project = make_project(tmp_path / "p", doc_example(), git=False)
    write_npz(project / "data/raw/my_digits.npz", seed=1)
    run([SNAKEMAKE, "-c2"], cwd=project)
    assert _planned(project) == {}
    before = (project / "data/prepared/my_digits.npz").read_bytes()
    write_npz(project / "data/raw/my_digits.npz", seed=2)
    planned = _planned(project)
    assert planned.get("prepare") == 1 and planned.get("stress_train") == 1 and planned.get("retrain") == 2, planned
    run([SNAKEMAKE, "-c2"], cwd=project)
    assert (project / "data/prepared/my_digits.npz").read_bytes() != before


@pytest.mark.slow
def test_a_folder_outside_the_project_is_a_dependency_in_both_engines(tmp_path):
    folder = tmp_path / "elsewhere" / "idx"
    write_idx(folder, seed=3)
    params = _outside_params(folder)
    dvc_project = make_project(tmp_path / "dvc", params)
    snake_project = make_project(tmp_path / "snake", params, git=False)
    stage = yaml.safe_load((dvc_project / "dvc.yaml").read_text())["stages"]["prepare-mine"]
    assert stage["deps"][-1] == str(folder)  # DVC: the folder itself, an absolute (external) path
    dry = run([SNAKEMAKE, "-n", "-c1", "data/prepared/mine.npz"], cwd=snake_project).stdout
    inputs = re.search(r"^rule prepare:\n(?:    .*\n)*?    input: (.*)$", dry, re.M).group(1).split(", ")
    assert sorted(inputs[1:]) == sorted(str(p) for p in folder.iterdir())  # Snakemake: its files
    assert "prepare-mine" in _ran(run([DVC, "repro", "prepare-mine"], cwd=dvc_project).stdout)
    run([SNAKEMAKE, "-c1", "data/prepared/mine.npz"], cwd=snake_project)
    assert _planned(snake_project, "data/prepared/mine.npz") == {}
    edit_in_place(folder)
    assert "prepare-mine" in _ran(run([DVC, "repro", "prepare-mine"], cwd=dvc_project).stdout)
    assert _planned(snake_project, "data/prepared/mine.npz") == {"prepare": 1}
    assert (dvc_project / "data/prepared/mine.npz").read_bytes() != b""


def _one_line_error(project: Path, *args: str) -> str:
    result = run([EVOSYNTH, *args], cwd=project, check=False)
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    return result.stderr


def test_a_user_dataset_without_its_path_is_refused_in_one_line(tmp_path):
    project = make_project(tmp_path / "p", doc_example(), git=False)
    params = doc_example()
    del params["datasets"]["my_digits"]["root"]
    write_params(project / "params.yaml", params)
    assert "params.yaml: datasets.my_digits: missing key 'root'" in _one_line_error(project, "check")
    params = doc_example()  # the path given, the file absent
    write_params(project / "params.yaml", params)
    assert "datasets.my_digits.root: data/raw/my_digits.npz: no such .npz file" in _one_line_error(project, "check")
    params["experiments"]["my_evonet"]["default"] = False  # data only a named experiment uses: checked on prepare
    write_params(project / "params.yaml", params)
    assert run([EVOSYNTH, "check"], cwd=project).returncode == 0
    error = _one_line_error(project, "prepare", "--dataset", "my_digits", "--out-dir", "data/prepared")
    assert "datasets.my_digits.root: data/raw/my_digits.npz: no such .npz file" in error
    del params["datasets"]["my_digits"]["root"]
    write_params(project / "params.yaml", params)
    snake = run([SNAKEMAKE, "-n", "-c1"], cwd=project, check=False)  # Snakemake reads params through the same check
    assert snake.returncode != 0 and "datasets.my_digits: missing key 'root'" in snake.stdout + snake.stderr
