"""The papers' architectures in the pipeline: every architecture runs a generation on its dataset's real on-disk format.

Each test writes a tiny copy of its dataset (CIFAR-10 pickles, MSRA-B image and
mask pairs, KITTI's image_2/label_2), builds the plan of a one-generation
experiment and runs every step's command in this process (``evosynth.pipeline.cli.main``:
one torch import for all): prepare → train generation 0 → encode → synthesize
→ retrain → evaluate → report. AlexNet, the saliency network and YOLOv2 run
at reduced widths (``SMALL``, as in test_architectures.py; at the papers'
widths one generation takes 2–3 minutes each on two cores); LeNet5 and
ResNet-56 at full width. Then the named paper experiments of the committed
params.yaml: outside the default target, and valid on a machine without
their data.
"""

from __future__ import annotations

import copy
import functools
import json
import shlex
from pathlib import Path
from typing import Any

import pytest
import torch
import yaml
from conftest import ROOT, record
from fixtures_data import write_cifar10, write_hku_is, write_msra_b
from fixtures_detection import FRAMES, write_kitti
from torch import nn

from evosynth.data.sources import check_source
from evosynth.errors import DataError, ParamsError
from evosynth.nets import architectures as models
from evosynth.nets.architectures.alexnet import AlexNetCifar
from evosynth.nets.architectures.vgg_saliency import VGG16Saliency
from evosynth.nets.architectures.yolov2 import YOLOv2
from evosynth.pipeline.cli import main
from evosynth.pipeline.params import load_params, validate_params
from evosynth.pipeline.plan import build_plan

TRAIN = {"ancestor_epochs": 1, "epochs": 1, "batch_size": 64, "lr": 0.001, "momentum": 0.9,
         "weight_decay": 0.0005}  # one step per epoch on the tiny sets
#: Reduced widths of the large networks (every hidden width scaled; the layer structure is the papers').
SMALL = {"alexnet": functools.partial(AlexNetCifar, width=1 / 8),
         "vgg16_saliency": functools.partial(VGG16Saliency, width=1 / 16),
         "yolov2": functools.partial(YOLOv2, width=1 / 16)}
AP_KEYS = {f"ap{r}_{c}_{d}" for r in ("", "_r11") for c in ("car", "pedestrian")
           for d in ("easy", "moderate", "hard")}


def _experiment(dataset: str, architecture: str, method: str, **extra: Any) -> dict[str, Any]:
    spec = {"dataset": dataset, "architecture": architecture, "method": method, "generations": 1, "seed": 0,
            "init": "inherit", "environment": {"factor": 0.5, "mode": "budget"}, "train": dict(TRAIN),
            "data": {"train_size": None, "test_size": None}}
    spec.update(extra)
    return spec


