"""Sexual evolutionary synthesis: mating two parents (sexual paper §2.2, eq. 3–5).

The offspring's genome combines both parents: at synapse level the mated
strength is M_s = α_s·w_A + β_s·w_B (eq. 5), at cluster level M_c = α_c·W_A +
β_c·W_B (eq. 4) with W the cluster strengths Σ⌊|w|⌋ of each parent. Masks are
in the ancestor's index space, so any two members of a generation align.
A synapse dead in a parent contributes nothing from that parent; a synapse
dead in both (or only alive in a parent whose weight is 0) stays dead.

Residual networks: a channel that a residual add couples is one unit
(docs/method.md §3.5), as in asexual synthesis. Given the coupled ``groups``
(:func:`evosynth.nets.coupling.coupled_channels`), the mated masks are settled
with :func:`evosynth.evolution.synthesis.shared_fate` against the mated
genome, so a coupled channel lives in all its producers or in none and every
living channel is read; the mated cluster genome then treats each coupled
channel as one cluster (:func:`evosynth.evolution.encoding.encode_clusters`
sums the members' mated strengths, which is eq. 4 applied to the group's
strength because eq. 4 is linear). Without coupled groups nothing changes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch

from evosynth.evolution.encoding import cluster_strength, clusters_of, encode
from evosynth.evolution.synthesis import shared_fate
from evosynth.nets.masks import Masks, total_synapses

if TYPE_CHECKING:
    from evosynth.nets.coupling import ChannelGroup


@dataclass(frozen=True)
class MatingWeights:
    alpha_c: float = 0.5
    beta_c: float = 0.5
    alpha_s: float = 0.5
    beta_s: float = 0.5


@dataclass(frozen=True)
class Mated:
    """The mated network: signed weights and masks to inherit, cluster strengths to encode.

    ``parent_synapses`` and ``parent_clusters`` are the parents' living counts,
    averaged with the mating weights: the size of "the parent" that the
    environmental factors refer to (the union of both parents is larger).
    """

    weights: dict[str, torch.Tensor]
    masks: Masks
    cluster_strengths: dict[str, torch.Tensor]
    parent_synapses: float
    parent_clusters: float


def mate(
    weights_a: dict[str, torch.Tensor],
    masks_a: Masks,
    weights_b: dict[str, torch.Tensor],
    masks_b: Masks,
    mating: MatingWeights,
    kind: str,
    truncation: float,
    groups: Sequence[ChannelGroup] = (),
) -> Mated:
    """Combine parents A and B layer by layer (eq. 4 and 5); coupled ``groups`` mate as one unit."""
    weights, masks, strengths = {}, {}, {}
    for name in masks_a:
        wa = weights_a[name].detach() * masks_a[name]
        wb = weights_b[name].detach() * masks_b[name]
        masks[name] = (masks_a[name] & (mating.alpha_s != 0)) | (masks_b[name] & (mating.beta_s != 0))
        weights[name] = (mating.alpha_s * wa + mating.beta_s * wb) * masks[name]
        strengths[name] = mating.alpha_c * cluster_strength(
            wa, masks_a[name], kind, truncation
        ) + mating.beta_c * cluster_strength(wb, masks_b[name], kind, truncation)
    if any(g.coupled for g in groups):
        masks = shared_fate(masks, encode(weights, masks), groups)
        for name, mask in masks.items():
            weights[name] = weights[name] * mask
            strengths[name] = strengths[name] * clusters_of(mask, kind).any(dim=1)
    def mean(count_a: int, count_b: int, alpha: float, beta: float) -> float:
        return (alpha * count_a + beta * count_b) / (alpha + beta) if alpha + beta else 0.0

    def clusters(masks_: Masks) -> int:
        return sum(int(clusters_of(m, kind).any(dim=1).sum()) for m in masks_.values())

    synapses = mean(total_synapses(masks_a), total_synapses(masks_b),
                    mating.alpha_s, mating.beta_s)
    return Mated(weights, masks, strengths, synapses,
                 mean(clusters(masks_a), clusters(masks_b), mating.alpha_c, mating.beta_c))


def choose_parents(accuracies: list[float], how: str, temperature: float, seed: int) -> tuple[int, int]:
    """Two distinct parents from a generation's pool.

    ``random``: a uniformly random pair (the paper). ``fitness``: mate
    selection from the pool (the paper's future work): each parent is drawn
    with probability ∝ exp((accuracy − best) / temperature), without replacement.
    A pool of one (the ancestor, for generation 1) mates with itself.
    """
    if not accuracies:
        raise ValueError("the pool of parents is empty")
    if len(accuracies) == 1:
        return 0, 0
    generator = torch.Generator().manual_seed(seed)
    if how == "random":
        weights = torch.ones(len(accuracies), dtype=torch.float64)
    elif how == "fitness":
        acc = torch.tensor(accuracies, dtype=torch.float64)
        weights = torch.exp((acc - acc.max()) / temperature)
    else:
        raise ValueError(f"unknown parent choice {how!r}; allowed: random, fitness")
    a, b = torch.multinomial(weights, 2, replacement=False, generator=generator).tolist()
    return a, b


def blend_state(
    state_a: dict[str, torch.Tensor], state_b: dict[str, torch.Tensor], weights: MatingWeights
) -> dict[str, torch.Tensor]:
    """Every parameter and buffer of the offspring as α_s·A + β_s·B (sexual paper eq. 5).

    Prunable weights are then replaced by :func:`mate`'s mated weights; this
    blend is what the offspring inherits of the rest (biases, batch-norm γ, β
    and running statistics), which the paper's equation does not name: the
    synapse-level weights α_s, β_s are applied to them too.
    """
    return {k: weights.alpha_s * v + weights.beta_s * state_b[k] for k, v in state_a.items()}
