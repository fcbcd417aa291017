"""Feature analysis of the last hidden layer (StressedNets §4.3, Figure 7 and Table 4).

The paper extracts the last fully connected layer's features of the ancestor
and of synthesized networks for 100 samples per class, shows their t-SNE
embeddings side by side (Figure 7), and measures per-class 1-NN accuracy of
every test sample against the same selected training samples (Table 4). To
show that the synthesized features are more than a shrunk copy, it compares
them with PCA of the ancestor's features cut to the same width (26 and 12
features for StressedNet#1 and #2). The paper's "100 selected training
samples" does not say whether per class or in all; ``per_class`` decides.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
import torch
from sklearn.decomposition import PCA
from sklearn.manifold import TSNE
from torch import nn

from evosynth.nets.masks import Masks, layer_units

ArrayLike = np.ndarray | torch.Tensor


def class_balanced_indices(labels: ArrayLike, per_class: int, seed: int) -> np.ndarray:
    """``per_class`` indices of each class present in ``labels``, drawn without replacement, sorted."""
    labels = np.asarray(labels)
    rng = np.random.default_rng(seed)
    chosen = []
    for label in np.unique(labels):
        members = np.flatnonzero(labels == label)
        if len(members) < per_class:
            raise ValueError(f"class {label} has {len(members)} samples, fewer than {per_class}")
        chosen.append(rng.choice(members, size=per_class, replace=False))
    return np.sort(np.concatenate(chosen))


@torch.no_grad()
def last_hidden_features(model: nn.Module, x: torch.Tensor, batch_size: int = 1000) -> torch.Tensor:
    """``model.features(x)`` (the last hidden layer) in batches, in eval mode, without gradients."""
    model.eval()
    return torch.cat([model.features(x[i : i + batch_size]) for i in range(0, len(x), batch_size)])


def last_hidden_units(model: nn.Module, masks: Masks) -> torch.Tensor:
    """Living neurons of the last hidden layer (bool); their count is the network's feature width.

    Dead neurons emit exactly 0, so dropping their columns changes no distance.
    """
    return layer_units(model, masks)[-2].outputs


def tsne_embedding(features: ArrayLike, seed: int, perplexity: float = 30.0) -> np.ndarray:
    """2-D t-SNE (van der Maaten and Hinton 2008) of ``features``, deterministic for a seed.

    ``perplexity`` must be below the number of samples (1,000 in the paper's setting).
    """
    tsne = TSNE(n_components=2, perplexity=perplexity, init="pca", learning_rate="auto", random_state=seed)
    return tsne.fit_transform(np.asarray(features, dtype=np.float64))


def nearest_neighbour_predictions(
    train_feats: ArrayLike, train_labels: ArrayLike, test_feats: ArrayLike
) -> np.ndarray:
    """1-NN label of every test sample, Euclidean distance, ties to the lowest training index."""
    train = np.asarray(train_feats, dtype=np.float64)
    test = np.asarray(test_feats, dtype=np.float64)
    squared = (test**2).sum(1)[:, None] - 2.0 * test @ train.T + (train**2).sum(1)[None, :]
    return np.asarray(train_labels)[squared.argmin(axis=1)]


def nearest_neighbour_per_class_accuracy(
    train_feats: ArrayLike, train_labels: ArrayLike, test_feats: ArrayLike, test_labels: ArrayLike
) -> np.ndarray:
    """StressedNets Table 4: 1-NN accuracy of the test samples of each class, indexed by class.

    Length is the largest label + 1; a class with no test sample gets NaN.
    """
    train_labels, test_labels = np.asarray(train_labels), np.asarray(test_labels)
    correct = nearest_neighbour_predictions(train_feats, train_labels, test_feats) == test_labels
    classes = int(max(train_labels.max(), test_labels.max())) + 1
    hits = np.bincount(test_labels, weights=correct, minlength=classes)
    counts = np.bincount(test_labels, minlength=classes)
    with np.errstate(invalid="ignore", divide="ignore"):
        return hits / counts


def pca_features(
    ancestor_train_feats: ArrayLike, ancestor_test_feats: ArrayLike, width: int
) -> tuple[np.ndarray, np.ndarray]:
    """StressedNets Table 4, PCA rows: the ancestor's features projected on ``width`` components.

    PCA is fitted on the training features only; ``width`` is the synthesized
    network's number of living last-hidden neurons (:func:`last_hidden_units`).
    """
    train = np.asarray(ancestor_train_feats, dtype=np.float64)
    if not 1 <= width <= min(train.shape):
        raise ValueError(f"PCA width {width} is out of range; allowed: 1 to {min(train.shape)}")
    pca = PCA(n_components=width, svd_solver="full").fit(train)
    return pca.transform(train), pca.transform(np.asarray(ancestor_test_feats, dtype=np.float64))


def plot_tsne(panels: Mapping[str, tuple[np.ndarray, ArrayLike]], path: str | Path) -> None:
    """StressedNets Figure 7: one t-SNE scatter per network, coloured by class, written as PNG."""
    from evosynth import figures

    plt = figures.pyplot()
    fig, axes = plt.subplots(1, len(panels), figsize=(4.5 * len(panels), 4.5), squeeze=False)
    for ax, (title, (embedding, labels)) in zip(axes[0], panels.items(), strict=True):
        labels = np.asarray(labels)
        for label in np.unique(labels):
            points = embedding[labels == label]
            ax.scatter(points[:, 0], points[:, 1], s=6, color=plt.cm.tab10(label % 10), label=str(label))
        # t-SNE coordinates have no unit or meaning of their own: the axes are named, not ticked
        ax.set(title=title, xticks=[], yticks=[], xlabel="t-SNE dimension 1", ylabel="t-SNE dimension 2")
    figures.legend_beside(axes[0][-1], title="class", markerscale=2)
    figures.save_figure(fig, path, dpi=100)
