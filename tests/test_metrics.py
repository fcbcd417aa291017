"""Per-generation metrics against known counts: efficiencies refer to the ancestor (generation 0), the ratio to the parent."""

import math

import pytest
import torch

from evosynth.analysis.metrics import generation_metrics
from evosynth.data.prepared import Split
from evosynth.nets.architectures import LeNet5
from evosynth.nets.masks import apply_masks, full_masks


def _kernels(masks):
    return sum(int(m.flatten(2).any(2).sum()) for m in masks.values() if m.dim() == 4)


@pytest.fixture(scope="module")
def case():
    """A narrow LeNet5 (4-8-128-16): ancestor, parent and child masks nested, child a quarter of the ancestor's synapses."""
    torch.manual_seed(0)
    model = LeNet5(widths=(4, 8, 16))
    g = torch.Generator().manual_seed(0)
    draw = {n: torch.rand(m.shape, generator=g) for n, m in full_masks(model).items()}
    ancestor = {n: u < 0.9 for n, u in draw.items()}
    parent = {n: u < 0.5 for n, u in draw.items()}
    child = {n: u < 0.25 for n, u in draw.items()}
    for masks in (ancestor, parent, child):
        masks["fc2"] = torch.ones_like(masks["fc2"])  # every class keeps its synapses
    parent["conv2"][:1] = False  # a whole filter gone in the parent, two in the child: fewer kernels,
    child["conv2"][:2] = False  # MACs and filters
    apply_masks(model, child)
    x = torch.randn(20, 1, 28, 28, generator=g)
    return model, ancestor, parent, child, Split(x, torch.zeros(20, dtype=torch.long), x, torch.arange(20) % 10)


def _count(masks):
    return sum(int(m.sum()) for m in masks.values())


def test_synaptic_and_cluster_efficiency_are_against_the_ancestor_not_the_parent(case):
    model, ancestor, parent, child, data = case
    a, p, c = _count(ancestor), _count(parent), _count(child)
    assert a > p > c > 0
    metrics = generation_metrics(model, child, data, ancestor, parent)
    assert metrics["synapses"] == c
    assert metrics["synaptic_efficiency"] == pytest.approx(a / c)
    assert metrics["synapse_ratio_vs_parent"] == pytest.approx(c / p)
    assert metrics["cluster_efficiency"] == pytest.approx(_kernels(ancestor) / _kernels(child))
    assert _kernels(ancestor) / _kernels(child) != pytest.approx(_kernels(parent) / _kernels(child))
    full = sum(m.numel() for m in child.values())
    assert metrics["weights_percent"] == pytest.approx(100.0 * c / full)
    assert metrics["synapses_per_layer"] == {n: int(m.sum()) for n, m in child.items()}
    assert metrics["kernels"] == _kernels(child)
    assert metrics["architecture"] == "4-6-96-16" and metrics["filters"] == 10
    assert math.isclose(metrics["accuracy"] + metrics["error_percent"] / 100, 1.0)


def test_a_mated_parent_is_given_as_its_mean_synapse_count(case):
    model, ancestor, _, child, data = case
    metrics = generation_metrics(model, child, data, ancestor, 1234.5)
    assert metrics["synapse_ratio_vs_parent"] == pytest.approx(_count(child) / 1234.5)
    assert metrics["synaptic_efficiency"] == pytest.approx(_count(ancestor) / _count(child))
    assert "synapse_ratio_vs_parent" not in generation_metrics(model, ancestor, data, ancestor, None)
    assert generation_metrics(model, child, data, ancestor, 0.0)["synapse_ratio_vs_parent"] == math.inf


def test_mac_reduction_is_the_compacted_ancestor_over_the_compacted_child(case):
    """MACs of conv1 and conv2 per output position (24², 8²) and of fc1, fc2 (one each), dense after compaction."""
    model, ancestor, _, child, data = case
    metrics = generation_metrics(model, child, data, ancestor, None)
    child_macs = 4 * 1 * 25 * 576 + 6 * 4 * 25 * 64 + 96 * 16 + 16 * 10
    ancestor_macs = 4 * 1 * 25 * 576 + 8 * 4 * 25 * 64 + 128 * 16 + 16 * 10
    assert metrics["macs"] == child_macs
    assert metrics["mac_reduction"] == pytest.approx(ancestor_macs / child_macs)
    assert metrics["parameters"] == (4 * 25 + 4) + (6 * 4 * 25 + 6) + (96 * 16 + 16) + (16 * 10 + 10)


def test_task_scores_come_from_the_compacted_network_and_the_size_is_its_saved_state(case):
    """A task's own ``scores`` replace test accuracy; they see the compacted network, which ends on the CPU."""
    import io

    from evosynth.nets.compaction import compact

    model, ancestor, _, child, data = case
    seen = []

    def scores(network):
        seen.append(network.conv2.out_channels)
        return {"accuracy": 0.25, "ap": 0.5}

    metrics = generation_metrics(model, child, data, ancestor, None, scores)
    assert seen == [6] and metrics["accuracy"] == 0.25 and metrics["ap"] == 0.5 and "error_percent" not in metrics
    buffer = io.BytesIO()
    torch.save(compact(model, child, (1, 28, 28)).model.state_dict(), buffer)
    assert metrics["model_size_mb"] == pytest.approx(buffer.getbuffer().nbytes / 1e6, rel=1e-12)


def test_architecture_string_of_small_chains():
    """Filters per conv, the flattened input of the first linear layer after a conv, hidden neurons; not the output."""
    from torch import nn

    from evosynth.analysis.metrics import architecture_of

    assert architecture_of(nn.Sequential(nn.Conv2d(1, 3, 3), nn.Flatten(), nn.Linear(27, 2))) == "3-27"
    assert architecture_of(nn.Sequential(nn.Linear(8, 6), nn.Unflatten(1, (6, 1, 1)), nn.Conv2d(6, 2, 1))) == "6"
    assert architecture_of(nn.Sequential(nn.Linear(8, 6), nn.ReLU(), nn.Linear(6, 5), nn.Linear(5, 2))) == "6-5"
