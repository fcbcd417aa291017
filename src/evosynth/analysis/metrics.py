"""Per-generation metrics (docs/method.md §8).

Synaptic (architectural) efficiency = synapses of generation 0 / synapses now
(EvoNet Table 1); cluster efficiency = kernels of generation 0 / kernels now
(cluster paper, sexual paper); |W≠0|/|W| % against the ancestor's full size
(StressedNets Table 1).

The task's scores come first (:mod:`evosynth.tasks`): accuracy for
classification; KITTI AP per class and difficulty for detection; MAE and Fβ
for saliency, each with its headline under ``accuracy``.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from evosynth.data.prepared import Split
from evosynth.nets.compaction import compact
from evosynth.nets.masks import Masks, living_kernels, living_synapses, output_positions, prunable_layers
from evosynth.tasks.classification import split_scores


def _ratio(numerator: float, denominator: float) -> float:
    return numerator / denominator if denominator else float("inf")


def architecture_of(model: nn.Module) -> str:
    """The papers' architecture string of a compacted network, e.g. ``20-50-800-500`` for LeNet5.

    Filters of each conv layer, the input features of the first linear layer
    after a conv, and the neurons of each hidden linear layer.
    """
    layers = [layer for _, layer in prunable_layers(model)]
    parts = []
    for k, layer in enumerate(layers):
        if isinstance(layer, nn.Linear) and k > 0 and isinstance(layers[k - 1], nn.Conv2d):
            parts.append(layer.in_features)
        if k + 1 < len(layers):
            parts.append(layer.out_channels if isinstance(layer, nn.Conv2d) else layer.out_features)
    return "-".join(map(str, parts))


def dense_macs(model: nn.Module, input_shape: tuple[int, ...]) -> int:
    """Multiply-accumulates of one forward pass of a dense network (conv and linear layers).

    Not Torch-Pruning's ``count_ops_and_params``: that counts bias additions,
    normalisation, pooling and activations too (LeNet5: 2,308,230 against
    2,293,000 here), while the papers' MAC budgets and reductions count the
    weights' multiply-accumulates only. On conv and linear layers without bias
    the two agree exactly (tests/test_share.py checks it).
    """
    positions = output_positions(model, input_shape)
    return sum(layer.weight.numel() * positions[name] for name, layer in prunable_layers(model))


def size_mb(model: nn.Module) -> float:
    """Size of the network's state dict as saved by torch.save, in MB (10⁶ bytes)."""
    buffer = io.BytesIO()
    torch.save(model.state_dict(), buffer)
    return buffer.getbuffer().nbytes / 1e6


def generation_metrics(
    model: nn.Module,
    masks: Masks,
    data: Split,
    ancestor_masks: Masks,
    parent: Masks | float | None,
    scores: Callable[[nn.Module], dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """The task's scores, living synapses and kernels, efficiencies, and the compacted network's
    architecture, MACs, parameters and size.

    ``parent`` is the parent's masks, or its living synapse count (the mean of
    two mated parents), or None for generation 0. ``scores`` maps the compacted
    network to the task's metrics (default: test accuracy and error %, and validation accuracy, of ``data``).
    """
    input_shape = tuple(data.x_test.shape[1:])
    small = compact(model, masks, input_shape)
    if scores is None:
        task_metrics = split_scores(small.model, data)
    else:
        task_metrics = scores(small.model)
        small.model.to("cpu")
    per_layer = living_synapses(masks)
    synapses = sum(per_layer.values())
    full = sum(m.numel() for m in masks.values())
    ancestor_synapses = sum(living_synapses(ancestor_masks).values())
    kernels = living_kernels(masks)
    macs = dense_macs(small.model, input_shape)
    ancestor_macs = dense_macs(compact(model, ancestor_masks, input_shape).model, input_shape)
    metrics: dict[str, Any] = {
        **task_metrics,
        "synapses": synapses,
        "synapses_per_layer": per_layer,
        "weights_percent": 100.0 * synapses / full,
        "synaptic_efficiency": _ratio(ancestor_synapses, synapses),
        "kernels": kernels,
        "cluster_efficiency": _ratio(living_kernels(ancestor_masks), kernels),
        "architecture": architecture_of(small.model),
        "filters": sum(layer.out_channels for _, layer in prunable_layers(small.model) if isinstance(layer, nn.Conv2d)),
        "macs": macs,
        "mac_reduction": _ratio(ancestor_macs, macs),
        "parameters": sum(p.numel() for p in small.model.parameters()),
        "model_size_mb": size_mb(small.model),
    }
    if parent is not None:
        parent_synapses = parent if isinstance(parent, float) else sum(living_synapses(parent).values())
        metrics["synapse_ratio_vs_parent"] = _ratio(synapses, parent_synapses)
    return metrics
