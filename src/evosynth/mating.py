"""Sexual evolutionary synthesis: mating two parents (sexual paper §2.2, eq. 3–5).

The offspring's genome combines both parents: at synapse level the mated
strength is M_s = α_s·w_A + β_s·w_B (eq. 5), at cluster level M_c = α_c·W_A +
β_c·W_B (eq. 4) with W the cluster strengths Σ⌊|w|⌋ of each parent. Masks are
in the ancestor's index space, so any two members of a generation align.
A synapse dead in a parent contributes nothing from that parent; a synapse
dead in both (or only alive in a parent whose weight is 0) stays dead.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from evosynth.encoding import cluster_strength
from evosynth.masks import Masks


@dataclass(frozen=True)
class MatingWeights:
    alpha_c: float = 0.5
    beta_c: float = 0.5
    alpha_s: float = 0.5
    beta_s: float = 0.5


@dataclass(frozen=True)
class Mated:
    """The mated network: signed weights and masks to inherit, cluster strengths to encode."""

    weights: dict[str, torch.Tensor]
    masks: Masks
    cluster_strengths: dict[str, torch.Tensor]


def mate(
    weights_a: dict[str, torch.Tensor],
    masks_a: Masks,
    weights_b: dict[str, torch.Tensor],
    masks_b: Masks,
    mating: MatingWeights,
    kind: str,
    truncation: float,
) -> Mated:
    """Combine parents A and B layer by layer (eq. 4 and 5)."""
    weights, masks, strengths = {}, {}, {}
    for name in masks_a:
        wa = weights_a[name].detach() * masks_a[name]
        wb = weights_b[name].detach() * masks_b[name]
        masks[name] = (masks_a[name] & (mating.alpha_s != 0)) | (masks_b[name] & (mating.beta_s != 0))
        weights[name] = (mating.alpha_s * wa + mating.beta_s * wb) * masks[name]
        strengths[name] = mating.alpha_c * cluster_strength(
            wa, masks_a[name], kind, truncation
        ) + mating.beta_c * cluster_strength(wb, masks_b[name], kind, truncation)
    return Mated(weights, masks, strengths)


def choose_parents(accuracies: list[float], how: str, temperature: float, seed: int) -> tuple[int, int]:
    """Two distinct parents from a generation's pool.

    ``random``: a uniformly random pair (the paper). ``fitness``: mate
    selection from the pool (the paper's future work): each parent is drawn
    with probability ∝ exp((accuracy − best) / temperature), without replacement.
    """
    if len(accuracies) < 2:
        raise ValueError(f"sexual synthesis needs at least 2 parents, the pool has {len(accuracies)}")
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
