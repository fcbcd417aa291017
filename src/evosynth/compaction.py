"""Physical compaction: remove dead filters and neurons for real (DESIGN.md §2).

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

from evosynth.masks import Masks, prunable_layers, unit_mask


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


def _import_tp():
    import torch_pruning as tp  # a heavy import, needed only here

    return tp


def _removable(group, masks: Masks, names: dict[nn.Module, str], graph) -> tuple[list[int], list[str]]:
    """Root indices of ``group`` to remove, and the producing layers (conv/linear) of the group."""
    n = len(group[0].idxs)
    producers, readers = [], []
    for dep, idxs in group:
        module = dep.target.module
        if module not in names:
            continue
        mask = masks[names[module]]
        if graph.is_out_channel_pruning_fn(dep.handler):
            producers.append((names[module], unit_mask(mask)[list(idxs)]))
        elif len(idxs) % n == 0:
            used = mask.transpose(0, 1).flatten(1).any(dim=1)[list(idxs)]
            readers.append(used.view(n, -1).any(dim=1))
    if not producers:
        return [], []
    silent = torch.stack([alive for _, alive in producers]).any(dim=0).logical_not()
    unread = torch.stack(readers).any(dim=0).logical_not() if readers else torch.zeros(n, dtype=torch.bool)
    dead = silent | unread
    return [i for i in range(n) if dead[i]], [name for name, _ in producers]


def compact(model: nn.Module, masks: Masks, input_shape: tuple[int, ...]) -> Compacted:
    """The smallest dense network computing what the masked ``model`` computes."""
    tp = _import_tp()
    example = torch.zeros(1, *input_shape)
    small = copy.deepcopy(model)
    index_model = copy.deepcopy(model).double()
    with torch.no_grad():
        for tensor in list(index_model.parameters()) + list(index_model.buffers()):
            if tensor.dtype.is_floating_point:
                tensor.copy_(torch.arange(tensor.numel(), dtype=torch.float64).view_as(tensor))
    output_layer = prunable_layers(model)[-1][1]
    plans: list[tuple[nn.Module, list[int]]] = []
    kept_strongest = []
    graph = tp.DependencyGraph().build_dependency(model, example_inputs=example)
    names = {m: n for n, m in prunable_layers(model)}
    for group in graph.get_all_groups(ignored_layers=[output_layer]):
        dead, producers = _removable(group, masks, names, graph)
        root = group[0].dep.target.module
        if len(dead) == len(group[0].idxs) and producers:
            strength = sum(
                (model.get_submodule(p).weight.detach().abs() * masks[p]).flatten(1).sum(1) for p in producers
            )
            dead.remove(int(strength.argmax()))
            kept_strongest.append(names.get(root, str(root)))
        if dead:
            plans.append((names[root], dead))
    for target in (small, index_model):
        graph = tp.DependencyGraph().build_dependency(target, example_inputs=example.to(next(target.parameters()).dtype))
        for name, dead in plans:
            module = target.get_submodule(name)
            handler = graph.get_pruner_of_module(module).prune_out_channels
            group = graph.get_pruning_group(module, handler, idxs=dead)
            group.prune()
    index = {k: v.reshape(-1).round().long() for k, v in index_model.state_dict().items() if v.dtype.is_floating_point}
    small_masks = {
        name: masks[name].reshape(-1)[index[f"{name}.weight"]].view_as(layer.weight)
        for name, layer in prunable_layers(small)
    }
    return Compacted(small, small_masks, index, kept_strongest)
