"""Synapse masks in the ancestor's index space, and what they imply.

A *synapse* is one scalar weight of a conv or linear layer; a mask is a bool
tensor of the weight's shape, keyed by the layer's name. A filter (conv) or
neuron (linear) whose incoming synapses are all dead has its bias masked too,
so a dead unit emits exactly 0 (DESIGN.md §2: biases follow their filter).
The prunable layers of a network form a chain: layer k's output units feed
layer k+1's input units, ``in_units(k+1) / out_units(k)`` inputs each
(the flatten between the last conv and the first linear layer).
"""

from __future__ import annotations

from dataclasses import dataclass

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


@torch.no_grad()
def apply_masks(model: nn.Module, masks: Masks) -> None:
    """Zero dead synapses, and the biases of units with no living synapse."""
    for name, layer in prunable_layers(model):
        layer.weight.mul_(masks[name])
        if layer.bias is not None:
            layer.bias.mul_(unit_mask(masks[name]))


def living_synapses(masks: Masks) -> dict[str, int]:
    return {name: int(mask.sum()) for name, mask in masks.items()}


def living_kernels(masks: Masks) -> int:
    """Conv kernels W[o, i, :, :] with at least one living synapse (the papers' clusters)."""
    return sum(int(m.flatten(2).any(dim=2).sum()) for m in masks.values() if m.dim() == 4)


@dataclass(frozen=True)
class LayerUnits:
    """Which input and output units of one layer are alive."""

    name: str
    kind: str  # "conv" or "linear"
    inputs: torch.Tensor  # bool, one per input channel / feature
    outputs: torch.Tensor  # bool, one per filter / neuron


def layer_units(model: nn.Module, masks: Masks) -> list[LayerUnits]:
    """Living units per layer: a unit lives if it has a living synapse in and out.

    Output units of the last layer are the classes and always live; the first
    layer's inputs are the image channels and always live.
    """
    layers = prunable_layers(model)
    fan_in = [masks[n].flatten(2).any(dim=2) if masks[n].dim() == 4 else masks[n] for n, _ in layers]
    outs = []
    for k, (name, _) in enumerate(layers):
        alive = fan_in[k].any(dim=1)
        if k + 1 < len(layers):
            nxt = fan_in[k + 1]
            group = nxt.shape[1] // alive.numel()
            alive = alive & nxt.any(dim=0).view(alive.numel(), group).any(dim=1)
        else:
            alive = torch.ones_like(alive)
        outs.append(alive)
    result = []
    for k, (name, layer) in enumerate(layers):
        used = fan_in[k].any(dim=0)
        if k > 0:
            group = used.numel() // outs[k - 1].numel()
            used = used & outs[k - 1].repeat_interleave(group)
        else:
            used = torch.ones_like(used)
        kind = "conv" if isinstance(layer, nn.Conv2d) else "linear"
        result.append(LayerUnits(name, kind, used, outs[k]))
    return result


def output_positions(model: nn.Module, input_shape: tuple[int, ...]) -> dict[str, int]:
    """Output positions per layer (H·W of a conv's output map, 1 for a linear layer)."""
    positions: dict[str, int] = {}
    hooks = [
        layer.register_forward_hook(
            lambda mod, inp, out, name=name: positions.__setitem__(name, out[0, 0].numel())
        )
        for name, layer in prunable_layers(model)
    ]
    try:
        with torch.no_grad():
            model(torch.zeros(1, *input_shape))
    finally:
        for hook in hooks:
            hook.remove()
    return positions


def synapse_macs(model: nn.Module, input_shape: tuple[int, ...]) -> dict[str, torch.Tensor]:
    """Multiply-accumulates each synapse performs per input (its layer's output positions)."""
    positions = output_positions(model, input_shape)
    return {name: torch.full(layer.weight.shape, float(positions[name])) for name, layer in prunable_layers(model)}
