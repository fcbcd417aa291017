"""Per-generation metrics (DESIGN.md §3).

Synaptic (architectural) efficiency = synapses of generation 0 / synapses now
(EvoNet Table 1); cluster efficiency = kernels of generation 0 / kernels now
(cluster paper, sexual paper); |W≠0|/|W| % against the ancestor's full size
(StressedNets Table 1).
"""

from __future__ import annotations

from typing import Any

from torch import nn

from evosynth.data import Split
from evosynth.masks import (
    Masks,
    architecture,
    compacted_macs,
    layer_units,
    living_kernels,
    living_synapses,
)
from evosynth.training import accuracy


def _ratio(numerator: float, denominator: float) -> float:
    return numerator / denominator if denominator else float("inf")


def generation_metrics(
    model: nn.Module,
    masks: Masks,
    data: Split,
    ancestor_masks: Masks,
    parent: Masks | float | None,
) -> dict[str, Any]:
    """Accuracy, living synapses and kernels, efficiencies, architecture and MACs.

    ``parent`` is the parent's masks, or its living synapse count (the mean of
    two mated parents), or None for generation 0.
    """
    acc = accuracy(model, data.x_test, data.y_test)
    per_layer = living_synapses(masks)
    synapses = sum(per_layer.values())
    full = sum(m.numel() for m in masks.values())
    ancestor_synapses = sum(living_synapses(ancestor_masks).values())
    kernels = living_kernels(masks)
    units = layer_units(model, masks)
    input_shape = tuple(data.x_test.shape[1:])
    macs = compacted_macs(model, units, input_shape)
    metrics: dict[str, Any] = {
        "accuracy": acc,
        "error_percent": 100.0 * (1.0 - acc),
        "synapses": synapses,
        "synapses_per_layer": per_layer,
        "weights_percent": 100.0 * synapses / full,
        "synaptic_efficiency": _ratio(ancestor_synapses, synapses),
        "kernels": kernels,
        "cluster_efficiency": _ratio(living_kernels(ancestor_masks), kernels),
        "architecture": architecture(units),
        "macs": macs,
        "mac_reduction": _ratio(compacted_macs(model, layer_units(model, ancestor_masks), input_shape), macs),
    }
    if parent is not None:
        parent_synapses = parent if isinstance(parent, float) else sum(living_synapses(parent).values())
        metrics["synapse_ratio_vs_parent"] = _ratio(synapses, parent_synapses)
    return metrics
