"""Step ``features``: StressedNets Figure 7 and Table 4, t-SNE and 1-NN accuracy of last-hidden-layer features."""

from __future__ import annotations

import time
from argparse import Namespace
from pathlib import Path
from typing import Any

import numpy as np

from evosynth.analysis import features as feat
from evosynth.artifacts import read_json
from evosynth.data.prepared import load_prepared
from evosynth.nets.compaction import compact
from evosynth.pipeline.outputs import step_files
from evosynth.pipeline.steps.common import finish, load_network
from evosynth.reporting import selection, stressednets
from evosynth.scores import DECISION


def run_features(
    params: dict[str, Any], experiment: str, data_path: Path, generation_dirs: list[Path], out_dir: Path
) -> dict[str, Any]:
    """StressedNets Figure 7 and Table 4: t-SNE and 1-NN accuracy of last-hidden-layer features.

    The ancestor against the synthesized network (the last generation within
    the papers' tolerance): t-SNE of 100 test samples per class; per-class
    1-NN accuracy on the test set from 100 training samples per class; and the
    same with PCA of the ancestor's features cut to the synthesized width.
    """
    started = time.time()
    exp = params["experiments"][experiment]
    rows = [read_json(folder / "metrics.json") for folder in generation_dirs]
    pick = selection.synthesized_generation(rows, params["papers"]["tolerance"], DECISION)["generation"]
    data = load_prepared(data_path, exp["data"]["train_size"], exp["data"]["test_size"], exp["seed"])
    # 100 samples per class as in the paper, fewer if a (tiny) split has fewer
    smallest = int(min(np.bincount(data.y_train.numpy()).min(), np.bincount(data.y_test.numpy()).min()))
    per_class_samples = min(100, smallest)
    references = feat.class_balanced_indices(data.y_train.numpy(), per_class_samples, exp["seed"])
    shown = feat.class_balanced_indices(data.y_test.numpy(), per_class_samples, exp["seed"])
    panels, per_class, widths = {}, {}, {}
    ancestor_features = None

    def label_of(generation: int) -> str:
        return "ancestor (generation 0)" if generation == 0 else f"synthesized (generation {generation})"

    for generation in sorted({0, pick}):
        model, masks, ckpt = load_network(generation_dirs[generation] / "model.pt")
        small = compact(model, masks, tuple(ckpt["input_shape"])).model
        train_f = feat.last_hidden_features(small, data.x_train[references]).numpy()
        test_f = feat.last_hidden_features(small, data.x_test).numpy()
        label = label_of(generation)
        widths[label] = train_f.shape[1]
        panels[f"{label}, {train_f.shape[1]} features"] = (feat.tsne_embedding(test_f[shown], exp["seed"]),
                                                           data.y_test.numpy()[shown])
        per_class[label] = feat.nearest_neighbour_per_class_accuracy(
            train_f, data.y_train.numpy()[references], test_f, data.y_test.numpy())
        if generation == 0:
            ancestor_features = (train_f, test_f)
    # PCA can keep at most as many components as reference samples (fewer than 500 only on tiny data)
    width = min(widths[label_of(pick)], *ancestor_features[0].shape)
    pca_train, pca_test = feat.pca_features(*ancestor_features, width)
    per_class[f"PCA-{width} of the ancestor's features"] = feat.nearest_neighbour_per_class_accuracy(
        pca_train, data.y_train.numpy()[references], pca_test, data.y_test.numpy())
    files = step_files("features")
    feat.plot_tsne(panels, out_dir / files[0])
    counts = np.bincount(data.y_test.numpy(), minlength=data.num_classes).tolist()
    table = stressednets.stressednets_table4(per_class, counts, f"results/{experiment}")
    table.write(out_dir / files[1], out_dir / files[2])
    finish("features", {"papers": params["papers"]}, started, out_dir, files)
    return {"synthesized": pick, "widths": widths, "per_class_samples": per_class_samples}


def main(params: dict[str, Any], args: Namespace) -> None:
    info = run_features(params, args.experiment, args.data, args.generation_dir, args.out_dir)
    print(f"{args.experiment}: feature analysis of generation 0 and generation {info['synthesized']}")
