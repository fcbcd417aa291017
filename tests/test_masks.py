"""Masks in ancestor coordinates: architecture string, kernels, MACs, bias following its unit."""

import torch

from evosynth.analysis.metrics import architecture_of, dense_macs
from evosynth.nets.architectures import LeNet5, build_model
from evosynth.nets.compaction import compact
from evosynth.nets.masks import apply_masks, full_masks, layer_units, living_kernels


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
