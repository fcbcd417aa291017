"""Genetic encodings: the synaptic probability model, the networks' "DNA"."""

from __future__ import annotations

import math

import torch

from evosynth.masks import Masks


def synapse_probability(weight: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """EvoNet eq. 1 for one layer: P(s|w) = exp(|w|/Z − 1), P = 0 for dead synapses.

    Z is the layer's largest |w| among living synapses (layer-wise
    normalisation), so living synapses get P in [e⁻¹, 1]: e⁻¹ at w = 0 and 1
    at the strongest. Strengths are magnitudes, so the sign of w is irrelevant.
    """
    strength = weight.detach().abs().float() * mask
    z = strength.max()
    if z == 0:  # no living synapse (all P = 0), or living ones all at w = 0 (P = e⁻¹)
        return mask.float() * math.exp(-1.0)
    return torch.exp(strength / z - 1.0) * mask


def encode(weights: dict[str, torch.Tensor], masks: Masks) -> dict[str, torch.Tensor]:
    """The genome of a network: P(s|w) for every synapse of every layer."""
    return {name: synapse_probability(weights[name], masks[name]) for name in masks}