def _in_project(project: Path, params: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    """Work in ``project`` with ``params``: steps run in this process, on the CPU, at ``SMALL`` widths."""
    (project / "params.yaml").write_text(yaml.safe_dump(params))
    monkeypatch.chdir(project)
    monkeypatch.setenv("EVOSYNTH_WARM", "0")  # run each step here, not in a forked server
    monkeypatch.setenv("EVOSYNTH_DEVICE", "cpu")
    for name, build in SMALL.items():
        monkeypatch.setitem(models.ARCHITECTURES, name, build)


def _run_experiment(
    project: Path, params: dict[str, Any], name: str, monkeypatch: pytest.MonkeyPatch
) -> list[dict]:
    """Run every step of experiment ``name`` in ``project`` as the plan says; its two metrics files."""
    _in_project(project, params, monkeypatch)
    dataset = params["experiments"][name]["dataset"]
    steps = [s for s in build_plan(validate_params(params)) if s.experiment == name or s.dataset == dataset]
    assert [s.step for s in steps if s.step != "paper_tables"] == [  # paper_tables: DetectNet's Table 3
        "prepare", "stress_train", "evaluate", "encode", "synthesize", "retrain", "evaluate", "report"
    ]
    for step in steps:
        argv = shlex.split(step.cmd)
        assert argv[0] == "evosynth"
        assert main(argv[1:]) == 0, step.cmd
        assert all((project / out).is_file() for out in step.outs), step.name
    return [json.loads((project / f"results/{name}/gen{g}/metrics.json").read_text()) for g in (0, 1)]


def _shrank(metrics: list[dict]) -> None:
    gen0, gen1 = metrics
    assert gen1["synapses"] < gen0["synapses"]
    assert gen1["synaptic_efficiency"] > 1.0 and gen0["synaptic_efficiency"] == 1.0


def _compacted(project: Path, run: str) -> tuple[nn.Module, nn.Module, tuple[int, ...]]:
    """A trained generation's masked network and its compacted one, which must compute the same."""
    from evosynth.nets.compaction import compact
    from evosynth.pipeline.steps.common import load_network

    model, masks, ckpt = load_network(project / run / "model.pt")
    shape = tuple(ckpt["input_shape"])
    small = compact(model, masks, shape).model
    model.eval(), small.eval()
    x = torch.randn(2, *shape, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        assert torch.allclose(model(x), small(x), atol=1e-4, rtol=1e-4), run
    return model, small, shape


# --------------------------------------------------------------- classification
@pytest.mark.parametrize(
    ("architecture", "method", "extra"),
    [
        # sexual paper Figure 5: two parents, filter clusters, on its LeNet-5 (Caffe's cifar10_quick)
        ("cifar10_quick", "sexual", {"encoding": {"clusters": "filter"}, "population": {"size": 2}}),
        ("alexnet", "cluster", {"encoding": {"clusters": "kernel"}}),  # cluster paper Table 2
        pytest.param("resnet56", "cluster", {"encoding": {"clusters": "filter"},  # filters die: residual groups at stake
                                             "environment": {"factor": 0.3, "cluster_factor": 0.4, "mode": "budget"}},
                     marks=pytest.mark.slow),  # full width: 33 s of CPU
    ],
)
def test_cifar10_architectures_run_a_generation(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, architecture: str, method: str, extra: dict
) -> None:
    write_cifar10(tmp_path / "raw" / "cifar10", per_batch=2)
    params = {"datasets": {"cifar10": {"source": "cifar10", "root": "raw/cifar10"}},
              "experiments": {"e": _experiment("cifar10", architecture, method, **extra)}}
    if method == "sexual":
        _in_project(tmp_path, params, monkeypatch)
        for step in build_plan(validate_params(params)):
            if step.step not in ("report", "code"):  # a code stage hashes the project's src/, absent here
                assert main(shlex.split(step.cmd)[1:]) == 0, step.cmd
        gen0 = json.loads((tmp_path / "results/e/gen0/metrics.json").read_text())
        members = [json.loads((tmp_path / f"results/e/gen1/m{k}/metrics.json").read_text()) for k in (0, 1)]
        metrics = [gen0, members[0]]
        assert all(m["synapses"] < gen0["synapses"] for m in members)
    else:
        metrics = _run_experiment(tmp_path, params, "e", monkeypatch)
    _shrank(metrics)
    model, small, shape = _compacted(tmp_path, "results/e/gen1" + ("/m0" if method == "sexual" else ""))
    if architecture == "resnet56":  # a residual channel lives or dies in every layer writing into it
        from evosynth.nets.coupling import coupled_channels
        from evosynth.nets.masks import prunable_layers

        groups = coupled_channels(model, shape)
        assert len(groups) == 3
        for group in groups:
            assert len({small.get_submodule(n).out_channels for n in group.producers}) == 1
        widths = [small.get_submodule(next(iter(g.producers))).out_channels for g in groups]
        assert sum(widths) < 16 + 32 + 64  # whole residual channels were removed
        assert metrics[1]["filters"] < metrics[0]["filters"]
        assert len(prunable_layers(small)) == 58  # 55 convs, 2 projections, fc: no layer vanished
    for m in metrics:
        assert 0.0 <= m["accuracy"] <= 1.0 and m["error_percent"] == pytest.approx(100 * (1 - m["accuracy"]))
        assert "task" not in m  # classification metrics keep exactly their old keys
    card = json.loads((tmp_path / "data/prepared/cifar10.card.json").read_text())
    assert card["image_shape"] == [3, 32, 32] and card["train"]["count"] == 10


# -------------------------------------------------------------------- saliency
def test_saliency_network_runs_a_generation_on_msra_b_and_is_tested_on_hku_is(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_msra_b(tmp_path / "raw" / "msra_b", n=10)
    write_hku_is(tmp_path / "raw" / "hku_is", n=3)
    params = {
        "datasets": {"msra_b": {"source": "msra_b", "root": "raw/msra_b", "image_size": 32},
                     "hku_is": {"source": "hku_is", "root": "raw/hku_is", "image_size": 32}},
        # EvoNet §III: C = 0.4
        "experiments": {"s": _experiment("msra_b", "vgg16_saliency", "evonet",
                                         environment={"factor": 0.4, "mode": "budget"})},
    }
    metrics = _run_experiment(tmp_path, params, "s", monkeypatch)
    _shrank(metrics)
    _compacted(tmp_path, "results/s/gen1")
    for m in metrics:
        assert m["task"] == "saliency" and m["headline"] == "f_beta" and m["accuracy"] == m["f_beta"]
        assert 0.0 <= m["mae"] <= 1.0 and 0.0 <= m["f_beta"] <= 1.0 and 0.0 <= m["max_f_beta"] <= 1.0
        assert "error_percent" not in m
    # EvoNet Table II: the MSRA-B-trained generation scored on all of HKU-IS
    assert main(["prepare", "--params", "params.yaml", "--dataset", "hku_is",
                 "--out-dir", "data/prepared"]) == 0
    gen1 = "results/s/gen1"
    assert main(["evaluate", "--params", "params.yaml", "--experiment", "s", "--generation", "1",
                 "--model", f"{gen1}/model.pt", "--data", "data/prepared/hku_is.npz",
                 "--ancestor", "results/s/gen0/model.pt", "--genome", f"{gen1}/genome.pt",
                 "--out-dir", "hku_is/gen1"]) == 0
    on_hku = json.loads((tmp_path / "hku_is/gen1/metrics.json").read_text())
    assert on_hku["synapses"] == metrics[1]["synapses"] and on_hku["mae"] != metrics[1]["mae"]
    assert 0.0 <= on_hku["f_beta"] <= 1.0


# ------------------------------------------------------------------- detection
def _kitti_params(root: str) -> dict[str, Any]:
    return {
        "datasets": {"kitti": {"source": "kitti", "root": root, "image_size": 64, "val_list": "val.txt"}},
        "experiments": {"d": _experiment("kitti", "yolov2", "evonet",  # StressedNets §4.1.3: stressed
                                         train=dict(TRAIN, stress=0.9, ancestor_epochs=2),
                                         environment={"factor": 0.8})},
    }


def test_yolov2_runs_a_generation_on_kitti(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_kitti(tmp_path / "raw" / "kitti")
    (tmp_path / "val.txt").write_text("000000\n000002\n")  # easy, moderate and hard cars; pedestrians
    metrics = _run_experiment(tmp_path, _kitti_params("raw/kitti"), "d", monkeypatch)
    _shrank(metrics)
    _compacted(tmp_path, "results/d/gen1")
    for m in metrics:
        assert m["task"] == "detection" and m["headline"] == "ap_car_moderate"
        assert AP_KEYS <= set(m)
        assert all(m[k] is None or 0.0 <= m[k] <= 1.0 for k in AP_KEYS)
        assert m["ap_car_moderate"] is not None and m["accuracy"] == m["ap_car_moderate"]
    card = json.loads((tmp_path / "data/prepared/kitti.card.json").read_text())
    assert card["task"] == "detection" and card["image_shape"] == [3, 64, 64]
    assert card["train"] == {"count": 2, "per_class": [0, 1]}  # objects: cars, pedestrians
    assert card["test"] == {"count": 2, "per_class": [3, 1]}
    log = json.loads((tmp_path / "results/d/gen0/train_log.json").read_text())["epochs"]
    assert log[0]["stressed_synapses"] > 0 and "train_accuracy" not in log[0]
    assert log[-1]["stressed_synapses"] == 0  # stress between epochs, none after the last


class _Oracle(nn.Module):
    """A stand-in detector whose YOLOv2 output puts each test image's cars and pedestrians exactly."""

    def __init__(self, output: torch.Tensor) -> None:
        super().__init__()
        self.output = output
        self.dummy = nn.Parameter(torch.zeros(1))
        self.seen = 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.output[self.seen:self.seen + len(x)]
        self.seen += len(x)
        return out


def test_detection_scores_map_boxes_back_to_the_original_image(tmp_path: Path) -> None:
    """decode → original pixels → devkit AP: a perfect output scores AP 1 wherever a ground truth counts."""
    from evosynth.data.kitti_prepared import load_prepared_kitti, prepare_kitti
    from evosynth.tasks.registry import TASKS
    from evosynth.tasks.yolo import KITTI_ANCHORS, encode_targets

    write_kitti(tmp_path / "kitti")
    (tmp_path / "val.txt").write_text("000000\n000001\n000002\n")
    spec = {"source": "kitti", "root": str(tmp_path / "kitti"), "image_size": 64,
            "val_list": str(tmp_path / "val.txt")}
    prepare_kitti(spec, tmp_path / "k.npz", tmp_path / "k.json")
    record(tmp_path / "k.npz", tmp_path / "k.json")  # what the prepare step adds
    data = load_prepared_kitti(tmp_path / "k.npz")
    classes = data.y_test[..., 4].long()
    t = encode_targets(data.y_test[..., :4], classes, KITTI_ANCHORS, (2, 2), 64)
    logit = torch.logit(t.xy.clamp(1e-4, 1 - 1e-4))
    cls = torch.stack([t.classes == 0, t.classes == 1], -1).float() * 20 - 10
    objectness = (t.responsible.float() * 20 - 10)[..., None]
    per_anchor = torch.cat([logit, t.wh, objectness, cls], -1)  # N, A, H, W, 5 + 2
    output = per_anchor.permute(0, 1, 4, 2, 3).reshape(len(classes), -1, 2, 2)
    scores = TASKS["detection"].scores(_Oracle(output), data, torch.device("cpu"))
    assert scores["ap_car_easy"] == pytest.approx(1.0) and scores["ap_pedestrian_easy"] == pytest.approx(1.0)
    assert scores["ap_car_moderate"] == pytest.approx(1.0) and scores["ap_car_hard"] == pytest.approx(1.0)
    assert scores["ap_r11_car_easy"] == pytest.approx(1.0)
    assert scores["accuracy"] == scores["ap_car_moderate"]
    frame = data.truth.frames.index("000000")
    assert data.truth.original_sizes[frame].tolist() == list(FRAMES["000000"].size)


def test_kitti_prepare_names_the_expected_layout(tmp_path: Path) -> None:
    (tmp_path / "kitti" / "training" / "image_2").mkdir(parents=True)
    problem = check_source({"source": "kitti", "root": str(tmp_path / "kitti")})
    assert "label_2: no such directory" in problem and "training/image_2/NNNNNN.png" in problem
    write_kitti(tmp_path / "two", {k: FRAMES[k] for k in ("000000",)})
    from evosynth.data.kitti_prepared import prepare_kitti

    with pytest.raises(DataError, match="1 frames give 1 training and 0 validation frames"):
        prepare_kitti({"source": "kitti", "root": str(tmp_path / "two"), "val_fraction": 0.0},
                      tmp_path / "k.npz", tmp_path / "k.json")


# --------------------------------------------------------- the committed params
PAPER_ARCHITECTURES = {"cifar10_quick", "alexnet", "resnet56", "vgg16_saliency", "yolov2", "detectnet"}  # lenet5: default runs


def test_named_paper_experiments_stay_out_of_the_default_target() -> None:
    params = load_params(ROOT / "params.yaml")
    named = {n for n, e in params["experiments"].items() if not e["default"]}
    # every paper architecture has a named experiment; the named lenet5 runs are the evidence set and the pick
    assert PAPER_ARCHITECTURES <= {params["experiments"][n]["architecture"] for n in named} <= PAPER_ARCHITECTURES | {"lenet5"}
    assert {params["datasets"][params["experiments"][n]["dataset"]]["source"] for n in named} >= {
        "cifar10", "stl10", "msra_b", "kitti"}
    root = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]
    upstream = {d for stage in root.values() for d in stage.get("deps", [])}
    for name in named:  # rendered only on request (render_dvc.py --with): DVC collects every dvc.yaml
        assert not (ROOT / f"pipelines/{name}/dvc.yaml").exists(), name
        assert not any(name in key for key in root) and not any(f"/{name}/" in d for d in upstream), name
    plan = build_plan(params)
    assert all(not step.default for step in plan if step.experiment in named)
    named_outs = {out for step in plan if not step.default for out in step.outs}
    assert named_outs and not any(set(step.deps) & named_outs for step in plan if step.default)


def test_params_paper_holds_the_papers_experiments_as_params_yaml_does() -> None:
    """params-paper.yaml lengthens the default runs only: its named paper experiments are params.yaml's own."""
    papers = [{n: e for n, e in load_params(ROOT / f)["experiments"].items()
               if not e["default"] and e["architecture"] in PAPER_ARCHITECTURES}
              for f in ("params.yaml", "params-paper.yaml")]
    assert papers[1] == papers[0]
    assert {e["architecture"] for e in papers[1].values()} == PAPER_ARCHITECTURES
    detectnet = papers[1]["cluster_detectnet_kitti"]  # the cluster paper's KITTI tables (3 and 6)
    assert (detectnet["method"], detectnet["encoding"]["clusters"], detectnet["generations"]) == ("cluster", "kernel", 10)
    assert papers[1]["evonet_saliency_msra_b"]["test_on"] == ["hku_is"]  # EvoNet Table II


def test_committed_params_validate_without_the_paper_datasets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    for name in ("params.yaml", "params-paper.yaml"):
        load_params(ROOT / name, check_files=True)
        raw = yaml.safe_load((ROOT / name).read_text())
        for exp, spec in raw["experiments"].items():  # as written (an experiment with seeds is one entry)
            if spec.get("default") is False:  # each named experiment also validates on its own
                alone = copy.deepcopy(raw)
                keep = {exp, spec.get("ancestor") or exp}
                alone["experiments"] = {k: v for k, v in alone["experiments"].items() if k in keep}
                for key in ("comparisons", "baselines", "papers", "runtime", "evidence", "probe", "picks", "curves"):
                    alone.pop(key, None)
                for k in keep:
                    alone["experiments"][k]["default"] = True
                validate_params(alone, source=f"{name}: {exp}")


def test_params_tie_architectures_to_tasks_and_kitti_keys_to_kitti() -> None:
    params = {"datasets": {"cifar10": {"source": "cifar10"}, "hku": {"source": "hku_is"}},
              "experiments": {"e": _experiment("cifar10", "yolov2", "evonet")}}
    with pytest.raises(ParamsError, match="'yolov2' is built for detection, but dataset 'cifar10'"):
        validate_params(params)
    params["experiments"]["e"] = _experiment("hku", "vgg16_saliency", "evonet")
    with pytest.raises(ParamsError, match="has no training images"):
        validate_params(params)
    params["experiments"]["e"] = _experiment("cifar10", "alexnet", "evonet")
    params["datasets"]["cifar10"]["val_fraction"] = 0.2
    with pytest.raises(ParamsError, match="datasets.cifar10.val_fraction: only a kitti dataset"):
        validate_params(params)


def test_training_falls_back_to_the_cpu_and_keeps_cpu_draws(monkeypatch: pytest.MonkeyPatch) -> None:
    from evosynth.training import device

    monkeypatch.delenv("EVOSYNTH_DEVICE", raising=False)
    assert device().type == ("cuda" if torch.cuda.is_available() else "cpu")
    monkeypatch.setenv("EVOSYNTH_DEVICE", "cpu")
    assert device() == torch.device("cpu")
