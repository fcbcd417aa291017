"""EvoNet Table II on HKU-IS as a stage of the saliency experiment, in both engines.

Every generation of an experiment with ``test_on: [hku_is]`` is scored on all
of HKU-IS without retraining (the ``transfer`` stages, running ``evosynth
evaluate``), and ``paper_tables`` writes EvoNet Tables I and II (quoted rows
beside measured ones).
"""

from __future__ import annotations

import copy
import functools
import json
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import BIN, TINY_PARAMS, make_project, record, run
from PIL import Image
from test_workflow import dvc_dag, snakemake_dag, without_raw

from evosynth.artifacts import save_checkpoint
from evosynth.errors import ParamsError
from evosynth.nets import architectures as models
from evosynth.nets.architectures.vgg_saliency import VGG16Saliency
from evosynth.nets.masks import full_masks, prunable_layers
from evosynth.pipeline.cli import main
from evosynth.pipeline.params import validate_params
from evosynth.pipeline.plan import build_plan
from evosynth.pipeline.steps.common import network_payload

SIDE = 32


def _saliency_params(root: str = "absent") -> dict:
    params = copy.deepcopy(TINY_PARAMS)
    params["datasets"].update(
        msra_b={"source": "msra_b", "root": f"{root}/msra_b", "image_size": SIDE},
        hku_is={"source": "hku_is", "root": f"{root}/hku_is", "image_size": SIDE},
    )
    spec = copy.deepcopy(params["experiments"]["tiny"])
    spec.update(dataset="msra_b", architecture="vgg16_saliency", generations=2, default=False, test_on=["hku_is"],
                data={"train_size": None, "test_size": None})
    params["experiments"]["s"] = spec
    return params


def test_the_plan_scores_every_generation_on_hku_is_and_builds_the_tables() -> None:
    plan = {s.name: s for s in build_plan(validate_params(_saliency_params()))}
    transfer = [plan[f"transfer-s-hku_is-gen{g}"] for g in range(3)]
    assert [s.folder for s in transfer] == [f"reports/s/hku_is/gen{g}" for g in range(3)]
    assert transfer[2].cmd.split()[1] == "evaluate" and "--data data/prepared/hku_is.npz" in transfer[2].cmd
    assert {"results/s/gen2/model.pt", "results/s/gen2/genome.pt", "data/prepared/hku_is.npz"} <= set(transfer[2].deps)
    assert not any(d.startswith("data/prepared/msra_b") for d in transfer[2].deps)  # no retraining, no MSRA-B
    tables = plan["paper_tables-s"]
    assert set(tables.deps) >= {f"reports/s/hku_is/gen{g}/metrics.json" for g in range(3)}
    assert set(tables.deps) >= {f"results/s/gen{g}/metrics.json" for g in range(3)}
    assert not plan["prepare-hku_is"].default and not tables.default  # run by name, as the experiment is
    assert "transfer-tiny-hku_is-gen0" not in plan  # only experiments that ask


@pytest.mark.parametrize("bad", [["msra_b"], ["digits"], ["nope"]])
def test_test_on_names_another_set_of_the_same_task(bad) -> None:
    params = _saliency_params()
    params["experiments"]["s"]["test_on"] = bad
    with pytest.raises(ParamsError, match=r"experiments\.s\.test_on: .* is not another saliency dataset; allowed: hku_is"):
        validate_params(params)


def test_the_hku_is_stages_are_identical_in_both_engines(tmp_path: Path) -> None:
    project = make_project(tmp_path / "p", _saliency_params(), git=False)
    for name in ("msra_b", "hku_is"):  # raw folders are dependencies: Snakemake needs them to exist
        (project / "absent" / name).mkdir(parents=True, exist_ok=True)
        (project / "absent" / name / "README").write_text("no images: only the DAG is compared\n")
    run([sys.executable, "workflow/scripts/render_dvc.py", "--with", "s"], cwd=project)  # default: false: on request
    run(["git", "init", "-q"], cwd=project)
    run([str(BIN / "dvc"), "init", "-q"], cwd=project)
    dvc = dvc_dag(project)
    snake = snakemake_dag(project, "all", "reports/s/paper_tables.md", "reports/s/generations.md")
    stages = {j for j in dvc if j[0] in ("transfer", "paper_tables")}
    assert len(stages) == 3 + 1
    assert {j for j in snake if j[0] in ("transfer", "paper_tables")} == stages
    assert without_raw(dvc, "absent") == without_raw(snake, "absent")  # and everything they need


