"""The pick's additions are off by default: the pipeline then writes the very masks and weights it wrote before.

The tiny experiments (EvoNet; cluster-driven with filter clusters and a MAC
budget; an L1-filter and a magnitude baseline) run step by step through the
`evosynth` command twice: with the source of the commit before the additions
(``BEFORE``, taken from git) and with this source, whose params also spell
out every new key at its default. Every checkpoint must be equal bit for bit.
"""

from __future__ import annotations

import copy
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import torch
from conftest import ROOT, TINY_PARAMS, engine_env, write_params

#: The last commit before the pick's additions (distillation, schedules, adaptive environment).
BEFORE = "8e575a0"

DRIVER = """
import shlex, sys
from evosynth.pipeline.cli import main
for line in open(sys.argv[1]).read().splitlines():
    code = main(shlex.split(line)[1:])
    if code:
        sys.exit(f"{line}: exit {code}")
"""


def _params(explicit: bool) -> dict:
    params = copy.deepcopy(TINY_PARAMS)
    tiny = params["experiments"]["tiny"]
    params["experiments"]["tinyc"] = {
        **copy.deepcopy(tiny), "ancestor": "tiny", "method": "cluster",
        "encoding": {"clusters": "filter", "truncation": 0.1},
        "environment": {"factor": 0.6, "cluster_factor": 0.8, "mode": "budget", "target": "macs"},
    }
    params["baselines"] = {"tiny_l1": {"follow": "tinyc", "method": "l1_filter"},
                           "tiny_mag": {"follow": "tiny", "method": "magnitude"}}
    if explicit:  # every new key written out at its default
        # the validation part (held out of training) changes the data on purpose; without one the data are as before
        params["datasets"]["digits"]["validation"] = {"fraction": 0.0, "seed": 0}
        # portable numerics pin other kernels on purpose; native numerics compute as the old source did
        params["numerics"] = "native"
        for exp in params["experiments"].values():
            exp["train"].update(schedule="constant", rewind=False, distill={"alpha": 0.0, "temperature": 4.0})
            exp["environment"]["adaptive"] = None
            # the budget correction (F measured after compaction) changes masks on purpose; its
            # switch back to the uncorrected calibration isolates the pick's additions
            exp["environment"]["calibrate"] = "sampled"
    return params


def _commands(params: dict) -> list[str]:
    from evosynth.pipeline.params import validate_params
    from evosynth.pipeline.plan import build_plan

    return [s.cmd for s in build_plan(validate_params(params)) if s.step not in ("report", "code")]


def _source_before(folder: Path) -> Path:
    archive = subprocess.run(["git", "archive", BEFORE, "src"], cwd=ROOT, capture_output=True, check=False)
    if archive.returncode != 0:
        pytest.skip(f"commit {BEFORE} is not in this clone's history")
    folder.mkdir(parents=True)
    subprocess.run(["tar", "-x", "-C", str(folder)], input=archive.stdout, check=True)
    return folder / "src"


def _run(folder: Path, source: Path, params: dict, commands: list[str]) -> Path:
    folder.mkdir(parents=True)
    write_params(folder / "params.yaml", params)
    (folder / "commands.txt").write_text("\n".join(commands))
    env = {**engine_env(), "PYTHONPATH": str(source), "EVOSYNTH_WARM": "0"}
    result = subprocess.run([sys.executable, "-c", DRIVER, "commands.txt"], cwd=folder, env=env,
                            capture_output=True, text=True, timeout=900, check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    return folder


def test_defaults_reproduce_the_masks_and_weights_of_the_commit_before(tmp_path):
    old_params = _params(explicit=False)
    commands = _commands(old_params)
    assert commands == _commands(_params(explicit=True))  # the defaults add no dependency and no argument
    before = _source_before(tmp_path / "before")
    with ThreadPoolExecutor(2) as pool:
        old = pool.submit(_run, tmp_path / "old", before, old_params, commands)
        new = pool.submit(_run, tmp_path / "new", ROOT / "src", _params(explicit=True), commands)
        old_dir, new_dir = old.result(), new.result()
    # the two runs did run different sources: only the new one knows the new keys (its provenance records them)
    provenance = "results/tiny/gen1/retrain.provenance.json"
    assert "schedule" not in (old_dir / provenance).read_text() and "schedule" in (new_dir / provenance).read_text()
    checkpoints = sorted(p.relative_to(old_dir) for p in old_dir.glob("results/**/*.pt"))
    assert len(checkpoints) >= 20  # models, offspring and genomes of both experiments and both baselines
    for path in checkpoints:
        a = torch.load(old_dir / path, weights_only=True)
        b = torch.load(new_dir / path, weights_only=True)
        for key in ("masks", "state_dict"):
            if key in a:
                assert a[key].keys() == b[key].keys(), path
                for name in a[key]:
                    assert torch.equal(a[key][name], b[key][name]), f"{path}: {key}.{name} differs"
    for path in old_dir.glob("results/**/metrics.json"):
        assert path.read_text() == (new_dir / path.relative_to(old_dir)).read_text(), path
