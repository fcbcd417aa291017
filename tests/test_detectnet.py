"""DetectNet on KITTI (cluster paper §3, Tables 3 and 6; NVIDIA DIGITS' DetectNet).

The network's shape on a KITTI-sized frame, its grid targets from hand-made
boxes, the clustering of a hand-made coverage map, one generation through
the pipeline on the KITTI fixture, and compaction equal to masking.
"""

from __future__ import annotations

import functools
import math
import sys
from pathlib import Path

import pytest
import torch
from fixtures_detection import write_kitti
from test_paper_experiments import TRAIN, _compacted, _experiment, _run_experiment, _shrank

from evosynth.data.kitti import IGNORE_REGION
from evosynth.evolution.encoding import encode, encode_clusters
from evosynth.evolution.environment import Environment
from evosynth.evolution.synthesis import keep_minimum, synthesize_clustered
from evosynth.nets import architectures as models
from evosynth.nets.architectures.detectnet import DetectNet
from evosynth.nets.compaction import compact
from evosynth.nets.coupling import coupled_channels
from evosynth.nets.masks import apply_masks, full_masks, prunable_layers
from evosynth.tasks.detectnet import detectnet_loss, encode_targets
from evosynth.tasks.detectnet_cluster import Clustering, cluster, precision_recall
from evosynth.tasks.registry import task_for
from evosynth.tasks.yolo import Detections


def test_forward_on_a_kitti_sized_frame_gives_the_16_pixel_grid() -> None:
    model = DetectNet(3, 2, 416)
    with torch.no_grad():
        out = model(torch.zeros(1, 3, 384, 1248))  # DIGITS' KITTI input
    assert out.shape == (1, 5 * 2, 24, 78)  # coverage (2) and boxes (2 × 4) on 1248/16 × 384/16 cells
    assert prunable_layers(model)[-1][0] == "head"
    assert not coupled_channels(model, (3, 64, 64))  # inception concatenations couple nothing
    with pytest.raises(ValueError, match="multiple of 16"):
        DetectNet(3, 2, 100)


def test_coverage_and_box_targets_from_hand_made_boxes() -> None:
    boxes = torch.tensor([[[100.0, 50.0, 260.0, 130.0], [300.0, 300.0, 306.0, 310.0], [0.0, 0.0, 40.0, 40.0]]])
    classes = torch.tensor([[0, 1, IGNORE_REGION]])
    t = encode_targets(boxes, classes, (26, 26), 16, 2)
    # the car: its central 0.4 (64 × 32 px about (180, 90)) holds cell centres x 152..200, y 88 and 104
    car = torch.zeros(26, 26)
    car[5:7, 9:13] = 1
    assert torch.equal(t.coverage[0, 0], car)
    assert torch.allclose(t.boxes[0, 0:4, 5, 9], torch.tensor([-52.0, -38.0, 108.0, 42.0]) / 16)
    assert torch.allclose(t.boxes[0, 0:4, 6, 12], torch.tensor([-100.0, -54.0, 60.0, 26.0]) / 16)
    assert (t.boxes[0, 0:4][:, car == 0] == 0).all()
    # the 6 × 10 px pedestrian covers no cell centre: the cell holding its centre (303, 305)
    assert torch.nonzero(t.coverage[0, 1]).tolist() == [[19, 18]]
    # the ignored region: cells with centres inside it weigh nothing, for every class
    assert (t.weight[0, :, :3, :3] == 0).all() and t.weight[0].sum() == 2 * (26 * 26 - 9)
    # a perfect output: no box loss, coverage loss only the sigmoid's residue
    logits = torch.where(t.coverage > 0, 20.0, -20.0)
    perfect = detectnet_loss(torch.cat([logits, t.boxes], 1), boxes, classes, 16)
    assert perfect.boxes == 0 and perfect.total < 1e-6


