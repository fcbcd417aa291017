"""Layers and masks, the primitives: which layers hold synapses, a mask per layer, living units.

A *synapse* is one scalar weight of a conv or linear layer; a mask is a bool
tensor of the weight's shape, keyed by the layer's name. What a mask implies
for the rest of a network (biases, batch norms, living units across coupled
channels) is :mod:`evosynth.nets.masks`.
"""

from __future__ import annotations

import torch
from torch import nn

Masks = dict[str, torch.Tensor]


def prunable_layers(model: nn.Module) -> list[tuple[str, nn.Conv2d | nn.Linear]]:
    """The conv and linear layers of ``model`` in forward order, by parameter name."""
    return [(name, m) for name, m in model.named_modules() if isinstance(m, (nn.Conv2d, nn.Linear))]


def full_masks(model: nn.Module) -> Masks:
    return {name: torch.ones_like(m.weight, dtype=torch.bool) for name, m in prunable_layers(model)}


def check_masks(model: nn.Module, masks: Masks) -> None:
    """Raise ValueError unless ``masks`` has one bool tensor of the right shape per layer."""
    layers = dict(prunable_layers(model))
    if set(masks) != set(layers):
        raise ValueError(f"masks name layers {sorted(masks)}, the model has {sorted(layers)}")
    for name, layer in layers.items():
        if masks[name].shape != layer.weight.shape or masks[name].dtype != torch.bool:
            raise ValueError(
                f"mask of {name}: {masks[name].dtype} {tuple(masks[name].shape)},"
                f" expected bool {tuple(layer.weight.shape)}"
            )


def unit_mask(weight_mask: torch.Tensor) -> torch.Tensor:
    """Output units (filters / neurons) that keep at least one incoming synapse."""
    return weight_mask.flatten(1).any(dim=1)


def living_synapses(masks: Masks) -> dict[str, int]:
    """Living synapses per layer."""
    return {name: int(mask.sum()) for name, mask in masks.items()}


def total_synapses(masks: Masks) -> int:
    """Living synapses of the whole network (the papers' synapse count)."""
    return sum(int(mask.sum()) for mask in masks.values())
