"""Masks in ancestor coordinates: architecture string, kernels, MACs, bias following its unit."""

import pytest
import torch
from torch import nn

from evosynth.analysis.metrics import architecture_of, dense_macs
from evosynth.nets.architectures import LeNet5, build_model
from evosynth.nets.compaction import compact
from evosynth.nets.masks import (
    apply_masks,
    full_masks,
    layer_units,
    living_kernels,
    output_positions,
    synapse_macs,
)


def architecture(model, masks):
    """The architecture string two ways: chain liveness of the masks, and the compacted network."""
    conv1, conv2, fc1, _ = layer_units(model, masks)
    alive = [conv1.outputs, conv2.outputs, fc1.inputs, fc1.outputs]
    from_masks = "-".join(str(int(units.sum())) for units in alive)
    compacted = architecture_of(compact(model, masks, (1, 28, 28)).model)
    assert from_masks == compacted
    return compacted


def test_lenet5_is_20_50_800_500():
    model = LeNet5()
    masks = full_masks(model)
    assert architecture(model, masks) == "20-50-800-500"
    assert sum(m.numel() for m in masks.values()) == 430_500
    assert living_kernels(masks) == 20 * 1 + 50 * 20
    # conv1 20·1·25·24² + conv2 50·20·25·8² + fc1 800·500 + fc2 500·10
    assert dense_macs(model, (1, 28, 28)) == 2_293_000


def test_dead_filter_removes_its_features_downstream():
    model = LeNet5()
    masks = full_masks(model)
    masks["conv2"][3] = False  # filter 3 of conv2 loses every incoming synapse
    masks["conv1"][:5] = False  # five conv1 filters die
    masks["fc1"][:100] = False  # a hundred fc1 neurons die
    units = layer_units(model, masks)
    assert architecture(model, masks) == "15-49-784-400"
    assert int(units[1].inputs.sum()) == 15  # conv2 reads only the living conv1 channels


def test_unit_without_outgoing_synapse_is_dead():
    model = LeNet5()
    masks = full_masks(model)
    masks["fc2"][:, 7] = False  # fc1 neuron 7 feeds nothing
    masks["fc1"][:, :16] = False  # conv2 filter 0 feeds nothing
    assert architecture(model, masks) == "20-49-784-499"


def test_output_classes_never_counted_dead():
    model = LeNet5()
    masks = full_masks(model)
    masks["fc2"][2] = False  # class 2 loses its synapses; the neuron stays
    units = layer_units(model, masks)
    assert bool(units[-1].outputs.all())


def test_apply_masks_zeroes_weights_and_dead_units_bias():
    model = build_model("lenet5", (1, 28, 28), 10)
    masks = full_masks(model)
    masks["conv1"][0] = False
    masks["fc1"][5, :10] = False
    apply_masks(model, masks)
    assert (model.conv1.weight[0] == 0).all() and model.conv1.bias[0] == 0
    assert model.conv1.bias[1] != 0
    assert (model.fc1.weight[5, :10] == 0).all() and model.fc1.bias[5] != 0
    out = model.conv1(torch.randn(1, 1, 28, 28))
    assert (out[0, 0] == 0).all()  # a dead filter emits exactly 0


def test_chain_units_name_their_layers_and_keep_every_image_channel():
    """A network that records no input shape is read as a chain; the image's channels always live."""
    model = LeNet5(in_channels=3, image_size=32)
    masks = full_masks(model)
    masks["conv1"][:, 1] = False  # no filter reads the green channel: it is still the network's input
    units = layer_units(model, masks)
    assert [(u.name, u.kind) for u in units] == [("conv1", "conv"), ("conv2", "conv"), ("fc1", "linear"),
                                                 ("fc2", "linear")]
    assert units[0].inputs.tolist() == [True, True, True]


class NormedResidual(nn.Module):
    """stem+bn → (conv_a+bn → relu → conv_b+bn) + skip → head, on 2×4×5 inputs.

    ``stem`` and ``conv_b`` write the same four channels (a residual add); the
    head reads channel c as the flattened features 20c … 20c + 19.
    """

    def __init__(self, record_shape: bool = True):
        super().__init__()
        self.stem, self.bn_stem = nn.Conv2d(2, 4, 3, padding=1), nn.BatchNorm2d(4)
        self.conv_a, self.bn_a = nn.Conv2d(4, 3, 3, padding=1), nn.BatchNorm2d(3)
        self.conv_b, self.bn_b = nn.Conv2d(3, 4, 3, padding=1), nn.BatchNorm2d(4)
        self.head = nn.Linear(4 * 4 * 5, 3)
        if record_shape:
            self.input_shape = (2, 4, 5)

    def forward(self, x):
        x = torch.relu(self.bn_stem(self.stem(x)))
        x = x + self.bn_b(self.conv_b(torch.relu(self.bn_a(self.conv_a(x)))))
        return self.head(torch.relu(x).flatten(1))


