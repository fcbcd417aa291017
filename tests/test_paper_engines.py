"""End to end: the papers' new experiments run in both engines on their datasets' on-disk formats.

One project holds three named experiments (``default: false``) at reduced widths
(``width``): sexual synthesis of ResNet-56 on CIFAR-10 for two generations (the
second mates parents whose residual streams differ), EvoNet's saliency network
on MSRA-B with every generation scored on HKU-IS (``transfer``) and EvoNet
Tables I–II (``paper_tables``), and DetectNet on KITTI with the cluster paper's
Table 3. DVC runs them as the README says (``render_dvc.py --with``, then
``dvc repro pipelines/<e>/dvc.yaml``), Snakemake from their report files; each
engine in its own copy of the project. Every output either engine hashes must
come out byte for byte the same from both (README: Determinism).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import torch
from conftest import BIN, make_project, run
from fixtures_data import write_cifar10, write_hku_is, write_msra_b
from fixtures_detection import write_kitti
from test_paper_experiments import _compacted

from evosynth.artifacts import sha256
from evosynth.nets.coupling import coupled_channels
from evosynth.nets.masks import unit_mask
from evosynth.pipeline.params import validate_params
from evosynth.pipeline.plan import build_plan

DVC, SNAKEMAKE = str(BIN / "dvc"), str(BIN / "snakemake")
TRAIN = {"ancestor_epochs": 1, "epochs": 1, "batch_size": 64, "lr": 0.001, "momentum": 0.9, "weight_decay": 0.0005}


def _named(dataset: str, architecture: str, method: str, width: float, generations: int, **extra) -> dict:
    spec = {"default": False, "dataset": dataset, "architecture": architecture, "width": width, "method": method,
            "generations": generations, "seed": 0, "init": "inherit", "environment": {"factor": 0.5, "mode": "budget"},
            "train": dict(TRAIN), "data": {"train_size": None, "test_size": None}}
    return {**spec, **extra}


PARAMS = {
    "datasets": {
        "cifar10": {"source": "cifar10", "root": "raw/cifar10"},
        "msra_b": {"source": "msra_b", "root": "raw/msra_b", "image_size": 32},
        "hku_is": {"source": "hku_is", "root": "raw/hku_is", "image_size": 32},
        "kitti": {"source": "kitti", "root": "raw/kitti", "image_size": 64, "val_list": "raw/val.txt"},
    },
    "experiments": {
        # sexual paper eq. 3-5 on a residual network: filter clusters, so whole residual channels die
        "resnet_sexual": _named("cifar10", "resnet56", "sexual", 0.25, 2,
                                encoding={"clusters": "filter", "truncation": 0.1},
                                environment={"factor": 0.5, "cluster_factor": 0.6, "mode": "budget"},
                                population={"size": 2, "parents": "random"}),
        # EvoNet Tables I and II: C = 0.4, every generation scored on all of HKU-IS without retraining
        "saliency": _named("msra_b", "vgg16_saliency", "evonet", 0.0625, 1, test_on=["hku_is"],
                           environment={"factor": 0.4, "mode": "budget"}),
        # cluster paper §3 (Tables 3 and 6): kernel clusters, F = 0.8, F_c = 0.85
        "detectnet": _named("kitti", "detectnet", "cluster", 0.125, 1,
                            encoding={"clusters": "kernel", "truncation": 0.1},
                            environment={"factor": 0.8, "cluster_factor": 0.85, "mode": "budget"}),
    },
}
NAMED = tuple(PARAMS["experiments"])
TARGETS = ["reports/resnet_sexual/generations.md", "reports/saliency/paper_tables.md", "reports/saliency/generations.md",
           "reports/detectnet/paper_tables.md", "reports/detectnet/generations.md"]


def _project(path: Path, git: bool) -> Path:
    """The project around PARAMS with tiny copies of CIFAR-10, MSRA-B, HKU-IS and KITTI under raw/."""
    project = make_project(path, PARAMS, git=git)
    write_cifar10(project / "raw" / "cifar10", per_batch=2)
    write_msra_b(project / "raw" / "msra_b", n=8, side=32)
    write_hku_is(project / "raw" / "hku_is", n=3, side=32)
    write_kitti(project / "raw" / "kitti")
    (project / "raw" / "val.txt").write_text("000000\n000002\n")  # easy, moderate and hard cars; pedestrians
    return project


def _steps() -> list:
    return build_plan(validate_params(PARAMS))


@pytest.fixture(scope="module")
def engines(tmp_path_factory) -> tuple[Path, Path]:
    """The same project run by DVC and by Snakemake."""
    root = tmp_path_factory.mktemp("paper_engines")
    dvc = _project(root / "dvc", git=True)
    run([sys.executable, "workflow/scripts/render_dvc.py", *(a for n in NAMED for a in ("--with", n))], cwd=dvc)
    run([DVC, "repro", *(f"pipelines/{n}/dvc.yaml" for n in NAMED)], cwd=dvc, timeout=900)
    snake = _project(root / "snake", git=False)
    run([SNAKEMAKE, "-c2", *TARGETS], cwd=snake, timeout=900)
    return dvc, snake


def _metrics(project: Path, run_dir: str) -> dict:
    return json.loads((project / run_dir / "metrics.json").read_text())


@pytest.mark.slow
def test_both_engines_write_the_same_bytes_with_a_record_for_every_output(engines) -> None:
    dvc, snake = engines
    steps = _steps()
    assert {s.step for s in steps} >= {"prepare", "stress_train", "encode", "synthesize", "retrain", "evaluate",
                                       "transfer", "paper_tables", "report", "code"}
    for step in steps:
        for project in (dvc, snake) if step.step != "code" else ():  # a code stage's one output is a record
            record = json.loads((project / step.outs[-1]).read_text())  # the provenance, last of a step's files
            assert set(record["outputs"]) == set(step.outs[:-1]), step.name
            for out in step.outs[:-1]:
                assert record["outputs"][out] == sha256(project / out), f"{step.name}: {out}"
        for out in step.outs:
            assert sha256(dvc / out) == sha256(snake / out), f"{step.name}: {out} differs between the engines"
    status = run([DVC, "status", *(f"pipelines/{n}/dvc.yaml" for n in NAMED)], cwd=dvc).stdout
    assert "up to date" in status, status
    train = json.loads((dvc / "results/detectnet/gen0/stress_train.provenance.json").read_text())
    assert train["params"]["width"] == 0.125  # the reduced width is a recorded param of the ancestor


def _residual_split(model, masks) -> int:
    """Coupled (residual) channels alive in some layers writing into them and dead in others."""
    split = 0
    for group in coupled_channels(model, model.input_shape):
        alive = torch.stack([group.per_channel(n, unit_mask(masks[n])[m.index]) for n, m in group.producers.items()])
        split += int((alive.any(0) & ~alive.all(0)).sum())
    return split


@pytest.mark.slow
def test_sexual_resnet_offspring_keep_their_residual_streams_whole(engines) -> None:
    from evosynth.pipeline.steps.common import load_network

    dvc, _ = engines
    ancestor = _metrics(dvc, "results/resnet_sexual/gen0")
    dead = {}
    for gen in (1, 2):
        for k in (0, 1):
            folder = f"results/resnet_sexual/gen{gen}/m{k}"
            metrics = _metrics(dvc, folder)
            assert metrics["synapses"] < ancestor["synapses"] and 0.0 <= metrics["accuracy"] <= 1.0
            model, masks, _ = load_network(dvc / folder / "model.pt")
            assert _residual_split(model, masks) == 0, folder  # a residual channel lives or dies in every layer
            groups = coupled_channels(model, model.input_shape)
            dead[gen, k] = {(g.root, c) for g in groups for c in (~g.written(masks)).nonzero().flatten().tolist()}
            _compacted(dvc, folder)  # the compacted network computes what the masked one computes
    assert dead[1, 0] != dead[1, 1]  # the second generation mates parents whose residual streams differ
    synthesis = json.loads((dvc / "results/resnet_sexual/gen2/m0/synthesis.json").read_text())
    assert len(synthesis["parents"]) == 2 and all("/gen1/" in p for p in synthesis["parents"])
    assert "| 2 |" in (dvc / "reports/resnet_sexual/generations.md").read_text()


@pytest.mark.slow
def test_saliency_generations_are_scored_on_hku_is_and_tabled(engines) -> None:
    dvc, _ = engines
    tables = (dvc / "reports/saliency/paper_tables.md").read_text()
    assert "EvoNet Table I on msra_b" in tables and "EvoNet Table II on hku_is" in tables
    table_ii = tables[tables.index("EvoNet Table II"):]
    for gen in (0, 1):
        own = _metrics(dvc, f"results/saliency/gen{gen}")
        on_hku = _metrics(dvc, f"reports/saliency/hku_is/gen{gen}")  # no retraining: the same network
        assert on_hku["synapses"] == own["synapses"] and on_hku["task"] == "saliency"
        assert 0.0 <= on_hku["mae"] <= 1.0 and 0.0 <= on_hku["f_beta"] <= 1.0
        cells = f"| saliency | {gen} | {on_hku['synapses']:,} | {on_hku['synaptic_efficiency']:.2f}X |"
        assert cells in table_ii and f"{on_hku['f_beta']:.3f} | {on_hku['mae']:.4f} | measured |" in table_ii
    assert _metrics(dvc, "reports/saliency/hku_is/gen1")["synaptic_efficiency"] > 1.0
    csv = (dvc / "reports/saliency/paper_tables.csv").read_text()
    assert csv.count(",quoted,") == 2 * 4 and csv.count(",measured,") == 2 * 2  # the paper's 4 rows, our 2, twice


@pytest.mark.slow
def test_detectnet_reports_the_cluster_papers_table_3(engines) -> None:
    dvc, _ = engines
    metrics = [_metrics(dvc, f"results/detectnet/gen{g}") for g in (0, 1)]
    assert metrics[1]["synapses"] < metrics[0]["synapses"] and metrics[1]["cluster_efficiency"] >= 1.0
    table = (dvc / "reports/detectnet/paper_tables.md").read_text()
    assert "| cluster-driven (paper) | 11 | 9.97X | – | 78.84 | 63.73 | – | quoted |" in table
    for g, m in enumerate(metrics):
        assert m["task"] == "detection" and m["headline"] == "ap_car_moderate" and m["ap_car_moderate"] is not None
        assert f"| detectnet | {g} | {metrics[0]['synapses'] / m['synapses']:.2f}X |" in table
        assert f"{100 * m['precision_car']:.2f} | {100 * m['recall_car']:.2f} |" in table
    _compacted(dvc, "results/detectnet/gen1")


# ------------------------------------------------- width: the papers' networks made small
def test_width_scales_the_papers_networks_and_only_those() -> None:
    import inspect

    from evosynth.errors import ParamsError
    from evosynth.nets.architectures import ARCHITECTURES, build_model
    from evosynth.tasks.kinds import FIXED_WIDTH_ARCHITECTURES

    # params validation (no torch) and the constructors agree on which architectures scale
    assert {a for a, build in ARCHITECTURES.items() if "width" not in inspect.signature(build).parameters} == set(
        FIXED_WIDTH_ARCHITECTURES)
    full, small = (sum(p.numel() for p in build_model("resnet56", (3, 32, 32), 10, width=w).parameters()) for w in (1, 0.25))
    assert small < full / 8  # conv synapses scale with the square of the width
    params = {"datasets": {"c": {"source": "cifar10", "root": "absent"}},
              "experiments": {"e": _named("c", "cifar10_quick", "evonet", 0.5, 1, default=True)}}
    with pytest.raises(ParamsError, match=r"^params: experiments\.e\.width: cifar10_quick has its paper's widths only;"
                                          r" allowed: 1 \(or no width\) for lenet5, cifar10_quick$"):
        validate_params(params)
    params["experiments"]["e"]["architecture"] = "alexnet"
    params["experiments"]["f"] = {**_named("c", "alexnet", "cluster", 1, 1, default=True), "ancestor": "e"}
    with pytest.raises(ParamsError, match=r"experiments\.f\.ancestor: 'e' trains its ancestor with another width"
                                          r" \(0\.5, here 1\); allowed: equal width$"):
        validate_params(params)
    params["experiments"]["f"]["width"] = 0.5
    validate_params(params)
    params["experiments"]["e"]["width"] = 0
    with pytest.raises(ParamsError, match=r"experiments\.e\.width: 0 is out of range; allowed: 0 < value <= 1$"):
        validate_params(params)


def test_a_run_without_width_records_exactly_what_it_recorded_before() -> None:
    """Runs that set no width keep their bytes: no width in their checkpoints nor in their records."""
    from evosynth.nets.architectures import build_model
    from evosynth.nets.masks import full_masks
    from evosynth.pipeline.steps.common import network_from, network_payload, step_params

    spec = validate_params(PARAMS)["experiments"]["detectnet"]
    assert step_params(spec, "stress_train")["width"] == 0.125
    plain = {k: v for k, v in spec.items() if k != "width"}
    assert "width" not in step_params(plain, "stress_train") and set(step_params(plain, "stress_train")) == {
        "dataset", "architecture", "seed", "train", "data"}
    model = build_model("detectnet", (3, 32, 32), 2, width=0.125)
    like = {"architecture": "detectnet", "input_shape": [3, 32, 32], "num_classes": 2, "experiment": "d"}
    assert "width" not in network_payload(model, full_masks(model), like)
    payload = network_payload(model, full_masks(model), {**like, "width": 0.125})
    rebuilt, _ = network_from(payload, "here")  # a later step rebuilds the small network from the checkpoint
    assert [p.shape for p in rebuilt.parameters()] == [p.shape for p in model.parameters()]
