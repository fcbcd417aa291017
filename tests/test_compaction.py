"""Physical compaction equals the masked network, and maps back to ancestor coordinates."""

import torch
from torch import nn

from evosynth.analysis.metrics import architecture_of
from evosynth.nets.architectures import LeNet5
from evosynth.nets.compaction import compact, compacted_masks, removal_plan
from evosynth.nets.masks import apply_masks, full_masks


def _lenet_with_dead_units(seed=0):
    torch.manual_seed(seed)
    model = LeNet5()
    g = torch.Generator().manual_seed(seed)
    masks = {n: torch.rand(m.shape, generator=g) < 0.5 for n, m in full_masks(model).items()}
    masks["conv1"][[1, 4, 7]] = False  # filters with no incoming synapse
    masks["conv2"][[0, 10, 20, 30]] = False
    masks["fc1"][:, 16 * 5 : 16 * 6] = False  # conv2 filter 5 is read by nobody
    masks["fc1"][100:300] = False  # dead neurons
    masks["fc2"][:] = True
    masks["fc2"][:, 400:450] = False  # fc1 neurons 400..449 are read by nobody
    masks["fc2"][3] = False  # a class loses every synapse: the neuron must stay
    apply_masks(model, masks)
    return model, masks


def test_lenet5_compacted_forward_equals_masked_forward():
    model, masks = _lenet_with_dead_units()
    small = compact(model, masks, (1, 28, 28))
    x = torch.randn(64, 1, 28, 28)
    model.eval(), small.model.eval()
    assert (model(x) - small.model(x)).abs().max() <= 1e-5
    assert small.model.conv1.out_channels == 17 and small.model.conv2.out_channels == 45
    assert small.model.fc1.in_features == 45 * 16 and small.model.fc1.out_features == 500 - 200 - 50
    assert small.model.fc2.out_features == 10  # the classes are never removed
    assert architecture_of(small.model) == "17-45-720-250"


def test_expand_scatters_trained_weights_back_to_ancestor_coordinates():
    model, masks = _lenet_with_dead_units(1)
    small = compact(model, masks, (1, 28, 28))
    with torch.no_grad():
        for p in small.model.parameters():
            p.add_(0.01)
    full = LeNet5()
    small.expand_into(full)
    apply_masks(full, masks)
    x = torch.randn(8, 1, 28, 28)
    apply_masks(small.model, small.masks)
    assert (full(x) - small.model(x)).abs().max() <= 1e-5
    # masks in compacted coordinates are the ancestor masks gathered through the index
    assert int(sum(m.sum() for m in small.masks.values())) <= int(sum(m.sum() for m in masks.values()))


def test_a_layer_never_vanishes():
    model, masks = _lenet_with_dead_units()
    masks["conv2"][:] = False  # every conv2 filter dead
    apply_masks(model, masks)
    small = compact(model, masks, (1, 28, 28))
    # conv2 keeps its strongest filter; conv1, now read by nobody, keeps its strongest too
    assert small.model.conv2.out_channels == 1 and small.model.conv1.out_channels == 1
    assert small.kept_strongest == ["conv2", "conv1"]


class TinyResidual(nn.Module):
    """stem → (conv_a → relu → conv_b) + skip → head on 8 x 8 inputs: conv_b and stem channels are coupled.

    One residual channel, one conv_a channel and one output make the smallest network with a coupled channel.
    """

    def __init__(self, channels: int = 8, inner: int = 6, outputs: int = 5):
        super().__init__()
        self.stem = nn.Conv2d(1, channels, 3, padding=1)
        self.conv_a = nn.Conv2d(channels, inner, 3, padding=1)
        self.conv_b = nn.Conv2d(inner, channels, 3, padding=1)
        self.head = nn.Linear(channels * 8 * 8, outputs)

    def forward(self, x):
        x = torch.relu(self.stem(x))
        x = x + self.conv_b(torch.relu(self.conv_a(x)))
        return self.head(torch.relu(x).flatten(1))


def test_residual_channels_are_decided_as_one_group():
    torch.manual_seed(0)
    model = TinyResidual()
    masks = full_masks(model)
    masks["conv_a"][[2, 3]] = False  # private channels: removed
    masks["stem"][[1, 4]] = False  # stem channel 1 dead, but conv_b still writes channel 1: kept
    masks["conv_b"][[4, 5]] = False  # channel 4 dead in both producers: removed
    apply_masks(model, masks)
    small = compact(model, masks, (1, 8, 8))
    assert small.model.conv_a.out_channels == 4
    assert small.model.stem.out_channels == small.model.conv_b.out_channels == 7
    x = torch.randn(16, 1, 8, 8)
    assert (model(x) - small.model(x)).abs().max() <= 1e-5


def test_a_group_that_would_lose_every_channel_keeps_its_strongest_filter():
    """No fc1 synapse is left, so every conv2 channel is unread: conv2 keeps the filter with the largest
    Σ|w| over its living synapses (filter 6), not the first, the weakest, nor one with a stale dead weight."""
    torch.manual_seed(0)
    model = LeNet5(widths=(4, 8, 16))
    masks = full_masks(model)
    with torch.no_grad():
        model.conv2.weight.mul_(torch.linspace(0.2, 1.0, 8).flip(0).view(8, 1, 1, 1))  # filter 0 strongest ...
        model.conv2.weight[6] = model.conv2.weight[0].abs() * 1.5  # ... but filter 6 stronger still
        model.conv2.weight[0, 0, 0, 0] = 100.0  # a stale weight: dead below, so not counted
    masks["conv2"][0, 0, 0, 0] = False
    masks["conv2"][3] = False  # silent filter: Σ|w| = 0
    masks["fc1"][:] = False
    plans, kept = removal_plan(model, masks, (1, 28, 28))
    dead = dict(plans)["conv2"]
    assert dead.tolist() == [True] * 6 + [False, True]
    assert "conv2" in kept
    small = compact(model, masks, (1, 28, 28))
    assert small.model.conv2.out_channels == 1
    assert torch.equal(small.model.conv2.weight[0], model.conv2.weight[6])


def test_compacted_masks_are_the_ancestor_masks_of_the_compacted_network_worked_by_hand():
    """Removed units lose their synapses and their readers' synapses; what survives keeps exactly its mask."""
    model, masks = _lenet_with_dead_units()
    before = {n: m.clone() for n, m in masks.items()}
    cheap = compacted_masks(model, masks, (1, 28, 28))
    real = compact(model, masks, (1, 28, 28)).ancestor_masks(masks)
    by_hand = {n: m.clone() for n, m in masks.items()}
    by_hand["conv2"][:, [1, 4, 7]] = False  # inputs from the dead conv1 filters
    by_hand["conv2"][5] = False  # filter 5 is read by nobody
    for filt in (0, 10, 20, 30, 5):  # fc1 inputs from removed conv2 filters
        by_hand["fc1"][:, 16 * filt : 16 * (filt + 1)] = False
    by_hand["fc1"][400:450] = False  # fc1 neurons read by nobody
    by_hand["fc2"][:, 100:300] = False  # inputs from dead fc1 neurons
    for name in masks:
        assert torch.equal(cheap[name], by_hand[name]), name
        assert torch.equal(real[name], by_hand[name]), name
        assert real[name].dtype == masks[name].dtype and real[name].shape == masks[name].shape
    assert all(torch.equal(masks[n], before[n]) for n in masks)  # the input masks are not modified
