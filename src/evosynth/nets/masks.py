"""Synapse masks in the ancestor's index space, and what they imply.

A *synapse* is one scalar weight of a conv or linear layer; a mask is a bool
tensor of the weight's shape, keyed by the layer's name. A filter (conv) or
neuron (linear) whose incoming synapses are all dead has its bias masked too,
so a dead unit emits exactly 0 (docs/method.md §7.4: biases follow their filter);
the γ and β of the batch norm right after it are zeroed too, so the masked
network computes what the compacted one does (a removed filter takes its
batch norm with it). Which layer feeds which is read from
the network's dependency graph (:mod:`evosynth.nets.coupling`) when the model
records its ``input_shape`` (every architecture of :mod:`evosynth.nets.architectures`
does); otherwise the prunable layers are taken for a chain: layer k's output
units feed layer k+1's input units, ``in_units(k+1) / out_units(k)`` inputs
each (the flatten between the last conv and the first linear layer).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from evosynth.nets.coupling import channel_groups, norm_layers
from evosynth.nets.layers import (  # noqa: F401 (re-exported)
    Masks,
    check_masks,
    full_masks,
    living_synapses,
    prunable_layers,
    total_synapses,
    unit_mask,
)


def apply_masks(model: nn.Module, masks: Masks) -> None:
    """Zero dead synapses, and the biases (and batch-norm γ, β) of units with no living synapse."""
    with torch.no_grad():  # a with block, not a decorator: mutation testing skips decorated functions
        for name, layer in prunable_layers(model):
            layer.weight.mul_(masks[name].to(layer.weight.device))
            if layer.bias is not None:
                layer.bias.mul_(unit_mask(masks[name]).to(layer.bias.device))
        shape = _input_shape(model)
        if shape is None or not any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in model.modules()):
            return
        for name, norm_name in norm_layers(model, shape).items():
            norm = model.get_submodule(norm_name)
            if norm.weight is not None:  # an affine-free norm of a dead unit emits 0 already
                alive = unit_mask(masks[name]).to(norm.weight.device)
                norm.weight.mul_(alive)
                norm.bias.mul_(alive)


def _input_shape(model: nn.Module) -> tuple[int, ...] | None:
    shape = getattr(model, "input_shape", None)
    return tuple(shape) if shape is not None else None


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


def layer_units(
    model: nn.Module, masks: Masks, input_shape: tuple[int, ...] | None = None
) -> list[LayerUnits]:
    """Living units per layer: a unit lives if it has a living synapse in and out.

    Output units of the last layer are the classes and always live; the
    network's inputs (image channels) always live. With an ``input_shape``
    (default: the model's own) liveness follows the dependency graph's
    channel groups: a channel written by several layers (a residual add) is
    silent only when all of them are dead, and unread only when none of its
    readers (convs, flattened linear features, concatenations) uses it.
    """
    shape = input_shape if input_shape is not None else _input_shape(model)
    if shape is not None:
        return _graph_units(model, masks, shape)
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


def _graph_units(model: nn.Module, masks: Masks, input_shape: tuple[int, ...]) -> list[LayerUnits]:
    """:func:`layer_units` on the channel groups of the dependency graph (not only chains)."""
    layers = prunable_layers(model)
    fan_in = {n: masks[n].flatten(2).any(dim=2) if masks[n].dim() == 4 else masks[n] for n, _ in layers}
    outputs = {n: f.any(dim=1) for n, f in fan_in.items()}
    inputs = {n: torch.ones(f.shape[1], dtype=torch.bool, device=f.device) for n, f in fan_in.items()}
    for group in channel_groups(model, input_shape):
        written, read = group.written(masks), group.read(masks)
        for n, m in group.producers.items():
            outputs[n][m.index] &= (written & read)[m.root].to(outputs[n].device)
        for n, m in group.readers.items():
            inputs[n][m.index] = fan_in[n].any(dim=0)[m.index] & written[m.root].to(fan_in[n].device)
    last = layers[-1][0]
    outputs[last] = torch.ones_like(outputs[last])
    kinds = {n: "conv" if isinstance(layer, nn.Conv2d) else "linear" for n, layer in layers}
    return [LayerUnits(n, kinds[n], inputs[n], outputs[n]) for n, _ in layers]


def output_positions(model: nn.Module, input_shape: tuple[int, ...]) -> dict[str, int]:
    """Output positions per layer (H·W of a conv's output map, 1 for a linear layer).

    The probe runs in eval mode (batch-norm statistics stay as they are); modes are restored.
    """
    positions: dict[str, int] = {}
    hooks = [
        layer.register_forward_hook(
            lambda mod, inp, out, name=name: positions.__setitem__(name, out[0, 0].numel())
        )
        for name, layer in prunable_layers(model)
    ]
    modes = [(m, m.training) for m in model.modules()]
    parameter = next(model.parameters())
    try:
        model.eval()
        with torch.no_grad():
            model(torch.zeros(1, *input_shape, dtype=parameter.dtype, device=parameter.device))
    finally:
        for hook in hooks:
            hook.remove()
        for module, training in modes:
            module.training = training
    return positions


def synapse_macs(model: nn.Module, input_shape: tuple[int, ...]) -> dict[str, torch.Tensor]:
    """Multiply-accumulates each synapse performs per input (its layer's output positions)."""
    positions = output_positions(model, input_shape)
    return {name: torch.full(layer.weight.shape, float(positions[name])) for name, layer in prunable_layers(model)}
