"""Stress-induced training (StressedNets §3.2, eq. 6–8).

Between two training epochs (eq. 6 takes epoch t's trained weights Ŵ_t to
Ŵ_{t+1}, the weights epoch t + 1 trains; none follows the last epoch, so the
network saved is the trained one, :func:`evosynth.training.train`) each living
synapse i draws u ~ U(0, 1) and is weakened, w ← β·w, when
q_i = exp(|w_i|/z_i − 1) < u (eq. 6, 8): weak
synapses are stressed more often than strong ones. z is layer-wise (the
largest living |w|), as for the genome. β ∈ (0, 1] is the intra-generational
environmental factor; β = 1 leaves the network unchanged.
"""

from __future__ import annotations

import torch
from torch import nn

from evosynth.evolution.encoding import synapse_probability
from evosynth.nets.masks import Masks, prunable_layers


def stress(model: nn.Module, masks: Masks, beta: float, generator: torch.Generator) -> dict[str, int]:
    """Weaken the stochastically selected synapses in place; return how many per layer.

    The uniform numbers come from ``generator`` only (never the global RNG), drawn layer by layer.
    """
    if not 0 < beta <= 1:
        raise ValueError(f"stress factor beta must lie in (0, 1], got {beta}")
    stressed = {}
    with torch.no_grad():  # a with block, not a decorator: mutation testing skips decorated functions
        for name, layer in prunable_layers(model):
            q = synapse_probability(layer.weight, masks[name])
            u = torch.rand(q.shape, generator=generator)
            weakened = masks[name] & (q < u)
            if beta < 1:
                layer.weight[weakened] *= beta
            stressed[name] = int(weakened.sum())
    return stressed
