"""Physical compaction: remove dead filters and neurons for real (docs/method.md §7.2).

Masks stay in the ancestor's index space; compaction is a mapping. Torch-
Pruning's dependency graph finds the coupled channels (a conv's filters, the
BN after it, the next layer's input channels, residual adds, concats); each
group is decided once. A channel of a group is removed when every layer that
produces it has no living synapse into it (its output is exactly 0, biases
follow their unit), or when no layer that reads it keeps a living synapse from
it (its output is unused). The output layer's neurons (the classes) are never
removed, and a layer never vanishes: if all its units are dead, its strongest
filter is kept and reported.

The map back is exact: every parameter and buffer of the compacted network
knows the flat ancestor index of each of its elements (found by compacting a
copy whose entries are their own indices), so weights trained on the small
network are scattered back into ancestor coordinates.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import torch
from torch import nn

from evosynth.nets.coupling import channel_groups, dependency_graph
from evosynth.nets.masks import Masks, prunable_layers


@dataclass
class Compacted:
    """A compacted network, its masks, and the way back to ancestor coordinates."""

    model: nn.Module
    masks: Masks  # in the compacted network's coordinates
    index: dict[str, torch.Tensor]  # state_dict key -> flat ancestor index of each element
    kept_strongest: list[str]  # layers whose units were all dead: one filter kept

    def ancestor_masks(self, like: Masks) -> Masks:
        """The masks in ancestor coordinates: synapses of removed units are dead."""
        masks = {}
        for name, small in self.masks.items():
            full = torch.zeros_like(like[name])
            full.view(-1)[self.index[f"{name}.weight"]] = small.reshape(-1)
            masks[name] = full
        return masks

    def expand_into(self, full: nn.Module) -> None:
        """Write the compacted network's parameters and buffers back into ``full`` (in place)."""
        state = full.state_dict()
        with torch.no_grad():
            for key, value in self.model.state_dict().items():
                if value.dtype.is_floating_point:
                    state[key].view(-1)[self.index[key]] = value.reshape(-1).to(state[key].dtype)


def removal_plan(
    model: nn.Module, masks: Masks, input_shape: tuple[int, ...]
) -> tuple[list[tuple[str, torch.Tensor]], list[str]]:
    """Per channel group (by root layer): the channels compaction removes; the groups kept at their strongest.

    A channel is removed when silent (no producer writes it) or unread; the
    output layer's neurons never; a group that would lose every channel keeps
    its strongest filter (Σ|w| of living synapses over its producers).
    """
    output_layer = prunable_layers(model)[-1][0]
    plans: list[tuple[str, torch.Tensor]] = []
    kept_strongest = []
    for group in channel_groups(model, input_shape):
        if output_layer in group.producers:  # the classes
            continue
        dead = ~(group.written(masks) & group.read(masks))  # silent or unread
        if dead.all():
            strength = torch.zeros(group.size, dtype=torch.float64)
            for name, members in group.producers.items():
                weight = model.get_submodule(name).weight.detach()
                filters = (weight.abs() * masks[name].to(weight.device)).flatten(1).sum(1)
                strength.index_add_(0, members.root, filters[members.index].double().cpu())
            dead[int(strength.argmax())] = False
            kept_strongest.append(group.root)
        if dead.any():
            plans.append((group.root, dead))
    return plans, kept_strongest


def compacted_masks(model: nn.Module, masks: Masks, input_shape: tuple[int, ...]) -> Masks:
    """``compact(model, masks, input_shape).ancestor_masks(masks)`` without building the networks.

    The removed channels' producer filters and reader inputs are dead; the
    channel groups come from the cached dependency-graph analysis, so this is
    cheap enough to call once per calibration draw (:mod:`evosynth.evolution.calibration`).
    """
    groups = {g.root: g for g in channel_groups(model, input_shape)}
    result = {n: m.clone() for n, m in masks.items()}
    for root, dead in removal_plan(model, masks, input_shape)[0]:
        group = groups[root]
        for name, members in group.producers.items():
            result[name][members.index[dead[members.root]].to(result[name].device)] = False
        for name, members in group.readers.items():
            result[name][:, members.index[dead[members.root]].to(result[name].device)] = False
    return result


def compact(model: nn.Module, masks: Masks, input_shape: tuple[int, ...]) -> Compacted:
    """The smallest dense network computing what the masked ``model`` computes."""
    small = copy.deepcopy(model)
    index_model = copy.deepcopy(model).double()
    with torch.no_grad():
        for tensor in list(index_model.parameters()) + list(index_model.buffers()):
            if tensor.dtype.is_floating_point:
                tensor.copy_(torch.arange(tensor.numel(), dtype=torch.float64).view_as(tensor))
    plans, kept_strongest = removal_plan(model, masks, input_shape)
    for target in (small, index_model):
        graph = dependency_graph(target, input_shape)
        for name, dead in ((root, d.nonzero().flatten().tolist()) for root, d in plans):
            module = target.get_submodule(name)
            handler = graph.get_pruner_of_module(module).prune_out_channels
            group = graph.get_pruning_group(module, handler, idxs=dead)
            group.prune()
    index = {
        key: value.reshape(-1).round().long().cpu()
        for key, value in index_model.state_dict().items()
        if value.dtype.is_floating_point
    }
    small_masks = {
        name: masks[name].reshape(-1)[index[f"{name}.weight"]].view_as(layer.weight)
        for name, layer in prunable_layers(small)
    }
    return Compacted(small, small_masks, index, kept_strongest)
