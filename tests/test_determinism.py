"""Same params and seed, fresh processes: identical masks, weights and metrics.

The tiny experiment's steps run twice through the `evosynth` command, exactly
as the plan gives them to DVC and Snakemake, each time in its own temporary
folder and its own processes (with different string-hash seeds, so nothing may
depend on the iteration order of a set). The two runs go concurrently: the
result must not depend on what else the machine is doing either.
"""

from __future__ import annotations

import json
import shlex
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import torch
from conftest import TINY_PARAMS, engine_env, write_params

GENERATIONS = TINY_PARAMS["experiments"]["tiny"]["generations"]


def _commands() -> list[str]:
    from evosynth.pipeline.params import validate_params
    from evosynth.pipeline.plan import build_plan

    # every step up to each generation's metrics; the report only re-tabulates them
    return [s.cmd for s in build_plan(validate_params(TINY_PARAMS)) if s.step not in ("report", "code")]


def _run_all(folder: Path, hash_seed: str) -> Path:
    folder.mkdir(parents=True)
    write_params(folder / "params.yaml", TINY_PARAMS)
    env = {**engine_env(), "PYTHONHASHSEED": hash_seed}  # engine_env pins EVOSYNTH_THREADS=1
    for cmd in _commands():
        result = subprocess.run(shlex.split(cmd), cwd=folder, env=env, capture_output=True, text=True, timeout=600)
        assert result.returncode == 0, f"{cmd} failed in {folder}:\n{result.stderr}"
    return folder


def _checkpoint(path: Path) -> dict:
    return torch.load(path, map_location="cpu", weights_only=True)


@pytest.mark.slow
def test_same_params_and_seed_give_identical_results_in_fresh_processes(tmp_path):
    with ThreadPoolExecutor(2) as pool:
        first, second = pool.map(_run_all, [tmp_path / "a", tmp_path / "b"], ["1", "2"])
    for g in range(GENERATIONS + 1):
        folder = f"results/tiny/gen{g}"
        metrics = (first / folder / "metrics.json").read_bytes()
        assert metrics == (second / folder / "metrics.json").read_bytes(), f"gen{g} metrics.json differ"
        assert json.loads(metrics)["generation"] == g
        names = ["model.pt"] + (["offspring.pt", "genome.pt"] if g else [])
        for name in names:
            a, b = _checkpoint(first / folder / name), _checkpoint(second / folder / name)
            assert a["masks"].keys() == b["masks"].keys()
            for layer in a["masks"]:
                assert torch.equal(a["masks"][layer], b["masks"][layer]), f"gen{g} {name} {layer}: masks differ"
            for key in a["state_dict"]:
                assert torch.equal(a["state_dict"][key], b["state_dict"][key]), f"gen{g} {name} {key}: weights differ"
        if g:
            assert (first / folder / "synthesis.json").read_bytes() == (second / folder / "synthesis.json").read_bytes()
        log_a = json.loads((first / folder / "train_log.json").read_text())["epochs"]
        log_b = json.loads((second / folder / "train_log.json").read_text())["epochs"]
        drop = lambda log: [{k: v for k, v in e.items() if k != "seconds"} for e in log]  # noqa: E731
        assert drop(log_a) == drop(log_b)  # losses and train accuracies too; only the wall time may differ
    card = "data/prepared/digits.card.json"
    assert (first / card).read_bytes() == (second / card).read_bytes()