def _normed_residual(seed: int, record_shape: bool = True) -> NormedResidual:
    """The network with trained-looking norms (a dead filter's norm left alone would emit β − γμ/σ ≠ 0)."""
    torch.manual_seed(seed)
    model = NormedResidual(record_shape)
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for norm in (model.bn_stem, model.bn_a, model.bn_b):
            norm.weight.copy_(torch.rand(norm.weight.shape, generator=g) + 0.5)
            norm.bias.copy_(torch.randn(norm.bias.shape, generator=g) * 0.3 + 0.2)
            norm.running_mean.copy_(torch.randn(norm.running_mean.shape, generator=g) * 0.2)
            norm.running_var.copy_(torch.rand(norm.running_var.shape, generator=g) + 0.5)
    return model


def _residual_masks(model: nn.Module):
    masks = full_masks(model)
    masks["stem"][1] = False  # stem filter 1 dies; conv_b still writes channel 1
    masks["stem"][2] = False
    masks["conv_b"][2] = False  # channel 2 dead in both producers
    masks["conv_a"][:, 3] = False
    masks["head"][:, 60:80] = False  # channel 3 is written but read by nobody
    masks["conv_a"][0] = False  # a private channel dies
    masks["head"][2] = False  # class 2 loses its synapses; the class stays
    return masks


@pytest.mark.parametrize("recorded", [True, False])
def test_residual_liveness_follows_the_dependency_graph(recorded):
    """A coupled channel lives while one producer writes it and one reader reads it (worked by hand)."""
    model = _normed_residual(0, record_shape=recorded)
    units = layer_units(model, _residual_masks(model), None if recorded else (2, 4, 5))
    got = {u.name: (u.kind, u.inputs.tolist(), u.outputs.tolist()) for u in units}
    assert list(got) == ["stem", "conv_a", "conv_b", "head"]
    assert got["stem"] == ("conv", [True, True], [True, False, False, False])
    assert got["conv_a"] == ("conv", [True, True, False, False], [False, True, True])
    assert got["conv_b"] == ("conv", [False, True, True], [True, True, False, False])
    assert got["head"] == ("linear", [True] * 40 + [False] * 40, [True, True, True])
    assert all(u.inputs.dtype == torch.bool and u.outputs.dtype == torch.bool for u in units)


def test_dead_units_take_their_batch_norm_along_and_the_masked_network_computes_the_compacted_one():
    model = _normed_residual(1)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    masks = _residual_masks(model)
    apply_masks(model, masks)
    dead = {"bn_stem": [1, 2], "bn_a": [0], "bn_b": [2]}
    for name, units in dead.items():
        norm = model.get_submodule(name)
        for key in ("weight", "bias"):
            alive = [i for i in range(norm.num_features) if i not in units]
            assert (getattr(norm, key)[units] == 0).all()
            assert torch.equal(getattr(norm, key)[alive], before[f"{name}.{key}"][alive])
    small = compact(model, masks, (2, 4, 5))
    assert (small.model.stem.out_channels, small.model.conv_a.out_channels) == (2, 2)
    x = torch.randn(6, 2, 4, 5, generator=torch.Generator().manual_seed(5))
    model.eval(), small.model.eval()
    with torch.no_grad():
        assert (model(x) - small.model(x)).abs().max() <= 1e-5


def test_a_network_without_a_recorded_shape_is_masked_without_its_graph():
    """No input shape, no dependency graph: synapses and biases are masked, batch norms stay as they are."""
    model = _normed_residual(2, record_shape=False)
    norms = {k: v.clone() for k, v in model.state_dict().items() if k.startswith("bn")}
    masks = _residual_masks(model)
    apply_masks(model, masks)
    assert (model.stem.weight[[1, 2]] == 0).all() and (model.stem.bias[[1, 2]] == 0).all()
    assert (model.stem.bias[[0, 3]] != 0).all()
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in norms.items())


def test_output_positions_and_synapse_costs_of_single_unit_layers_in_float64():
    """H·W of each conv's output map, 1 per linear layer; the probe leaves the network training."""
    model = build_model("lenet5", (3, 32, 32), 1, widths=(1, 2, 3)).double()
    model.train()
    assert output_positions(model, (3, 32, 32)) == {"conv1": 28 * 28, "conv2": 10 * 10, "fc1": 1, "fc2": 1}
    assert all(m.training is True for m in model.modules())
    costs = synapse_macs(model, (3, 32, 32))
    assert {n: tuple(c.shape) for n, c in costs.items()} == {
        "conv1": (1, 3, 5, 5), "conv2": (2, 1, 5, 5), "fc1": (3, 50), "fc2": (1, 3)}
    assert {n: set(c.unique().tolist()) for n, c in costs.items()} == {
        "conv1": {784.0}, "conv2": {100.0}, "fc1": {1.0}, "fc2": {1.0}}
    assert sum(float(c.sum()) for c in costs.values()) == 75 * 784 + 50 * 100 + 150 + 3
