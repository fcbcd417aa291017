"""Genetic encodings: the synaptic probability model, the networks' "DNA"."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

import torch

from evosynth.nets.masks import Masks

if TYPE_CHECKING:
    from evosynth.nets.coupling import ChannelGroup


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


CLUSTER_KINDS = ("kernel", "filter")


def clusters_of(tensor: torch.Tensor, kind: str) -> torch.Tensor:
    """A layer's tensor viewed as (clusters, synapses per cluster).

    Kernel clusters are W[o, i, :, :], filter clusters W[o, :, :, :]; a linear
    layer's clusters are its rows W[o, :] whatever the kind.
    """
    if kind not in CLUSTER_KINDS:
        raise ValueError(f"unknown cluster kind {kind!r}; allowed: {', '.join(CLUSTER_KINDS)}")
    if tensor.dim() == 4 and kind == "kernel":
        return tensor.flatten(2).flatten(0, 1)
    return tensor.flatten(1)


def cluster_strength(weight: torch.Tensor, mask: torch.Tensor, kind: str, truncation: float) -> torch.Tensor:
    """Σ_{i∈c} ⌊|w_i|⌋ per cluster (cluster paper eq. 4; sexual paper eq. 6).

    ⌊·⌋ truncates synapses weaker than ``truncation`` × the layer's largest
    living |w| to 0, so weak synapses do not add up to a strong cluster. (Not
    an integer truncation: every |w| < 1 would become 0.)
    """
    strength = weight.detach().abs().float() * mask
    truncated = torch.where(strength >= truncation * strength.max(), strength, torch.zeros_like(strength))
    return clusters_of(truncated, kind).sum(dim=1)


def cluster_probability(strength: torch.Tensor, alive: torch.Tensor) -> torch.Tensor:
    """P(c) = exp(W_c / Z − 1), Z the layer's largest cluster strength (cluster paper eq. 4).

    A cluster without living synapses has P = 0; living clusters lie in [e⁻¹, 1].
    """
    z = strength[alive].max() if alive.any() else torch.tensor(0.0)
    if z == 0:
        return alive.float() * math.exp(-1.0)
    return torch.exp(strength / z - 1.0) * alive


def encode_clusters(
    weights: dict[str, torch.Tensor],
    masks: Masks,
    kind: str,
    truncation: float,
    strengths: dict[str, torch.Tensor] | None = None,
    groups: Sequence[ChannelGroup] = (),
) -> dict[str, torch.Tensor]:
    """P(c) for every cluster of every layer; ``strengths`` overrides Σ⌊|w|⌋ (mated genomes).

    Filter clusters of coupled channels (the coupled ones among ``groups``,
    :func:`evosynth.nets.coupling.channel_groups`) are one cluster per group
    channel: its strength is the sum of its member filters' strengths, Z the
    group's strongest channel (eq. 4 with the group as the layer), and every
    living member filter gets the group's P(c). Kernel clusters are not
    grouped (a kernel is no channel); :func:`evosynth.evolution.synthesis.shared_fate`
    keeps their channels' fates shared.
    """
    probabilities, strength, alive = {}, {}, {}
    for name, mask in masks.items():
        strength[name] = (
            strengths[name] if strengths is not None else cluster_strength(weights[name], mask, kind, truncation)
        )
        alive[name] = clusters_of(mask, kind).any(dim=1)
        probabilities[name] = cluster_probability(strength[name], alive[name])
    for group in unit_groups(groups, masks, kind):
        combined = torch.zeros(group.size, dtype=torch.float32)
        living = torch.zeros(group.size, dtype=torch.bool)
        for name, members in group.producers.items():
            combined.index_add_(0, members.root, strength[name][members.index].float().cpu())
            living |= group.per_channel(name, alive[name][members.index].cpu())
        shared = cluster_probability(combined, living)
        for name, members in group.producers.items():
            probabilities[name][members.index] = (
                shared[members.root].to(probabilities[name]) * alive[name][members.index]
            )
    return probabilities


def unit_groups(groups: Sequence[ChannelGroup], masks: Masks, kind: str) -> list[ChannelGroup]:
    """The coupled ``groups`` whose producers' clusters are whole units (filters, neurons) under ``kind``."""
    return [
        g
        for g in groups
        if g.coupled and all(clusters_of(masks[n], kind).shape[0] == masks[n].shape[0] for n in g.producers)
    ]