def _hand_made_hku_is(root: Path) -> list[float]:
    """Three images with masks whose salient fractions are 1/2, 1/4 and 1/16."""
    (root / "imgs").mkdir(parents=True)
    (root / "gt").mkdir(parents=True)
    g = np.random.default_rng(0)
    fractions = []
    for i, (rows, cols) in enumerate([(SIDE // 2, SIDE), (SIDE // 2, SIDE // 2), (SIDE // 4, SIDE // 4)]):
        mask = np.zeros((SIDE, SIDE), dtype=np.uint8)
        mask[:rows, :cols] = 255
        fractions.append(rows * cols / SIDE**2)
        Image.fromarray(g.integers(0, 256, (SIDE, SIDE, 3), dtype=np.uint8)).save(root / "imgs" / f"{i:04d}.png")
        Image.fromarray(mask).save(root / "gt" / f"{i:04d}.png")
    return fractions


def test_transfer_scores_of_a_constant_map_on_hand_made_masks_are_known(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fractions = _hand_made_hku_is(tmp_path / "raw" / "hku_is")
    params = _saliency_params("raw")
    (tmp_path / "params.yaml").write_text(json.dumps(params))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("EVOSYNTH_WARM", "0")
    monkeypatch.setenv("EVOSYNTH_DEVICE", "cpu")
    monkeypatch.setitem(models.ARCHITECTURES, "vgg16_saliency", functools.partial(VGG16Saliency, width=1 / 16))
    # a network whose saliency map is 0.25 everywhere: the score layer's weights 0, its bias the logits
    model = models.build_model("vgg16_saliency", (3, SIDE, SIDE), 2)
    name, score = prunable_layers(model)[-1]
    with torch.no_grad():
        score.weight.zero_()
        score.bias.copy_(torch.tensor([0.0, float(np.log(0.25 / 0.75))]))
    like = {"architecture": "vgg16_saliency", "input_shape": [3, SIDE, SIDE], "num_classes": 2, "experiment": "s"}
    save_checkpoint(tmp_path / "results/s/gen0/model.pt", "model",
                    network_payload(model, full_masks(model), like, generation=0))
    record(tmp_path / "results/s/gen0/model.pt")  # as the training step would leave it
    step = {s.name: s for s in build_plan(validate_params(params))}["transfer-s-hku_is-gen0"]
    assert main(["prepare", "--params", "params.yaml", "--dataset", "hku_is", "--out-dir", "data/prepared"]) == 0
    assert main(step.cmd.split()[1:]) == 0  # the stage's own command line
    scores = json.loads((tmp_path / step.folder / "metrics.json").read_text())
    s, f = 0.25, np.array(fractions)
    assert scores["mae"] == pytest.approx(float(np.mean(s * (1 - f) + (1 - s) * f)), abs=1e-5)
    # adaptive threshold 2·0.25 = 0.5 > every pixel: nothing is salient, Fβ = P = R = 0
    assert scores["f_beta"] == scores["precision"] == scores["recall"] == 0.0
    # below round(255·0.25) every pixel is salient: P = the salient fraction, R = 1
    p = float(f.mean())
    assert scores["max_f_beta"] == pytest.approx(1.3 * p / (0.3 * p + 1), abs=1e-6)
    assert scores["synapses"] == sum(m.numel() for m in full_masks(model).values())


def test_paper_tables_quote_the_paper_beside_each_measured_generation() -> None:
    from evosynth.reporting.evonet import evonet_tables

    rows = [{"generation": g, "synapses": 100 // (g + 1), "synaptic_efficiency": g + 1.0, "f_beta": 0.5,
             "mae": 0.125, "accuracy": 0.5} for g in range(2)]
    table_i, table_ii = evonet_tables("s", {"msra_b": ("msra_b", rows, ["a0", "a1"]),
                                            "hku_is": ("hku_is", rows, ["b0", "b1"])})
    assert table_i.title.startswith("EvoNet Table I on msra_b") and table_ii.title.startswith("EvoNet Table II on hku_is")
    records = table_ii.records()
    assert [r["source"] for r in records] == ["quoted"] * 4 + ["measured"] * 2
    assert (records[1]["synapses"], records[1]["synaptic_efficiency"], records[1]["f_beta"], records[1]["mae"]) == (
        "15471797", "4.12X", "0.826", "0.0911")
    assert records[4]["reference"] == "b0" and records[5]["synaptic_efficiency"] == 2.0
    assert "| s | 1 | 50 | 2.00X | 0.500 | 0.1250 | measured | b1 |" in table_ii.markdown()
