"""Channels that layers share, read from Torch-Pruning's dependency graph.

A *channel group* is what one Torch-Pruning group removes at once: the
output channels of every conv/linear layer that writes into the same
feature map channel (one layer in a chain; the stem, a stage's block outputs
and its projection in a ResNet, whose residual adds sum them), together with
the input features of every layer that reads them (a conv's input channel, a
linear layer's block of flattened features, a concatenation's offset slice,
the four block offsets of YOLOv2's passthrough). Members are aligned by the
group's *root* index: channel r of the group is output ``producers[n].index[k]``
of layer n wherever ``producers[n].root[k] == r``.

Channels written by two or more layers are *coupled*: such a channel is
zero (and removable) only when all its producers are dead, so synthesis
decides its fate once for the whole group (docs/method.md §3.5; cluster paper eq. 4
with the group as one cluster, see :func:`evosynth.evolution.encoding.encode_clusters`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Self

import torch
from torch import nn

from evosynth.nets.layers import Masks, prunable_layers, unit_mask


@dataclass(frozen=True)
class Members:
    """Indices of one layer in a channel group, and the group channel (root) of each."""

    index: torch.Tensor  # long: output channels (producers) or input features (readers)
    root: torch.Tensor  # long: the group channel each index belongs to, same length


@dataclass(frozen=True)
class ChannelGroup:
    """One dependency-graph group: its producers' output channels and readers' input features."""

    root: str  # the layer whose output channel r is group channel r
    size: int
    producers: dict[str, Members]
    readers: dict[str, Members] = field(default_factory=dict)

    @property
    def coupled(self) -> bool:
        """Two or more layers write into the same channels (a residual add)."""
        return len(self.producers) > 1

    def per_channel(self, name: str, values: torch.Tensor, reader: bool = False) -> torch.Tensor:
        """Bool per group channel: any of ``values`` (one per member index of ``name``) is true."""
        members = (self.readers if reader else self.producers)[name]
        counts = torch.zeros(self.size, dtype=torch.long)
        return counts.index_add_(0, members.root, values.long().cpu()) > 0

    def written(self, masks: Masks) -> torch.Tensor:
        """Bool per channel: some producer keeps a living synapse into it (else its output is 0)."""
        units = [self.per_channel(n, unit_mask(masks[n])[m.index]) for n, m in self.producers.items()]
        return torch.stack(units).any(dim=0)

    def read(self, masks: Masks) -> torch.Tensor:
        """Bool per channel: some reader keeps a living synapse from it (all true without readers)."""
        used = [
            self.per_channel(n, masks[n].transpose(0, 1).flatten(1).any(dim=1)[m.index], reader=True)
            for n, m in self.readers.items()
        ]
        return torch.stack(used).any(dim=0) if used else torch.ones(self.size, dtype=torch.bool)


def _import_tp():
    import torch_pruning as tp  # a heavy import, needed only here

    return tp


def dependency_graph(model: nn.Module, input_shape: tuple[int, ...]):
    """Torch-Pruning's DependencyGraph of ``model``, traced on one zero input of ``input_shape``.

    Tracing needs autograd and runs in eval mode (no batch-norm statistics
    change); the modules' train/eval modes are restored afterwards.
    """
    tp = _import_tp()
    parameter = next(model.parameters())
    example = torch.zeros(1, *input_shape, dtype=parameter.dtype, device=parameter.device)
    modes = [(m, m.training) for m in model.modules()]
    try:
        with torch.enable_grad():
            return tp.DependencyGraph().build_dependency(model, example_inputs=example)
    finally:
        for module, training in modes:
            module.training = training


def groups_of_graph(graph, model: nn.Module) -> list[ChannelGroup]:
    """Every group of ``graph`` that some conv/linear layer of ``model`` produces, root-aligned."""
    names = {m: n for n, m in prunable_layers(model)}
    groups = []
    for group in graph.get_all_groups():
        producers: dict[str, list[tuple[int, int]]] = {}
        readers: dict[str, list[tuple[int, int]]] = {}
        for item in group:
            module = item.dep.target.module
            if module not in names or item.root_idxs is None:
                continue
            side = producers if graph.is_out_channel_pruning_fn(item.dep.handler) else readers
            side.setdefault(names[module], []).extend(zip(item.idxs, item.root_idxs))
        root = group[0].dep.target.module
        if not producers or root not in names:
            continue

        def members(pairs: list[tuple[int, int]]) -> Members:
            pairs = sorted(set(pairs))
            return Members(torch.tensor([i for i, _ in pairs]), torch.tensor([r for _, r in pairs]))

        groups.append(
            ChannelGroup(
                names[root],
                len(group[0].idxs),
                {n: members(p) for n, p in producers.items()},
                {n: members(p) for n, p in readers.items()},
            )
        )
    return groups


_CACHE: dict[tuple, tuple[list[ChannelGroup], dict[str, str]]] = {}
_CACHE_SIZE = 64  # compaction meets a new structure per generation: keep the recent ones


def _structure(model: nn.Module, input_shape: tuple[int, ...]) -> tuple:
    shapes = tuple(
        (n, type(m).__name__, tuple(p.shape))
        for n, m in model.named_modules()
        for p in m.parameters(recurse=False)
    )
    return (type(model).__module__, type(model).__qualname__, tuple(input_shape), shapes)


def _analysed(model: nn.Module, input_shape: tuple[int, ...]) -> tuple[list[ChannelGroup], dict[str, str]]:
    """Channel groups and norm layers, cached per architecture and shapes (a graph build takes ~1 s)."""
    key = _structure(model, input_shape)
    if key not in _CACHE:
        graph = dependency_graph(model, input_shape)
        module_names = {m: n for n, m in model.named_modules()}
        norms = {}
        for name, layer in prunable_layers(model):
            for node in graph.module2node[layer].outputs:
                if isinstance(node.module, nn.modules.batchnorm._BatchNorm):
                    norms[name] = module_names[node.module]
        if len(_CACHE) >= _CACHE_SIZE:
            del _CACHE[next(iter(_CACHE))]
        _CACHE[key] = (groups_of_graph(graph, model), norms)
    return _CACHE[key]


def channel_groups(model: nn.Module, input_shape: tuple[int, ...]) -> list[ChannelGroup]:
    """Every channel group of ``model`` (one per set of channels removed together)."""
    return _analysed(model, input_shape)[0]


class CoupledChannels(tuple):
    """The coupled groups of a network (a tuple of :class:`ChannelGroup`), and all its groups.

    ``network`` holds every channel group, coupled or not: settling a
    synthesis to what compaction keeps (:func:`evosynth.evolution.synthesis.shared_fate`)
    needs to know which private channels each layer reads too.
    """

    network: tuple[ChannelGroup, ...]

    def __new__(cls, network: Sequence[ChannelGroup]) -> Self:
        self = super().__new__(cls, (g for g in network if g.coupled))
        self.network = tuple(network)
        return self


def coupled_channels(model: nn.Module, input_shape: tuple[int, ...]) -> CoupledChannels:
    """The channel groups written by more than one layer: residual adds.

    ResNet-56's three residual streams, the saliency network's c9 + c11;
    empty for chains and concatenations (LeNet5, AlexNet, YOLOv2). Pass it
    (or :func:`channel_groups`) as ``groups`` to encoding and synthesis.
    """
    return CoupledChannels(channel_groups(model, input_shape))


def network_groups(groups: Sequence[ChannelGroup]) -> tuple[ChannelGroup, ...]:
    """Every group of the network behind ``groups`` (:class:`CoupledChannels` or all groups)."""
    return tuple(getattr(groups, "network", groups))


def norm_layers(model: nn.Module, input_shape: tuple[int, ...]) -> dict[str, str]:
    """Conv/linear layer name -> the batch norm that normalises its output directly."""
    return _analysed(model, input_shape)[1]
