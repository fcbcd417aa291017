"""Deviation 1: the StressedNets experiments use StressedNets' own encoding (its eq. 2).

Clusters first, then synapses, with filters (and fc neurons) as clusters: filters die, which plain
EvoNet encoding never did (stressed_f080 gen 5 was 20-50-800-493). Run through the pipeline's own
encode and synthesize steps with params.yaml's stressed experiments, from a LeNet5-Caffe ancestor
stress-trained on tiny data.
"""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import torch
from conftest import record

from evosynth.artifacts import load_checkpoint, save_checkpoint
from evosynth.data.prepared import Split
from evosynth.nets.architectures import build_model
from evosynth.nets.masks import full_masks, unit_mask
from evosynth.pipeline.params import load_params
from evosynth.pipeline.steps.encode import run_encode
from evosynth.pipeline.steps.synthesize import run_synthesize
from evosynth.training import TrainConfig, train

ROOT = Path(__file__).resolve().parents[1]
SWEEP = ["stressed_f095", "stressed_f090", "stressed_f080", "stressed_f060", "stressed_f040", "stressed_f020"]


@pytest.fixture(scope="module")
def params():
    return load_params(ROOT / "params.yaml")


@pytest.fixture(scope="module")
def ancestor(tmp_path_factory):
    """A LeNet5-Caffe ancestor stress-trained (β = 0.9) for one epoch on 256 tiny random images."""
    torch.manual_seed(0)
    model = build_model("lenet5", (1, 28, 28), 10)
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(256, 1, 28, 28, generator=g), torch.randint(0, 10, (256,), generator=g)
    masks = full_masks(model)
    train(model, masks, Split(x, y, x[:32], y[:32]), TrainConfig(epochs=1, batch_size=32, stress=0.9), seed=0,
          on=torch.device("cpu"))
    path = tmp_path_factory.mktemp("ancestor") / "model.pt"
    save_checkpoint(path, "model", {"state_dict": model.state_dict(), "masks": masks, "architecture": "lenet5",
                                    "input_shape": (1, 28, 28), "num_classes": 10, "experiment": "stressed"})
    record(path)
    return path


def _filters(params, experiment: str, parent: Path, folder: Path, generations: int) -> list[list[int]]:
    """Living filters / neurons per layer after each generation (encode → synthesize, inherited weights)."""
    counts = []
    for gen in range(1, generations + 1):
        out = folder / f"gen{gen}"
        (out / "enc").mkdir(parents=True)
        (out / "syn").mkdir()
        run_encode(params, experiment, gen, [parent], out / "enc")
        run_synthesize(params, experiment, gen, out / "enc" / "genome.pt", out / "syn")
        child = load_checkpoint(out / "syn" / "offspring.pt", "offspring")
        counts.append([int(unit_mask(m).sum()) for m in child["masks"].values()])
        parent = out / "model.pt"
        save_checkpoint(parent, "model", {k: child[k] for k in
                                          ("state_dict", "masks", "architecture", "input_shape", "num_classes",
                                           "experiment")})
        record(parent)
    return counts


def test_every_stressed_experiment_uses_stressednets_encoding(params):
    for name in SWEEP:
        exp = params["experiments"][name]
        assert exp["method"] == "cluster" and exp["encoding"]["clusters"] == "filter", name
        assert exp["train"]["stress"] < 1, name
        env = exp["environment"]
        assert abs(env["cluster_factor"] - env["factor"] ** 0.5) < 1e-3, name  # F_c = √F
    control = params["experiments"][params["comparisons"]["stressed_vs_unstressed"]["control"]]
    treatment = params["experiments"][params["comparisons"]["stressed_vs_unstressed"]["treatment"]]
    assert control["train"]["stress"] == 1.0
    for key in ("method", "encoding", "environment", "architecture", "generations"):
        assert control[key] == treatment[key], key  # the pair differs only in stress


def test_stressed_arm_kills_filters_and_plain_evonet_encoding_did_not(params, ancestor, tmp_path):
    stressed = _filters(params, "stressed_f080", ancestor, tmp_path / "new", 3)
    assert stressed[-1][0] < 20 and stressed[-1][1] < 50 and stressed[-1][2] < 500  # conv1, conv2, fc1 shrink
    assert stressed[-1][3] == 10  # every class survives
    old = copy.deepcopy(params)
    old["experiments"]["stressed_f080"].update(method="evonet", environment={**old["experiments"]["stressed_f080"][
        "environment"], "cluster_factor": 1.0})
    plain = _filters(old, "stressed_f080", ancestor, tmp_path / "old", 3)
    assert plain[-1][:2] == [20, 50]  # the deviation: EvoNet encoding kills no filter at F = 0.8
