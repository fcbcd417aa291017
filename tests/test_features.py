"""Feature analysis (StressedNets §4.3): sampling, features, 1-NN per class, PCA, t-SNE, plot."""

import numpy as np
import pytest
import torch

from evosynth.analysis.features import (
    class_balanced_indices,
    last_hidden_features,
    last_hidden_units,
    nearest_neighbour_per_class_accuracy,
    pca_features,
    plot_tsne,
    tsne_embedding,
)
from evosynth.nets.architectures import LeNet5
from evosynth.nets.masks import full_masks


def test_class_balanced_indices_counts_and_determinism():
    labels = np.repeat(np.arange(4), [50, 30, 20, 40])
    picked = class_balanced_indices(labels, 20, seed=3)
    assert np.array_equal(np.bincount(labels[picked]), [20, 20, 20, 20])
    assert len(np.unique(picked)) == 80
    assert np.array_equal(picked, class_balanced_indices(torch.from_numpy(labels), 20, seed=3))
    assert not np.array_equal(picked, class_balanced_indices(labels, 20, seed=4))
    with pytest.raises(ValueError, match="class 2 has 20 samples"):
        class_balanced_indices(labels, 21, seed=0)


def test_one_nearest_neighbour_per_class_known_answer():
    train = np.array([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0]])
    train_labels = np.array([0, 1, 2])
    test = np.array([[1, 0], [6, 0], [9, 1], [0, 9], [1, 1], [0, 8]], dtype=float)
    test_labels = np.array([0, 0, 1, 2, 2, 2])
    # class 0: (6,0) is nearer class 1; class 2: (1,1) is nearer class 0
    accuracy = nearest_neighbour_per_class_accuracy(train, train_labels, test, test_labels)
    assert np.allclose(accuracy, [0.5, 1.0, 2 / 3])
    with_absent = nearest_neighbour_per_class_accuracy(
        np.vstack([train, [[50.0, 50.0]]]), np.array([0, 1, 2, 3]), test, test_labels
    )
    assert np.allclose(with_absent[:3], [0.5, 1.0, 2 / 3]) and np.isnan(with_absent[3])


def test_pca_width_and_fit_on_training_features():
    rng = np.random.default_rng(0)
    train, test = rng.normal(size=(60, 20)) + 5, rng.normal(size=(15, 20))
    train_p, test_p = pca_features(train, test, width=7)
    assert train_p.shape == (60, 7) and test_p.shape == (15, 7)
    assert np.allclose(train_p.mean(0), 0)  # centred on the training features, not the test ones
    assert not np.allclose(test_p.mean(0), 0)
    with pytest.raises(ValueError, match="out of range"):
        pca_features(train, test, width=21)


def test_tsne_small_and_deterministic():
    rng = np.random.default_rng(0)
    feats = np.vstack([rng.normal(c * 5, 1, size=(15, 6)) for c in range(2)])
    first = tsne_embedding(feats, seed=1, perplexity=5)
    assert first.shape == (30, 2) and np.isfinite(first).all()
    assert np.array_equal(first, tsne_embedding(feats, seed=1, perplexity=5))


def test_last_hidden_features_batched_without_grad():
    torch.manual_seed(0)
    model = LeNet5()
    x = torch.rand(25, 1, 28, 28)
    feats = last_hidden_features(model, x, batch_size=10)
    assert feats.shape == (25, 500) and not feats.requires_grad
    assert torch.allclose(feats, model.features(x).detach(), atol=1e-6)


def test_last_hidden_units_is_the_feature_width():
    model = LeNet5()
    masks = full_masks(model)
    masks["fc1"][:488] = False  # 12 neurons left, StressedNet#2's width
    assert int(last_hidden_units(model, masks).sum()) == 12


def test_plot_tsne_writes_a_png(tmp_path):
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(3), 5)
    panels = {"ancestor": (rng.normal(size=(15, 2)), labels), "gen 5": (rng.normal(size=(15, 2)), labels)}
    path = tmp_path / "fig7.png"
    plot_tsne(panels, path)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert [p.name for p in tmp_path.iterdir()] == ["fig7.png"]