def _hand_made_map() -> torch.Tensor:
    """Class 0: a car proposed by 9 cells (two boxes 1 px apart) and a 5-cell box only 10 px high;
    class 1: a pedestrian proposed by 2 cells only."""
    out = torch.full((10, 26, 26), -10.0)
    out[2:] = 0

    def propose(c: int, rows: slice, cols: slice, box: tuple[float, ...]) -> None:
        out[c, rows, cols] = 10.0
        for i in range(rows.start, rows.stop):
            for j in range(cols.start, cols.stop):
                cx, cy = (j + 0.5) * 16, (i + 0.5) * 16
                out[2 + 4 * c:6 + 4 * c, i, j] = torch.tensor([box[0] - cx, box[1] - cy, box[2] - cx, box[3] - cy]) / 16

    propose(0, slice(5, 8), slice(9, 12), (100.0, 50.0, 260.0, 130.0))
    out[2:6, 7, 11] += torch.tensor([1.0, 0.0, 1.0, 0.0]) / 16  # one proposal 1 px to the right: same object
    propose(0, slice(20, 21), slice(0, 5), (0.0, 320.0, 80.0, 330.0))  # 10 px high: below min_height
    propose(1, slice(15, 16), slice(15, 17), (240.0, 230.0, 270.0, 280.0))  # 2 cells: below min_cells
    return out


def test_grid_to_box_clustering_of_a_hand_made_coverage_map() -> None:
    found = cluster(_hand_made_map(), 16)
    assert found.classes.tolist() == [0]
    assert torch.allclose(found.boxes[0], torch.tensor([100.0 + 1 / 9, 50.0, 260.0 + 1 / 9, 130.0]), atol=1e-4)
    assert found.scores[0].item() == pytest.approx(9 / (1 + math.exp(-10)), rel=1e-6)
    loose = cluster(_hand_made_map(), 16, Clustering(min_cells=1, min_height=0))  # DIGITS' limits lifted
    assert sorted(loose.classes.tolist()) == [0, 0, 1]


def test_precision_and_recall_count_matches_at_iou_0_7() -> None:
    from evosynth.data.kitti import CAR, DONT_CARE, ImageObjects

    truth = ImageObjects(torch.tensor([CAR, CAR, DONT_CARE]).numpy(),
                         torch.tensor([[0.0, 0, 100, 100], [200, 0, 300, 100], [400, 0, 500, 100]]).double().numpy(),
                         torch.zeros(3).double().numpy(), torch.zeros(3).long().numpy())
    det = Detections(torch.tensor([[0.0, 0, 100, 90], [0, 0, 100, 100], [200, 0, 300, 60]]), torch.tensor([0.9, 0.8, 0.7]),
                     torch.zeros(3, dtype=torch.long))
    # the first car takes the best detection (IoU 0.9), the second is missed (IoU 0.6); two of three are wrong
    assert precision_recall([det], [truth]) == pytest.approx((1 / 3, 1 / 2))


def test_compacted_detectnet_computes_the_masked_output() -> None:
    torch.manual_seed(0)
    model = DetectNet(3, 2, 64, width=1 / 8)
    shape = (3, 64, 64)
    masks = full_masks(model)
    weights = {n: layer.weight for n, layer in prunable_layers(model)}
    groups = coupled_channels(model, shape)
    genome = encode(weights, masks)
    clusters = encode_clusters(weights, masks, "filter", 0.1, groups=groups)
    offspring, _ = synthesize_clustered(genome, clusters, "filter", Environment(0.5, cluster_factor=0.5), 0,
                                        {"head"}, groups=groups)
    masks = keep_minimum(offspring, genome, "head", groups)
    apply_masks(model, masks)
    small = compact(model, masks, shape)
    before, after = (sum(p.numel() for p in m.parameters()) for m in (model, small.model))
    assert after < 0.8 * before and small.model.head.out_channels == 10
    x = torch.randn(2, *shape, generator=torch.Generator().manual_seed(1))
    model.eval(), small.model.eval()
    with torch.no_grad():
        assert (model(x) - small.model(x)).abs().max() <= 1e-4


