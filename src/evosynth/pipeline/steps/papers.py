"""Step ``papers``: every paper table and figure from the runs, and reports/index.md."""

from __future__ import annotations

import time
from argparse import Namespace
from pathlib import Path
from typing import Any

from evosynth.artifacts import provenance, read_json
from evosynth.pipeline.layout import chain_metrics
from evosynth.pipeline.outputs import step_files
from evosynth.pipeline.steps.common import finish
from evosynth.reporting import papers as builders


def run_papers(params: dict[str, Any], out_dir: Path) -> None:
    """Every paper table and figure of docs/method.md §11.2, and reports/index.md."""
    started = time.time()
    cfg, tolerance = params["papers"], params["papers"]["tolerance"]
    folder = out_dir / "papers"

    def rows(name: str) -> list[dict[str, Any]]:
        return [read_json(path) for path in chain_metrics(name, params)]

    builders.table1({n: rows(n) for n in cfg["table1"]}, tolerance, folder,
                    {n: chain_metrics(n, params) for n in cfg["table1"]})
    builders.table2(folder)
    builders.table3(read_json(out_dir / cfg["runtime"] / "runtime.json"), rows(cfg["runtime"]), tolerance, folder)
    builders.cluster_tables({n: rows(n) for n in cfg["cluster_tables"]}, folder)
    sexual = cfg["sexual"]
    builders.sexual_figure(rows(sexual["asexual"]), rows(sexual["sexual"]), (sexual["asexual"], sexual["sexual"]), folder)
    builders.factor_sweep({n: rows(n) for n in cfg["sweep"]}, folder)
    evolved = cfg["baselines"]["evolved"]
    builders.baselines({n: rows(n) for n in [evolved, *cfg["baselines"]["against"]]}, evolved, tolerance, folder)
    entries = [
        ("papers/stressednets_table1.md", "StressedNets Table 1: the synthesized networks (measured) beside the literature (quoted)."),
        ("papers/stressednets_table2.md", "StressedNets Table 2 layout (AlexNet on CIFAR-10): quoted only; it needs CIFAR-10 and a GPU."),
        ("papers/stressednets_table3.md", f"StressedNets Table 3: runtime of {cfg['runtime']}'s ancestor and synthesized network, measured here."),
        (f"{cfg['runtime']}/runtime.md", "Every generation's size, MACs, FPS and measured speed-up (ONNX Runtime and PyTorch)."),
        (f"{cfg['runtime']}/runtime.png", "Measured speed-up over generation 0 by generation (median and 10th-90th percentile over rounds) beside the MAC reduction."),
        ("papers/cluster_tables.md", "Cluster paper Tables 1-6 layout: generation, A-E, C-E, accuracy."),
        ("papers/sexual_vs_asexual.png", "Sexual paper Figures 4-5: accuracy, synaptic and cluster efficiency, asexual vs sexual."),
        ("papers/factor_sweep.png", "StressedNets Figure 6: the environmental-factor sweep, stressed, five generations each."),
        ("papers/features_tsne.png", "StressedNets Figure 7: t-SNE of last-hidden-layer features, ancestor vs synthesized."),
        ("papers/stressednets_table4.md", "StressedNets Table 4: per-class 1-NN accuracy of those features, and of PCA of the ancestor's."),
        ("papers/baselines.md", f"{evolved} against the pruning baselines (magnitude, L1 filter, group norm) at matched synapse counts; who wins where."),
        ("papers/pareto.png", "Accuracy vs living synapses and vs living filters: evolution against the baselines."),
    ]
    if params["comparisons"]:
        entries += [("methods/comparisons.md", "Each paper's claim against its control, measured on Fashion-MNIST."),
                    ("methods/comparisons.png", "The comparisons, generation by generation.")]
    entries += [(f"{name}/generations.png", f"{name}: accuracy and efficiency by generation.")
                for name in [*params["experiments"], *params["baselines"]]]
    files = step_files("papers")
    record = provenance("papers", {"papers": cfg}, [])
    builders.index(entries, record, out_dir / files[-2])
    finish("papers", {"papers": cfg}, started, out_dir, files)


def main(params: dict[str, Any], args: Namespace) -> None:
    run_papers(params, args.out_dir)