def test_detectnet_runs_a_generation_on_the_kitti_fixture(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """encode → synthesize → compact → train → evaluate through the pipeline's own commands."""
    write_kitti(tmp_path / "raw" / "kitti")
    (tmp_path / "val.txt").write_text("000000\n000002\n")
    params = {
        "datasets": {"kitti": {"source": "kitti", "root": "raw/kitti", "image_size": 64, "val_list": "val.txt"}},
        "experiments": {"d": _experiment("kitti", "detectnet", "cluster", train=dict(TRAIN),  # cluster paper §3
                                         encoding={"clusters": "kernel", "truncation": 0.1},
                                         environment={"factor": 0.8, "cluster_factor": 0.85, "mode": "budget"})},
    }
    monkeypatch.setitem(models.ARCHITECTURES, "detectnet", functools.partial(DetectNet, width=1 / 8))
    assert type(task_for(params, params["experiments"]["d"])).__name__ == "DetectNetDetection"
    metrics = _run_experiment(tmp_path, params, "d", monkeypatch)
    _shrank(metrics)
    _compacted(tmp_path, "results/d/gen1")
    for m in metrics:
        assert m["task"] == "detection" and m["headline"] == "ap_car_moderate"
        assert m["ap_car_moderate"] is not None and m["accuracy"] == m["ap_car_moderate"]
        assert 0.0 <= m["precision_car"] <= 1.0 and 0.0 <= m["recall_car"] <= 1.0
    assert metrics[1]["cluster_efficiency"] >= 1.0
    # the cluster paper's Table 3, quoted, beside every generation measured (the paper_tables stage)
    table = (tmp_path / "reports/d/paper_tables.md").read_text()
    assert "| cluster-driven (paper) | 11 | 9.97X | – | 78.84 | 63.73 | – | quoted |" in table
    for g, m in enumerate(metrics):
        cells = f"| d | {g} | {metrics[0]['synapses'] / m['synapses']:.2f}X |"
        assert cells in table and f"{100 * m['precision_car']:.2f} | {100 * m['recall_car']:.2f} |" in table


def test_the_detectnet_experiment_has_the_same_dag_in_both_engines(tmp_path: Path) -> None:
    import copy

    from conftest import BIN, TINY_PARAMS, make_project, run
    from test_workflow import dvc_dag, snakemake_dag, without_raw

    params = copy.deepcopy(TINY_PARAMS)
    params["datasets"]["kitti"] = {"source": "kitti", "root": "absent/kitti", "image_size": 64}
    params["experiments"]["d"] = _experiment("kitti", "detectnet", "cluster", default=False, generations=2,
                                             encoding={"clusters": "kernel", "truncation": 0.1})
    project = make_project(tmp_path / "p", params, git=False)
    (project / "absent/kitti").mkdir(parents=True)  # a raw folder is a dependency: Snakemake needs it to exist
    (project / "absent/kitti/README").write_text("no frames: only the DAG is compared\n")
    run([sys.executable, "workflow/scripts/render_dvc.py", "--with", "d"], cwd=project)  # default: false: on request
    run(["git", "init", "-q"], cwd=project)
    run([str(BIN / "dvc"), "init", "-q"], cwd=project)
    dvc = dvc_dag(project)
    tables = [j for j in dvc if j[0] == "paper_tables"]
    assert len(tables) == 1 and tables[0][1].startswith("evosynth tables ") and tables[0][2] >= {
        f"results/d/gen{g}/metrics.json" for g in range(3)}
    snake = snakemake_dag(project, "all", "reports/d/paper_tables.md", "reports/d/generations.md")
    assert without_raw(dvc, "absent/kitti") == without_raw(snake, "absent/kitti")
